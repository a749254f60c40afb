package netstack

import (
	"context"
	"errors"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/waiter"
)

// waitEntry is a blocking call's registration on a waiter queue. The
// caller checks its condition, arms the entry, checks again, and only
// then sleeps, so no notification between the check and the sleep is
// lost.
type waitEntry struct {
	q  *waiter.Queue
	e  *waiter.Entry
	ch <-chan struct{}
}

// armed reports whether the entry is registered.
func (w *waitEntry) armed() bool { return w.e != nil }

// arm registers for mask on q.
func (w *waitEntry) arm(q *waiter.Queue, mask waiter.EventMask) {
	w.e, w.ch = waiter.NewChannelEntry(mask)
	w.q = q
	q.EventRegister(w.e)
}

// done unregisters the entry, if armed.
func (w *waitEntry) done() {
	if w.e != nil {
		w.q.EventUnregister(w.e)
		w.e = nil
	}
}

// errTimeout is a wait that reached its SO_RCVTIMEO/SO_SNDTIMEO
// deadline; callers turn it into EAGAIN (or EINPROGRESS for connect).
var errTimeout = errors.New("netstack: socket timeout")

// block sleeps until a notification, the deadline (zero: none) or an
// interruption: vfs.ErrInterrupted for an untimed wait, EINTR for a timed
// one, which Linux never restarts (see socket.Block).
func (w *waitEntry) block(ctx context.Context, deadline time.Time) error {
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return errTimeout
	}
	err := socket.Block(ctx, w.ch, deadline)
	if err == linux.EAGAIN {
		return errTimeout
	}
	return err
}

var noDeadline time.Time

// waitDatagram is the end of a datagram receive that found its queue
// empty: end of file once the socket is shut for reading (shut), EAGAIN
// without blocking, otherwise arm w on q or block until an event or the
// deadline dl. retry says to look at the queue again; otherwise the
// receive returns err.
func (w *waitEntry) waitDatagram(ctx context.Context, q *waiter.Queue, shut, nonblock bool, dl time.Time) (retry bool, err error) {
	switch {
	case shut:
		return false, nil
	case nonblock:
		return false, linux.EAGAIN
	case !w.armed():
		w.arm(q, waiter.ReadableEvents|waiter.EventErr)
		return true, nil
	}
	if err := w.block(ctx, dl); err != nil {
		if err == errTimeout {
			err = linux.EAGAIN
		}
		return false, err
	}
	return true, nil
}
