// Package eventfd implements eventfd(2) files: a 64-bit counter that
// writes add to and reads take from, usable as a wait/notify primitive
// with poll and epoll.
package eventfd

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"context"
	"encoding/binary"
	"math"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// maxCount is the largest value the counter can hold; a write that would
// pass it waits (or fails with EAGAIN), and writing 2^64-1 is EINVAL.
const maxCount = math.MaxUint64 - 1

// EventFD is the implementation of an eventfd file.
//
// +stateify savable
type EventFD struct {
	vfs.FileDescriptionDefaultImpl

	queue waiter.Queue

	// semaphore is EFD_SEMAPHORE: reads take 1 instead of everything.
	semaphore bool

	// mu guards count.
	mu    sync.Mutex // +state:nosave
	count uint64
}

// New returns an eventfd file with counter initval. flags may hold
// EFD_SEMAPHORE and EFD_NONBLOCK; EFD_CLOEXEC is the caller's.
func New(vfsObj *vfs.VirtualFilesystem, initval uint64, flags uint32) *vfs.FileDescription {
	efd := &EventFD{semaphore: flags&linux.EFD_SEMAPHORE != 0, count: initval}
	fd := &vfs.FileDescription{}
	fd.Init(efd, linux.O_RDWR|flags&linux.EFD_NONBLOCK, vfsObj.NewAnonVirtualDentry("eventfd"), &vfs.FileDescriptionOptions{Stream: true})
	return fd
}

// Read implements vfs.FileDescriptionImpl: it takes the counter (or 1 in
// semaphore mode) once it is non-zero and returns it as 8 bytes.
func (e *EventFD) Read(ctx context.Context, dst vfs.IOSequence, _ int64, opts vfs.ReadOptions) (int64, error) {
	if dst.NumBytes() < 8 {
		return 0, linux.EINVAL
	}
	v, err := e.take(ctx, opts.Nonblocking)
	if err != nil {
		return 0, err
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	// As on Linux, the value is consumed even if the copy faults.
	if n, err := dst.CopyOut(ctx, b[:]); n < 8 {
		if err == nil {
			err = linux.EFAULT
		}
		return 0, err
	}
	return 8, nil
}

func (e *EventFD) take(ctx context.Context, nonblock bool) (uint64, error) {
	for {
		e.mu.Lock()
		if e.count > 0 {
			v := e.count
			if e.semaphore {
				v = 1
			}
			e.count -= v
			e.mu.Unlock()
			e.queue.Notify(waiter.WritableEvents)
			return v, nil
		}
		if nonblock {
			e.mu.Unlock()
			return 0, linux.EAGAIN
		}
		if err := e.waitLocked(ctx, waiter.ReadableEvents); err != nil {
			return 0, err
		}
	}
}

// Write implements vfs.FileDescriptionImpl: it adds the 8-byte value to
// the counter once there is room.
func (e *EventFD) Write(ctx context.Context, src vfs.IOSequence, _ int64, opts vfs.WriteOptions) (int64, int64, error) {
	if src.NumBytes() < 8 {
		return 0, 0, linux.EINVAL
	}
	var b [8]byte
	if n, err := src.CopyIn(ctx, b[:]); n < 8 {
		if err == nil {
			err = linux.EFAULT
		}
		return 0, 0, err
	}
	if err := e.Signal(ctx, binary.LittleEndian.Uint64(b[:]), opts.Nonblocking); err != nil {
		return 0, 0, err
	}
	return 8, 0, nil
}

// Signal adds v to the counter, waiting (unless nonblock) while that
// would pass maxCount. It is write(2) without the copy.
func (e *EventFD) Signal(ctx context.Context, v uint64, nonblock bool) error {
	if v == math.MaxUint64 {
		return linux.EINVAL
	}
	for {
		e.mu.Lock()
		if maxCount-e.count >= v {
			e.count += v
			e.mu.Unlock()
			e.queue.Notify(waiter.ReadableEvents)
			return nil
		}
		if nonblock {
			e.mu.Unlock()
			return linux.EAGAIN
		}
		if err := e.waitLocked(ctx, waiter.WritableEvents); err != nil {
			return err
		}
	}
}

// waitLocked registers for mask, drops e.mu and sleeps until notified.
// Registering before unlocking means a change after the caller's check
// cannot be missed.
func (e *EventFD) waitLocked(ctx context.Context, mask waiter.EventMask) error {
	w, ch := waiter.NewChannelEntry(mask)
	e.queue.EventRegister(w)
	e.mu.Unlock()
	defer e.queue.EventUnregister(w)
	return vfs.BlockerFromContext(ctx).Block(ch)
}

// Readiness implements waiter.Waitable.
func (e *EventFD) Readiness(mask waiter.EventMask) waiter.EventMask {
	e.mu.Lock()
	defer e.mu.Unlock()
	var r waiter.EventMask
	if e.count > 0 {
		r |= waiter.ReadableEvents
	}
	if e.count < maxCount {
		r |= waiter.WritableEvents
	}
	return r & mask
}

// EventRegister implements waiter.Waitable.
func (e *EventFD) EventRegister(w *waiter.Entry) error {
	e.queue.EventRegister(w)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (e *EventFD) EventUnregister(w *waiter.Entry) { e.queue.EventUnregister(w) }
