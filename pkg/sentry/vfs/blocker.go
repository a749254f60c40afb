package vfs

import (
	"context"
	"errors"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// ErrInterrupted is returned by a blocking operation that a signal (or, in
// tests, a cancelled context) cut short. The system call layer turns it
// into ERESTARTSYS, which becomes EINTR or a restart depending on the
// signal's SA_RESTART.
var ErrInterrupted = errors.New("vfs: blocking operation interrupted")

// ErrTimedOut is returned by BlockWithDeadline when the deadline passes
// first.
var ErrTimedOut error = linux.ETIMEDOUT

// ErrWouldBlock is what an operation that would have to block returns on
// a non-blocking file.
var ErrWouldBlock error = linux.EAGAIN

// Blocker puts the calling task to sleep. The kernel's Task implements it
// so that a pending signal interrupts the wait.
type Blocker interface {
	// Block waits until ch is readable (or closed). It returns nil then,
	// or ErrInterrupted if the task was interrupted first.
	Block(ch <-chan struct{}) error
	// BlockWithDeadline is Block that also gives up with ErrTimedOut at
	// deadline.
	BlockWithDeadline(ch <-chan struct{}, deadline time.Time) error
}

// CtxBlocker is the context.Context key whose value is the Blocker of the
// calling task.
const CtxBlocker contextID = iota

// contextID is the type of this package's context keys.
type contextID int

// BlockerFromContext returns the Blocker ctx carries: ctx itself if it is
// one, else the value under CtxBlocker. Without either, as in tests, it
// returns a Blocker that waits on the channel and treats cancellation of
// ctx as the interrupt.
func BlockerFromContext(ctx context.Context) Blocker {
	if b, ok := ctx.(Blocker); ok {
		return b
	}
	if b, ok := ctx.Value(CtxBlocker).(Blocker); ok && b != nil {
		return b
	}
	return contextBlocker{ctx}
}

// ContextWithBlocker returns a context that carries b.
func ContextWithBlocker(ctx context.Context, b Blocker) context.Context {
	return context.WithValue(ctx, CtxBlocker, b)
}

type contextBlocker struct{ ctx context.Context }

func (b contextBlocker) Block(ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-b.ctx.Done():
		return ErrInterrupted
	}
}

func (b contextBlocker) BlockWithDeadline(ch <-chan struct{}, deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-b.ctx.Done():
		return ErrInterrupted
	case <-t.C:
		return ErrTimedOut
	}
}
