package tmpfs

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// regularFile is a tmpfs regular file.
//
// +stateify savable
type regularFile struct {
	inode
	// data and size are guarded by inode.mu.
	data pageStore
	size uint64
	// openFDs counts open file descriptions, guarded by inode.mu. The
	// data's space is given back when the file has neither links nor
	// open descriptions.
	openFDs int
}

func (fs *filesystem) newRegularFile(uid auth.KUID, gid auth.KGID, perm linux.FileMode) *regularFile {
	f := &regularFile{}
	fs.initInode(&f.inode, f, linux.S_IFREG, uid, gid, perm)
	return f
}

func (f *regularFile) sizeLocked() (uint64, uint64) {
	return f.size, f.data.count() * (linux.PageSize / 512)
}

// truncateLocked sets the size. Growing leaves a hole.
func (f *regularFile) truncateLocked(size uint64) error {
	if size > maxFileSize {
		return linux.EFBIG
	}
	if size < f.size {
		f.fs.uncharge(f.data.truncate(size))
	}
	f.size = size
	return nil
}

// releaseIfUnusedLocked frees the data of an unlinked, closed file.
func (f *regularFile) releaseIfUnusedLocked() {
	if f.nlink == 0 && f.openFDs == 0 {
		f.fs.uncharge(f.data.truncate(0))
	}
}

// Open implements vfs.Inode.
func (f *regularFile) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	f.mu.Lock()
	f.openFDs++
	f.mu.Unlock()
	impl := &regularFileFD{file: f}
	impl.vfsfd = &vfs.FileDescription{}
	impl.vfsfd.Init(impl, opts.Flags, vd, nil)
	return impl.vfsfd, nil
}

// regularFileFD is an open tmpfs regular file.
//
// +stateify savable
type regularFileFD struct {
	vfs.FileDescriptionDefaultImpl
	vfsfd *vfs.FileDescription
	file  *regularFile
}

// Release implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Release(context.Context) {
	f := fd.file
	f.mu.Lock()
	f.openFDs--
	f.releaseIfUnusedLocked()
	f.mu.Unlock()
}

// Read implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Read(ctx context.Context, dst vfs.IOSequence, offset int64, opts vfs.ReadOptions) (int64, error) {
	f := fd.file
	f.mu.RLock()
	n, err := f.data.read(ctx, dst, offset, f.size)
	f.mu.RUnlock()
	f.touchAtime(fd.vfsfd.Mount(), fd.vfsfd.StatusFlags())
	return n, err
}

// Write implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Write(ctx context.Context, src vfs.IOSequence, offset int64, opts vfs.WriteOptions) (int64, int64, error) {
	f := fd.file
	f.mu.Lock()
	defer f.mu.Unlock()
	if opts.Append {
		offset = int64(f.size)
	}
	if src.NumBytes() == 0 {
		return 0, offset, nil
	}
	n, err := f.data.write(ctx, src, offset, f.fs.charge)
	if n > 0 {
		if end := uint64(offset + n); end > f.size {
			f.size = end
		}
		t := now()
		f.mtime, f.ctime = t, t
		f.killPrivsLocked(auth.CredentialsFromContext(ctx))
		// A short write still succeeds with what it wrote.
		err = nil
	}
	return n, offset + n, err
}

// Seek implements vfs.Seeker, with real holes for SEEK_DATA/SEEK_HOLE.
func (fd *regularFileFD) Seek(ctx context.Context, offset int64, whence int32, cur int64) (int64, error) {
	f := fd.file
	f.mu.RLock()
	defer f.mu.RUnlock()
	var base int64
	switch whence {
	case linux.SEEK_SET:
	case linux.SEEK_CUR:
		base = cur
	case linux.SEEK_END:
		base = int64(f.size)
	case linux.SEEK_DATA:
		return f.data.seekData(offset, f.size)
	case linux.SEEK_HOLE:
		return f.data.seekHole(offset, f.size)
	default:
		return 0, linux.EINVAL
	}
	n := base + offset
	if (offset > 0 && n < base) || n < 0 {
		return 0, linux.EINVAL
	}
	return n, nil
}

// Allocate implements vfs.FileDescriptionImpl (fallocate modes 0,
// KEEP_SIZE and PUNCH_HOLE|KEEP_SIZE).
func (fd *regularFileFD) Allocate(ctx context.Context, mode uint64, offset, length int64) error {
	f := fd.file
	f.mu.Lock()
	defer f.mu.Unlock()
	end := uint64(offset + length)
	switch mode {
	case 0, linux.FALLOC_FL_KEEP_SIZE:
		if end > maxFileSize {
			return linux.EFBIG
		}
		if err := f.data.allocate(uint64(offset), uint64(length), f.fs.charge); err != nil {
			return err
		}
		if mode == 0 && end > f.size {
			f.size = end
		}
	case linux.FALLOC_FL_PUNCH_HOLE | linux.FALLOC_FL_KEEP_SIZE:
		if uint64(offset) < f.size {
			f.fs.uncharge(f.data.punch(uint64(offset), min(end, f.size)-uint64(offset)))
		}
	case linux.FALLOC_FL_PUNCH_HOLE:
		return linux.EINVAL
	default:
		return linux.EOPNOTSUPP
	}
	t := now()
	f.mtime, f.ctime = t, t
	return nil
}

// Sync implements vfs.FileDescriptionImpl: memory is always in sync.
func (fd *regularFileFD) Sync(context.Context) error { return nil }
