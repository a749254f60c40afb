package kernel

import (
	"context"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Credentials returns t's credentials.
func (t *Task) Credentials() *auth.Credentials {
	t.credsMu.Lock()
	defer t.credsMu.Unlock()
	return t.creds
}

// SetCredentials installs new credentials (setuid and friends, execve).
func (t *Task) SetCredentials(c *auth.Credentials) {
	t.credsMu.Lock()
	t.creds = c
	t.credsMu.Unlock()
}

// FDTable returns t's file descriptor table.
func (t *Task) FDTable() *vfs.FDTable { return t.fdTable }

// FSContext returns t's root, working directory and umask.
func (t *Task) FSContext() *FSContext { return t.fsContext }

// GetFile returns the open file fd refers to, with a reference the caller
// must drop, or EBADF.
func (t *Task) GetFile(fd int32) (*vfs.FileDescription, error) {
	file, _ := t.fdTable.Get(fd)
	if file == nil {
		return nil, linux.EBADF
	}
	return file, nil
}

// Context returns a context.Context for calls into the VFS and other
// subsystems on t's behalf: it carries t's credentials and makes t the
// Blocker, so a signal interrupts any wait. Only the task goroutine may
// use it.
func (t *Task) Context() context.Context { return taskContext{t} }

// taskContext is t seen as a context.Context. It never expires; tasks
// are interrupted through their Blocker instead.
type taskContext struct{ t *Task }

func (taskContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (taskContext) Done() <-chan struct{}       { return nil }
func (taskContext) Err() error                  { return nil }

func (c taskContext) Value(key any) any {
	switch key {
	case auth.CtxCredentials:
		return c.t.Credentials()
	case vfs.CtxBlocker:
		return vfs.Blocker(c.t)
	case vfs.CtxNOFILELimit:
		return c.t.NOFILELimit()
	}
	return nil
}

// Block implements vfs.Blocker through the task.
func (c taskContext) Block(ch <-chan struct{}) error { return c.t.Block(ch) }

// BlockWithDeadline implements vfs.Blocker through the task.
func (c taskContext) BlockWithDeadline(ch <-chan struct{}, d time.Time) error {
	return c.t.BlockWithDeadline(ch, d)
}

// Task returns the task a context belongs to, for subsystems (like /proc)
// that answer differently per caller.
func (c taskContext) Task() *Task { return c.t }

// TaskFromContext returns the task ctx belongs to, or nil for kernel work
// done on no task's behalf.
func TaskFromContext(ctx context.Context) *Task {
	if c, ok := ctx.(interface{ Task() *Task }); ok {
		return c.Task()
	}
	return nil
}
