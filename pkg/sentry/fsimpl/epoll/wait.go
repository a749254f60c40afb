package epoll

import (
	"context"
	"time"

	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// Event is one reported event: epoll_event's events and data.
type Event struct {
	Events uint32
	Data   uint64

	// it is the interest that produced the event, for PutBack.
	it *interest
}

// ReadEvents takes up to max ready events without waiting. Each queued
// interest is polled in ready-list order: those not ready are dropped from
// the list, one-shot ones are disarmed, edge-triggered ones stay off the
// list until their file notifies again, and level-triggered ones go to
// the back of the list, so that a busy file cannot starve the others.
func (ep *EventPoll) ReadEvents(ctx context.Context, max int) []Event {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.readyMu.Lock()
	scan := ep.ready
	ep.ready = interestList{}
	ep.readyMu.Unlock()

	var evs []Event
	for len(evs) < max {
		// Items of scan stay marked queued, so NotifyEvent leaves them
		// alone until each is unmarked here, just before it is polled:
		// an event after that queues it again.
		ep.readyMu.Lock()
		it := scan.popFront()
		if it != nil {
			it.queued = false
		}
		ep.readyMu.Unlock()
		if it == nil {
			break
		}
		if it.file.ReadRefs() <= 0 {
			ep.removeLocked(it)
			continue
		}
		r := ep.pollLocked(ctx, it)
		if r == 0 {
			continue
		}
		evs = append(evs, Event{Events: uint32(r), Data: it.data, it: it})
		ep.readyMu.Lock()
		switch {
		case it.flags&flagOneShot != 0:
			it.disarmed = true
		case it.flags&flagET == 0 && !it.queued:
			it.queued = true
			ep.ready.pushBack(it)
		}
		ep.readyMu.Unlock()
	}
	// What max left unscanned goes first next time.
	ep.readyMu.Lock()
	ep.ready.prependList(&scan)
	ep.readyMu.Unlock()
	return evs
}

// PutBack returns events that could not be copied to the application
// (the copy faulted), so they are reported again: one-shot interests are
// re-armed and every interest is queued at the front.
func (ep *EventPoll) PutBack(evs []Event) {
	if len(evs) == 0 {
		return
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.readyMu.Lock()
	var l interestList
	for _, ev := range evs {
		it := ev.it
		if ep.interests[it.key] != it {
			continue
		}
		it.disarmed = false
		if it.queued {
			ep.ready.remove(it)
		}
		it.queued = true
		l.pushBack(it)
	}
	ep.ready.prependList(&l)
	ep.readyMu.Unlock()
}

// Wait is epoll_wait: it returns up to max events, waiting for at least
// one until deadline (forever if !finite; not at all if deadline has
// passed). A timeout returns no events and no error; a signal returns
// vfs.ErrInterrupted.
func (ep *EventPoll) Wait(ctx context.Context, max int, deadline time.Time, finite bool) ([]Event, error) {
	if evs := ep.ReadEvents(ctx, max); len(evs) > 0 || (finite && !time.Now().Before(deadline)) {
		return evs, nil
	}
	e, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	ep.queue.EventRegister(e)
	defer ep.queue.EventUnregister(e)
	b := vfs.BlockerFromContext(ctx)
	for {
		// Registered before this scan, so an event after it wakes us.
		if evs := ep.ReadEvents(ctx, max); len(evs) > 0 {
			return evs, nil
		}
		var err error
		if finite {
			err = b.BlockWithDeadline(ch, deadline)
		} else {
			err = b.Block(ch)
		}
		if err == vfs.ErrTimedOut {
			// One last look, as Linux takes when its timer fires.
			return ep.ReadEvents(ctx, max), nil
		}
		if err != nil {
			return nil, err
		}
	}
}
