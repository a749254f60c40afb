package hostinet

import (
	"context"
	"time"

	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/waiter"
)

// sleeper waits for host readiness on behalf of one system call. A call
// retries its host operation after every wake-up; the first wait only
// registers the entry, so an edge that arrives between the failed
// attempt and the sleep is not lost.
type sleeper struct {
	s    *Socket
	ctx  context.Context
	mask waiter.EventMask
	// deadline is when SO_RCVTIMEO/SO_SNDTIMEO runs out, zero without
	// one. It covers the whole call, as Linux's timeo does.
	deadline time.Time
	entry    *waiter.Entry
	ch       <-chan struct{}
}

func (s *Socket) sleeper(ctx context.Context, mask waiter.EventMask, timeout int64) *sleeper {
	w := &sleeper{s: s, ctx: ctx, mask: mask}
	w.deadline = socket.Deadline(time.Duration(timeout))
	return w
}

// wait returns nil when the operation should be retried, EAGAIN when
// the timeout ran out, and the interruption otherwise: ERESTARTSYS
// semantics (vfs.ErrInterrupted) for an untimed wait, EINTR for a timed
// one, which Linux never restarts.
func (w *sleeper) wait() error {
	if w.entry == nil {
		w.entry, w.ch = waiter.NewChannelEntry(w.mask | waiter.EventErr | waiter.EventHUp)
		w.s.queue.EventRegister(w.entry)
		return nil
	}
	return socket.Block(w.ctx, w.ch, w.deadline)
}

// done unregisters the entry, if any.
func (w *sleeper) done() {
	if w.entry != nil {
		w.s.queue.EventUnregister(w.entry)
	}
}
