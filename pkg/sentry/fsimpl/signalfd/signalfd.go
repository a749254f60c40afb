// Package signalfd implements signalfd(2) files: reading one dequeues
// pending signals of a set, from the reading thread's queue and its
// process's, as struct signalfd_siginfo records instead of running
// handlers. Blocking the signals, so they stay pending, is the program's
// business.
//
// Linux reports readiness for whichever thread polls. Readiness here has
// no caller, so poll and epoll see the signals pending for the thread that
// created the signalfd and for that thread's process; reads dequeue the
// reader's own.
package signalfd

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"context"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// unwaitable are the signals a signalfd silently drops from its set.
var unwaitable = linux.MakeSignalSet(linux.SIGKILL, linux.SIGSTOP)

// SignalFD is the implementation of a signalfd file.
//
// +stateify savable
type SignalFD struct {
	vfs.FileDescriptionDefaultImpl

	// owner is the task that created the file; its pending signals and
	// its process's decide readiness.
	owner *kernel.Task

	// mask is the signal set, replaced by signalfd(2) on this file.
	mask atomic.Uint64
}

// New returns a signalfd for mask, created by owner. flags may hold
// SFD_NONBLOCK; SFD_CLOEXEC is the caller's.
func New(vfsObj *vfs.VirtualFilesystem, owner *kernel.Task, mask linux.SignalSet, flags uint32) *vfs.FileDescription {
	s := &SignalFD{owner: owner}
	s.SetMask(mask)
	fd := &vfs.FileDescription{}
	fd.Init(s, linux.O_RDWR|flags&linux.SFD_NONBLOCK, vfsObj.NewAnonVirtualDentry("signalfd"), &vfs.FileDescriptionOptions{Stream: true})
	return fd
}

// FromFD returns the signalfd behind fd, or false.
func FromFD(fd *vfs.FileDescription) (*SignalFD, bool) {
	s, ok := fd.Impl().(*SignalFD)
	return s, ok
}

// Mask returns the signal set.
func (s *SignalFD) Mask() linux.SignalSet { return linux.SignalSet(s.mask.Load()) }

// SetMask replaces the signal set. SIGKILL and SIGSTOP are dropped.
func (s *SignalFD) SetMask(mask linux.SignalSet) {
	s.mask.Store(uint64(mask &^ unwaitable))
	// Waiters re-check against the new set.
	s.owner.ThreadGroup().SignalQueue().Notify(waiter.EventIn)
}

// Read implements vfs.FileDescriptionImpl: it waits for a pending signal
// of the set (unless non-blocking), then dequeues as many as fit, one
// 128-byte record each.
func (s *SignalFD) Read(ctx context.Context, dst vfs.IOSequence, _ int64, opts vfs.ReadOptions) (int64, error) {
	max := dst.NumBytes() / linux.SizeofSignalfdSiginfo
	if max == 0 {
		return 0, linux.EINVAL
	}
	t := kernel.TaskFromContext(ctx)
	if t == nil {
		t = s.owner
	}
	info, err := s.dequeueFirst(ctx, t, opts.Nonblocking)
	if err != nil {
		return 0, err
	}
	var done int64
	for info != nil {
		rec := Record(info)
		b := make([]byte, linux.SizeofSignalfdSiginfo)
		rec.MarshalBytes(b)
		// As on Linux, a signal whose record cannot be copied is lost.
		if n, err := dst.CopyOut(ctx, b); n < len(b) {
			if done > 0 {
				return done, nil
			}
			if err == nil {
				err = linux.EFAULT
			}
			return 0, err
		}
		done += int64(len(b))
		dst = dst.DropFirst(int64(len(b)))
		if done/linux.SizeofSignalfdSiginfo >= max {
			break
		}
		info = t.DequeueSignalFromSet(s.Mask())
	}
	return done, nil
}

func (s *SignalFD) dequeueFirst(ctx context.Context, t *kernel.Task, nonblock bool) (*linux.SignalInfo, error) {
	if info := t.DequeueSignalFromSet(s.Mask()); info != nil || nonblock {
		if info == nil {
			return nil, linux.EAGAIN
		}
		return info, nil
	}
	q := t.ThreadGroup().SignalQueue()
	e, ch := waiter.NewChannelEntry(waiter.EventIn)
	q.EventRegister(e)
	defer q.EventUnregister(e)
	b := vfs.BlockerFromContext(ctx)
	for {
		// Registered before this check, so a signal queued after it
		// wakes us.
		if info := t.DequeueSignalFromSet(s.Mask()); info != nil {
			return info, nil
		}
		if err := b.Block(ch); err != nil {
			return nil, err
		}
	}
}

// Readiness implements waiter.Waitable: readable while a signal of the
// set is pending for the owner or its process. It reads the pending sets
// each time, so it is right for polling even without notifications.
func (s *SignalFD) Readiness(mask waiter.EventMask) waiter.EventMask {
	if s.owner.PendingSignals()&s.Mask() != 0 {
		return mask & waiter.ReadableEvents
	}
	return 0
}

// EventRegister implements waiter.Waitable.
func (s *SignalFD) EventRegister(e *waiter.Entry) error {
	s.owner.ThreadGroup().SignalQueue().EventRegister(e)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (s *SignalFD) EventUnregister(e *waiter.Entry) {
	s.owner.ThreadGroup().SignalQueue().EventUnregister(e)
}
