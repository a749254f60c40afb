package pipe

import (
	"context"
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// FD is the implementation of an open end of a pipe.
//
// +stateify savable
type FD struct {
	vfs.FileDescriptionDefaultImpl

	pipe               *Pipe
	readable, writable bool
	// hupVersion is the pipe's writer count when a non-blocking FIFO
	// reader opened without writers; EventHUp waits for a newer writer.
	hupVersion uint64
}

// FromFD returns the pipe behind fd, for F_GETPIPE_SZ and F_SETPIPE_SZ.
func FromFD(fd *vfs.FileDescription) (*Pipe, bool) {
	if f, ok := fd.Impl().(*FD); ok {
		return f.pipe, true
	}
	return nil, false
}

// Release implements vfs.FileDescriptionImpl.
func (f *FD) Release(context.Context) { f.pipe.release(f.readable, f.writable) }

// Read implements vfs.FileDescriptionImpl.
func (f *FD) Read(ctx context.Context, dst vfs.IOSequence, _ int64, opts vfs.ReadOptions) (int64, error) {
	return f.pipe.read(ctx, dst, opts.Nonblocking)
}

// Write implements vfs.FileDescriptionImpl.
func (f *FD) Write(ctx context.Context, src vfs.IOSequence, _ int64, opts vfs.WriteOptions) (int64, int64, error) {
	n, err := f.pipe.write(ctx, src, opts.Nonblocking)
	return n, 0, err
}

// Readiness implements waiter.Waitable.
func (f *FD) Readiness(mask waiter.EventMask) waiter.EventMask {
	return f.pipe.readiness(mask, f.readable, f.writable, f.hupVersion)
}

// EventRegister implements waiter.Waitable.
func (f *FD) EventRegister(e *waiter.Entry) error {
	f.pipe.queue.EventRegister(e)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (f *FD) EventUnregister(e *waiter.Entry) { f.pipe.queue.EventUnregister(e) }

// Ioctl implements vfs.FileDescriptionImpl: FIONREAD reports the bytes
// buffered.
func (f *FD) Ioctl(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	switch cmd {
	case linux.FIONREAD:
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(f.pipe.Queued()))
		if _, err := mem.CopyOutBytes(ctx, arg, b[:]); err != nil {
			return 0, err
		}
		return 0, nil
	}
	return 0, linux.ENOTTY
}

// Allocate implements vfs.FileDescriptionImpl: pipes have no blocks.
func (f *FD) Allocate(context.Context, uint64, int64, int64) error { return linux.ESPIPE }
