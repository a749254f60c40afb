package kernel

import (
	"time"

	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// ErrInterrupted is returned by Block when the task must stop waiting to
// handle a signal or exit. Syscall handlers return it (or a restart errno
// derived from it) so the syscall layer can restart or fail with EINTR.
// It is the VFS's sentinel, so file operations and kernel waits agree.
var ErrInterrupted = vfs.ErrInterrupted

// errTimedOut is returned by BlockWithDeadline when the deadline passes.
var errTimedOut = vfs.ErrTimedOut

// ErrTimedOut reports whether err is a BlockWithDeadline timeout.
func ErrTimedOut(err error) bool { return err == errTimedOut }

// Block waits until ch is ready or t is interrupted. Only the task
// goroutine may call it.
func (t *Task) Block(ch <-chan struct{}) error {
	if t.interruptPending() {
		return ErrInterrupted
	}
	select {
	case <-ch:
		// Ready already: not a park, so still system time.
		return nil
	default:
	}
	t.accountPark()
	defer t.accountUnpark()
	select {
	case <-ch:
		return nil
	case <-t.interruptCh:
		return ErrInterrupted
	}
}

// BlockWithDeadline is Block with a deadline; it returns a timeout error
// (see ErrTimedOut) when the deadline passes first.
func (t *Task) BlockWithDeadline(ch <-chan struct{}, deadline time.Time) error {
	if t.interruptPending() {
		return ErrInterrupted
	}
	select {
	case <-ch:
		return nil
	default:
	}
	t.accountPark()
	defer t.accountUnpark()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-ch:
		return nil
	case <-t.interruptCh:
		return ErrInterrupted
	case <-timer.C:
		return errTimedOut
	}
}

// interruptPending reports whether t has a reason to stop blocking right
// now: a deliverable signal, a kill or a PTRACE_INTERRUPT. It also drains
// a stale wake-up; the reasons are checked after, so that one whose wake-up
// another wait consumed (a ptrace stop's) is not lost.
func (t *Task) interruptPending() bool {
	select {
	case <-t.interruptCh:
	default:
	}
	if t.ptraceInterruptPending() {
		return true
	}
	tg := t.tg
	tg.signalMu.Lock()
	defer tg.signalMu.Unlock()
	return t.killed || (t.pending.set|tg.pending.set)&^t.mask != 0
}

// ptraceInterruptPending reports whether a PTRACE_INTERRUPT waits for t's
// next stop: like a signal, it ends any wait, whose syscall then restarts
// after the stop as it would after a signal without a handler.
func (t *Task) ptraceInterruptPending() bool {
	return t.ptraceFlags.Load()&ptraceInterrupt != 0
}
