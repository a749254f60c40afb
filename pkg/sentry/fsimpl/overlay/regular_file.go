package overlay

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// regularFile is an overlay regular file.
type regularFile struct {
	inode
}

// Open implements vfs.Inode. Opening for writing copies the file up
// first (O_TRUNC has done so already, through SetStat); the description
// then does its I/O through a description of the real file.
func (f *regularFile) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	if opts.Flags&linux.O_ACCMODE != linux.O_RDONLY || opts.Flags&linux.O_TRUNC != 0 {
		if err := f.copyUp(ctx, -1); err != nil {
			return nil, err
		}
	}
	r, isUpper := f.real()
	inner, err := f.openReal(ctx, r, isUpper, opts.Flags)
	if err != nil {
		return nil, err
	}
	fd := &regularFileFD{file: f, inner: inner}
	fd.onUpper.Store(isUpper)
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

// openReal opens the layer file r with the access mode and status flags
// of flags.
func (f *regularFile) openReal(ctx context.Context, r vfs.Inode, isUpper bool, flags uint32) (*vfs.FileDescription, error) {
	flags &^= linux.O_CREAT | linux.O_EXCL | linux.O_TRUNC | linux.O_NOCTTY
	return r.Open(ctx, f.fs.layerVD(isUpper, r), vfs.OpenOptions{Flags: flags})
}

// regularFileFD is an open overlay regular file: a description of the
// lower file until the file is copied up, of the upper file after.
type regularFileFD struct {
	vfs.FileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	file  *regularFile

	// onUpper is set once inner is a description of the upper file.
	onUpper atomic.Bool
	// mu is held for reading while inner is in use and for writing
	// while it is replaced.
	mu    sync.RWMutex
	inner *vfs.FileDescription
}

// real returns the description to do I/O through, with fd.mu held for
// reading; the caller calls fd.mu.RUnlock when done. A description of
// the lower file moves to the upper copy once there is one, as on Linux
// since 4.19, so a reader sees what writers wrote.
func (fd *regularFileFD) real(ctx context.Context) (*vfs.FileDescription, error) {
	if !fd.onUpper.Load() && fd.file.hasUpper.Load() {
		fd.mu.Lock()
		if !fd.onUpper.Load() {
			u := fd.file.getUpper()
			n, err := fd.file.openReal(ctx, u, true, fd.vfsfd.StatusFlags())
			if err != nil {
				fd.mu.Unlock()
				return nil, err
			}
			old := fd.inner
			fd.inner = n
			fd.onUpper.Store(true)
			defer old.DecRef(ctx)
		}
		fd.mu.Unlock()
	}
	fd.mu.RLock()
	return fd.inner, nil
}

// Release implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Release(ctx context.Context) {
	fd.inner.DecRef(ctx)
}

// Read implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Read(ctx context.Context, dst vfs.IOSequence, offset int64, opts vfs.ReadOptions) (int64, error) {
	r, err := fd.real(ctx)
	if err != nil {
		return 0, err
	}
	defer fd.mu.RUnlock()
	return r.Impl().Read(ctx, dst, offset, opts)
}

// Write implements vfs.FileDescriptionImpl. The description is writable,
// so it was opened on the upper file.
func (fd *regularFileFD) Write(ctx context.Context, src vfs.IOSequence, offset int64, opts vfs.WriteOptions) (int64, int64, error) {
	r, err := fd.real(ctx)
	if err != nil {
		return 0, offset, err
	}
	defer fd.mu.RUnlock()
	return r.Impl().Write(ctx, src, offset, opts)
}

// Seek implements vfs.Seeker: the real file's own rules if it has them
// (holes, for SEEK_DATA and SEEK_HOLE), else the generic ones over the
// file's size.
func (fd *regularFileFD) Seek(ctx context.Context, offset int64, whence int32, cur int64) (int64, error) {
	r, err := fd.real(ctx)
	if err != nil {
		return 0, err
	}
	defer fd.mu.RUnlock()
	if s, ok := r.Impl().(vfs.Seeker); ok {
		return s.Seek(ctx, offset, whence, cur)
	}
	var base int64
	switch whence {
	case linux.SEEK_SET:
	case linux.SEEK_CUR:
		base = cur
	case linux.SEEK_END, linux.SEEK_DATA, linux.SEEK_HOLE:
		st, err := fd.file.Stat(ctx, vfs.StatOptions{Mask: linux.STATX_SIZE})
		if err != nil {
			return 0, err
		}
		size := int64(st.Size)
		switch whence {
		case linux.SEEK_END:
			base = size
		case linux.SEEK_DATA:
			if offset < 0 || offset >= size {
				return 0, linux.ENXIO
			}
			return offset, nil
		default:
			if offset < 0 || offset >= size {
				return 0, linux.ENXIO
			}
			return size, nil
		}
	default:
		return 0, linux.EINVAL
	}
	if (offset > 0 && base > math.MaxInt64-offset) || base+offset < 0 {
		return 0, linux.EINVAL
	}
	return base + offset, nil
}

// ConfigureMMap implements vfs.FileDescriptionImpl: the mapping is of the
// real file, and stays on it if the file is copied up later.
func (fd *regularFileFD) ConfigureMMap(ctx context.Context, opts any) error {
	r, err := fd.real(ctx)
	if err != nil {
		return err
	}
	defer fd.mu.RUnlock()
	return r.Impl().ConfigureMMap(ctx, opts)
}

// Allocate implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Allocate(ctx context.Context, mode uint64, offset, length int64) error {
	r, err := fd.real(ctx)
	if err != nil {
		return err
	}
	defer fd.mu.RUnlock()
	return r.Impl().Allocate(ctx, mode, offset, length)
}

// Sync implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Sync(ctx context.Context) error {
	r, err := fd.real(ctx)
	if err != nil {
		return err
	}
	defer fd.mu.RUnlock()
	return r.Impl().Sync(ctx)
}

// Ioctl implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Ioctl(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	r, err := fd.real(ctx)
	if err != nil {
		return 0, err
	}
	defer fd.mu.RUnlock()
	return r.Impl().Ioctl(ctx, mem, cmd, arg)
}
