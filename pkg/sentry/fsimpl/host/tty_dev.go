package host

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// This file lets /dev/tty (pkg/sentry/fsimpl/dev) open a host terminal
// that is a process's controlling terminal. The Sentry cannot open the
// host terminal again, so a /dev/tty file borrows one of the wrapped host
// descriptors of the terminal: it holds a reference on that descriptor's
// file description (keeping the host descriptor open) and serves its
// reads, writes, ioctls and readiness, while its own path and stat stay
// /dev/tty's, as on Linux.

// addFile records a wrapped descriptor of the terminal.
func (t *ttyState) addFile(f *fileDescription) {
	t.filesMu.Lock()
	defer t.filesMu.Unlock()
	t.files = append(t.files, f)
}

// removeFile forgets the descriptor of inode i, which is being released.
func (t *ttyState) removeFile(i *inode) {
	t.filesMu.Lock()
	defer t.filesMu.Unlock()
	for k, f := range t.files {
		if f.inode == i {
			t.files = append(t.files[:k], t.files[k+1:]...)
			return
		}
	}
}

// Open implements vfs.Device for /dev/tty: a new file at vd that reaches
// the terminal through one of its wrapped descriptors. With none left
// (every descriptor of the terminal was closed, so the sandbox can no
// longer reach it) it fails with EIO, as an open of a hung-up terminal.
func (t *ttyState) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	term := t.borrowFile()
	if term == nil {
		return nil, linux.EIO
	}
	fd := &devTTYFile{term: term}
	fd.vfsfd.Init(fd, opts.Flags, vd, &vfs.FileDescriptionOptions{Stream: true})
	return &fd.vfsfd, nil
}

// borrowFile returns a wrapped descriptor of the terminal with a
// reference taken, nil if there is none. A description whose last
// reference is going is skipped: it is about to leave the list.
func (t *ttyState) borrowFile() *fileDescription {
	t.filesMu.Lock()
	defer t.filesMu.Unlock()
	for _, f := range t.files {
		if f.vfsfd.TryIncRef() {
			return f
		}
	}
	return nil
}

// devTTYFile is /dev/tty opened by a process whose controlling terminal
// is a host terminal.
//
// +stateify savable
type devTTYFile struct {
	vfs.FileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	// term is the borrowed descriptor of the terminal; a reference on
	// term.vfsfd is held until release.
	term *fileDescription
}

// Release implements vfs.FileDescriptionImpl.
func (fd *devTTYFile) Release(ctx context.Context) { fd.term.vfsfd.DecRef(ctx) }

// Read implements vfs.FileDescriptionImpl.
func (fd *devTTYFile) Read(ctx context.Context, dst vfs.IOSequence, offset int64, opts vfs.ReadOptions) (int64, error) {
	return fd.term.Read(ctx, dst, offset, opts)
}

// Write implements vfs.FileDescriptionImpl.
func (fd *devTTYFile) Write(ctx context.Context, src vfs.IOSequence, offset int64, opts vfs.WriteOptions) (int64, int64, error) {
	return fd.term.Write(ctx, src, offset, opts)
}

// Ioctl implements vfs.FileDescriptionImpl.
func (fd *devTTYFile) Ioctl(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	return fd.term.Ioctl(ctx, mem, cmd, arg)
}

// Readiness implements waiter.Waitable.
func (fd *devTTYFile) Readiness(mask waiter.EventMask) waiter.EventMask {
	return fd.term.Readiness(mask)
}

// EventRegister implements waiter.Waitable.
func (fd *devTTYFile) EventRegister(e *waiter.Entry) error { return fd.term.EventRegister(e) }

// EventUnregister implements waiter.Waitable.
func (fd *devTTYFile) EventUnregister(e *waiter.Entry) { fd.term.EventUnregister(e) }
