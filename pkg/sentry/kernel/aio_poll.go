package kernel

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// aioDefaultPollMask is what Linux's vfs_poll reports for a file that
// cannot be waited on (DEFAULT_POLLMASK).
const aioDefaultPollMask = waiter.ReadableEvents | waiter.WritableEvents

// SubmitPoll starts an IOCB_CMD_POLL request, for which Reserve has taken
// a slot: a one-shot wait until f reports one of events (error and hang-up
// always count). Its event's res is the ready mask, or 0 if it was
// cancelled first. The request takes over the caller's reference on f;
// notify, if not nil, runs after the event is posted (IOCB_FLAG_RESFD).
//
// A request that is not ready at once waits on its own goroutine, since a
// waiter.Queue notification may neither block nor unregister.
func (c *AIOContext) SubmitPoll(t *Task, f *vfs.FileDescription, obj, data uint64, events waiter.EventMask, notify func()) {
	events |= waiter.EventErr | waiter.EventHUp
	ctx := auth.ContextWithCredentials(context.Background(), t.Credentials())
	finish := func(mask waiter.EventMask) {
		c.Complete(AIOEvent{Data: data, Obj: obj, Res: int64(mask)})
		if notify != nil {
			notify()
		}
		f.DecRef(ctx)
	}

	// Linux completes a request woken by a notification with the
	// notification's whole mask (a pipe reports POLLIN|POLLRDNORM to a
	// POLLIN request), so the entry hears everything and keeps the first
	// notification that includes a requested event.
	ch := make(chan waiter.EventMask, 1)
	entry := &waiter.Entry{}
	entry.Init(waiter.FuncListener(func(ready waiter.EventMask) {
		if ready&events == 0 {
			return
		}
		select {
		case ch <- ready:
		default:
		}
	}), waiter.AllEvents)
	if err := f.EventRegister(entry); err != nil {
		mask := f.Readiness(events)
		if mask == 0 {
			mask = aioDefaultPollMask & events
		}
		finish(mask)
		return
	}
	if mask := f.Readiness(events); mask != 0 {
		f.EventUnregister(entry)
		finish(mask)
		return
	}

	cancelled := make(chan struct{})
	var once sync.Once
	cancel := func() { once.Do(func() { close(cancelled) }) }
	if !c.AddCancellable(obj, cancel) {
		cancel()
	}
	go func() {
		var mask waiter.EventMask
	wait:
		for {
			select {
			case mask = <-ch:
				c.RemoveCancellable(obj)
				break wait
			case <-cancelled:
				// Linux completes a cancelled poll with no events.
				mask = 0
				break wait
			}
		}
		f.EventUnregister(entry)
		finish(mask)
	}()
}
