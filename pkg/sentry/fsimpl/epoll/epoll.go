// Package epoll implements epoll(7) instances: the interest list of
// (file, descriptor) pairs, the ready list, level- and edge-triggered and
// one-shot reporting, nesting of epoll files, and the epoll file itself,
// which is pollable. The system call handlers decode arguments and call
// the methods here.
//
// A registration does not keep its file open, as on Linux: it watches the
// file through a weak reference (vfs.FileDescription.TryIncRef) and is
// dropped once the file's last reference is gone. Dropping happens lazily
// (when the dead file is next looked at, or when the interest list has
// grown enough to be worth sweeping), since the VFS has no close hook.
package epoll

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// EventPoll is an epoll instance: the implementation of an epoll file.
//
// Lock order: a parent epoll's mu before its children's (nesting is
// acyclic, enforced by epoll_ctl); mu before the watched files' own locks;
// readyMu is taken under the watched files' queue locks (from NotifyEvent)
// and so nothing that may block or call out is done while it is held;
// nestMu is a leaf.
//
// +stateify savable
type EventPoll struct {
	vfs.FileDescriptionDefaultImpl

	// queue holds who waits on this epoll: epoll_wait callers, poll and
	// select, and epolls that watch this one.
	queue waiter.Queue

	// mu serializes epoll_ctl, scans of the ready list and release. It
	// guards interests, sweepAt, and every interest's mask, flags, data
	// and child.
	mu        sync.Mutex // +state:nosave
	interests map[key]*interest
	// sweepAt is the interest count at which add next drops the
	// registrations of closed files, so that a program that closes
	// watched files without EPOLL_CTL_DEL does not grow the list
	// without bound.
	sweepAt int

	// readyMu guards ready and every interest's queued, disarmed and
	// list links.
	readyMu sync.Mutex // +state:nosave
	ready   interestList

	// children and parents are the epolls this one watches and that
	// watch it, with the number of registrations of each; guarded by
	// nestMu.
	children map[*EventPoll]int
	parents  map[*EventPoll]int
}

// minSweep is the smallest interest list that add sweeps.
const minSweep = 64

// New returns a new epoll file (epoll_create1). The file is O_RDWR; the
// caller decides close-on-exec.
func New(vfsObj *vfs.VirtualFilesystem) *vfs.FileDescription {
	ep := &EventPoll{interests: make(map[key]*interest), sweepAt: minSweep}
	fd := &vfs.FileDescription{}
	fd.Init(ep, linux.O_RDWR, vfsObj.NewAnonVirtualDentry("eventpoll"), &vfs.FileDescriptionOptions{Stream: true})
	return fd
}

// FromFD returns the epoll instance behind fd, or false if fd is not an
// epoll file.
func FromFD(fd *vfs.FileDescription) (*EventPoll, bool) {
	ep, ok := fd.Impl().(*EventPoll)
	return ep, ok
}

// Release implements vfs.FileDescriptionImpl: every registration ends.
func (ep *EventPoll) Release(context.Context) {
	ep.mu.Lock()
	for _, it := range ep.interests {
		ep.removeLocked(it)
	}
	ep.mu.Unlock()
	forgetNesting(ep)
}

// Read implements vfs.FileDescriptionImpl: epoll files cannot be read.
func (ep *EventPoll) Read(context.Context, vfs.IOSequence, int64, vfs.ReadOptions) (int64, error) {
	return 0, linux.EINVAL
}

// Readiness implements waiter.Waitable: an epoll is readable when one of
// its registrations would be reported now.
func (ep *EventPoll) Readiness(mask waiter.EventMask) waiter.EventMask {
	if mask&waiter.ReadableEvents == 0 {
		return 0
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.readyMu.Lock()
	var queued []*interest
	for it := ep.ready.head; it != nil; it = it.next {
		queued = append(queued, it)
	}
	ep.readyMu.Unlock()
	for _, it := range queued {
		if ep.pollLocked(context.Background(), it) != 0 {
			return mask & waiter.ReadableEvents
		}
	}
	return 0
}

// EventRegister implements waiter.Waitable.
func (ep *EventPoll) EventRegister(e *waiter.Entry) error {
	ep.queue.EventRegister(e)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (ep *EventPoll) EventUnregister(e *waiter.Entry) { ep.queue.EventUnregister(e) }

// Len returns the number of registrations, closed files included until
// they are swept, for tests.
func (ep *EventPoll) Len() int {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return len(ep.interests)
}
