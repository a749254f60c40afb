package host

import (
	"context"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/fdnotifier"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// fileDescription is the implementation of a host file's description.
// There is exactly one per inode: the host descriptor is one open file,
// and sandbox dups share the vfs.FileDescription.
//
// +stateify savable
type fileDescription struct {
	vfs.FileDescriptionDefaultImpl

	inode *inode
	// vfsfd is the description this implements, for the offset that
	// FIONREAD on a regular file needs.
	vfsfd *vfs.FileDescription
}

// Release implements vfs.FileDescriptionImpl.
func (f *fileDescription) Release(context.Context) { f.inode.release() }

// Read implements vfs.FileDescriptionImpl.
func (f *fileDescription) Read(ctx context.Context, dst vfs.IOSequence, offset int64, opts vfs.ReadOptions) (int64, error) {
	if dst.NumBytes() == 0 {
		return 0, nil
	}
	if f.inode.ftype == linux.S_IFREG {
		n, err := f.inode.preadFull(ctx, dst, offset)
		f.inode.syncHostOffset(offset + n)
		return n, err
	}
	if err := f.checkRead(ctx); err != nil {
		return 0, err
	}
	return f.inode.readStream(ctx, dst, opts.Nonblocking)
}

// Write implements vfs.FileDescriptionImpl.
func (f *fileDescription) Write(ctx context.Context, src vfs.IOSequence, offset int64, opts vfs.WriteOptions) (int64, int64, error) {
	if f.inode.ftype == linux.S_IFREG {
		n, end, err := f.inode.pwriteFull(ctx, src, offset, opts.Append)
		f.inode.syncHostOffset(end)
		return n, end, err
	}
	if src.NumBytes() == 0 {
		return 0, offset, nil
	}
	if err := f.checkWrite(ctx); err != nil {
		return 0, offset, err
	}
	n, err := f.inode.writeStream(ctx, src, opts.Nonblocking)
	return n, offset + n, err
}

// Stat implements vfs.FileDescriptionImpl.
func (f *fileDescription) Stat(ctx context.Context, _ *vfs.FileDescription, opts vfs.StatOptions) (linux.Statx, error) {
	return f.inode.Stat(ctx, opts)
}

// Seek implements vfs.Seeker. Regular files seek against the host size,
// and SEEK_DATA/SEEK_HOLE ask the host where its holes are. Character
// devices always seek to 0, as Linux's null and zero devices do.
func (f *fileDescription) Seek(ctx context.Context, offset int64, whence int32, cur int64) (int64, error) {
	if f.inode.ftype != linux.S_IFREG {
		switch whence {
		case linux.SEEK_SET, linux.SEEK_CUR, linux.SEEK_END:
			return 0, nil
		}
		return 0, linux.EINVAL
	}
	var base int64
	switch whence {
	case linux.SEEK_SET:
	case linux.SEEK_CUR:
		base = cur
	case linux.SEEK_END:
		var st unix.Stat_t
		if err := fstat(int(f.inode.hostFD), &st); err != nil {
			return 0, err
		}
		base = st.Size
	case linux.SEEK_DATA, linux.SEEK_HOLE:
		// The host offset is never used for I/O, so moving it is
		// harmless.
		var off int64
		err := retryEINTR(func() (err error) {
			off, err = unix.Seek(int(f.inode.hostFD), offset, int(whence))
			return err
		})
		return off, hostErr(err)
	default:
		return 0, linux.EINVAL
	}
	n := base + offset
	if (offset > 0 && n < base) || n < 0 {
		return 0, linux.EINVAL
	}
	return n, nil
}

// Readiness implements waiter.Waitable by asking the host.
func (f *fileDescription) Readiness(mask waiter.EventMask) waiter.EventMask {
	return fdnotifier.Readiness(f.inode.hostFD, mask)
}

// EventRegister implements waiter.Waitable. Files the host cannot poll
// (regular files, /dev/null) are always ready and never notify, which
// is how Linux treats them too.
func (f *fileDescription) EventRegister(e *waiter.Entry) error {
	if f.inode.pollable {
		f.inode.queue.EventRegister(e)
	}
	return nil
}

// EventUnregister implements waiter.Waitable.
func (f *fileDescription) EventUnregister(e *waiter.Entry) {
	if f.inode.pollable {
		f.inode.queue.EventUnregister(e)
	}
}

// Sync implements vfs.FileDescriptionImpl.
func (f *fileDescription) Sync(context.Context) error {
	if f.inode.ftype != linux.S_IFREG {
		return linux.EINVAL
	}
	return hostErr(retryEINTR(func() error { return unix.Fsync(int(f.inode.hostFD)) }))
}

// Allocate implements vfs.FileDescriptionImpl. fallocate is not in the
// Sentry's host syscall set; streams have no blocks at all.
func (f *fileDescription) Allocate(context.Context, uint64, int64, int64) error {
	if f.inode.ftype == linux.S_IFIFO {
		return linux.ESPIPE
	}
	return linux.ENODEV
}

// Ioctl implements vfs.FileDescriptionImpl.
func (f *fileDescription) Ioctl(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	return f.ioctl(ctx, mem, cmd, arg)
}

// syncHostOffset moves the host open file's offset to where the sandbox's
// stands, so a process outside that shares the open file (the shell that
// redirected the container's output) continues after what we wrote.
func (i *inode) syncHostOffset(off int64) {
	unix.Seek(int(i.hostFD), off, unix.SEEK_SET)
}
