package socket

import (
	"context"
	"errors"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Deadline turns a socket timeout (SO_RCVTIMEO, SO_SNDTIMEO; zero: none)
// into the deadline of a call starting now; zero means none.
func Deadline(timeout time.Duration) time.Time {
	if timeout <= 0 {
		return time.Time{}
	}
	return time.Now().Add(timeout)
}

// Block sleeps until ch is ready, the deadline passes (zero: none) or
// the task is interrupted. As Linux's sock_intr_errno does, it fails
// with EAGAIN at the deadline, and an interrupted timed wait is EINTR,
// which is never restarted; an untimed one is vfs.ErrInterrupted, which
// the system call layer restarts or turns into EINTR.
func Block(ctx context.Context, ch <-chan struct{}, deadline time.Time) error {
	b := vfs.BlockerFromContext(ctx)
	if deadline.IsZero() {
		return b.Block(ch)
	}
	err := b.BlockWithDeadline(ch, deadline)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, vfs.ErrTimedOut):
		return linux.EAGAIN
	case errors.Is(err, vfs.ErrInterrupted):
		return linux.EINTR
	}
	return err
}
