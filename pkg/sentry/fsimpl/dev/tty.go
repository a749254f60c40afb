package dev

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/host"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// /dev/tty's device number (Linux's devices.txt: TTYAUX_MAJOR, minor 0).
const (
	TTYMajor = 5
	TTYMinor = 0
)

// ttyDevice is /dev/tty: opening it opens the caller's controlling
// terminal (tty(4)). The file it returns is the terminal driver's own, so
// reads, writes, ioctls, polling and job control are the terminal's; only
// its path and stat are /dev/tty's, as on Linux, where the file keeps the
// /dev/tty inode while the terminal serves it.
//
// A terminal driver takes part by making the kernel.TTY it hands to its
// TTYControl also a vfs.Device: its Open returns a new file of the
// terminal for the node at vd, with the open checks of a reopen (a hung-up
// terminal fails with EIO, an exclusive one with EBUSY without
// CAP_SYS_ADMIN).
//
// +stateify savable
type ttyDevice struct{}

// Open implements vfs.Device. Without a controlling terminal (no task, a
// process that never had one, gave it up with TIOCNOTTY, or whose
// terminal hung up) it fails with ENXIO, as Linux's tty_open does.
func (ttyDevice) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	t := kernel.TaskFromContext(ctx)
	if t == nil {
		return nil, linux.ENXIO
	}
	tty := t.ThreadGroup().ControllingTTY()
	if tty == nil {
		tty = adoptStdioTerminal(ctx, t)
	}
	if tty == nil {
		return nil, linux.ENXIO
	}
	d, ok := tty.(vfs.Device)
	if !ok {
		return nil, linux.ENXIO
	}
	// Reopening the controlling terminal never makes it one: the caller
	// has it already, and Linux treats /dev/tty as O_NOCTTY.
	opts.Flags |= linux.O_NOCTTY
	return d.Open(ctx, vd, opts)
}

// adoptStdioTerminal returns the host terminal on t's standard
// descriptors if t's session takes it as its controlling terminal now. A
// container's terminal becomes the controlling terminal of its first
// process's session at the first job-control use (see
// kernel.TTYControl.Init); a process whose first use is opening /dev/tty
// (`sh -c 'echo hi > /dev/tty'` as a container's process) must find it
// already there, as runc has made it with TIOCSCTTY before exec.
func adoptStdioTerminal(ctx context.Context, t *kernel.Task) kernel.TTY {
	for fd := int32(0); fd <= 2; fd++ {
		f, err := t.GetFile(fd)
		if err != nil {
			continue
		}
		tty := host.TTY(f)
		f.DecRef(ctx)
		if tty != nil && tty.TTYControl().AdoptForOpen(ctx) {
			return tty
		}
	}
	return nil
}
