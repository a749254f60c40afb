package tmpfs

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// regularFile is a tmpfs regular file.
//
// +stateify savable
type regularFile struct {
	inode

	// ioMu serializes the changes of the contents (write, truncate,
	// fallocate), as Linux's inode lock does, so that a write lands whole
	// and O_APPEND writes do not interleave. It is held while copying
	// from application memory, so the memory manager must never take it:
	// it comes before inode.mu, and before the memory manager's lock.
	ioMu sync.Mutex // +state:nosave

	// data is the contents, with its own lock.
	data *fileData

	// openFDs counts open file descriptions and released says the file's
	// reference on data is gone; both are guarded by inode.mu. The data
	// goes when the file has neither links nor open descriptions (and
	// then its mappings are gone too).
	openFDs  int
	released bool

	// seals are the file's F_SEAL_* bits (seals.go), guarded by
	// inode.mu; changes also hold ioMu.
	seals uint32

	// tmpfileLinkable marks an O_TMPFILE file without O_EXCL that has
	// not been linked yet (tmpfile.go); guarded by inode.mu.
	tmpfileLinkable bool
}

func (fs *filesystem) newRegularFile(uid auth.KUID, gid auth.KGID, perm linux.FileMode) *regularFile {
	f := &regularFile{data: &fileData{}, seals: linux.F_SEAL_SEAL}
	fs.initInode(&f.inode, f, linux.S_IFREG, uid, gid, perm)
	f.data.init(fs, f.ino)
	return f
}

func (f *regularFile) sizeLocked() (uint64, uint64) {
	size, pages := f.data.sizeAndUsage()
	return size, pages * (linux.PageSize / 512)
}

// truncateLocked sets the size. Growing leaves a hole. f.ioMu is held.
func (f *regularFile) truncateLocked(size uint64) error {
	return f.data.truncate(size)
}

// releaseIfUnusedLocked drops the file's reference on its data once it is
// unlinked and closed.
func (f *regularFile) releaseIfUnusedLocked() {
	if f.nlink == 0 && f.openFDs == 0 && !f.released {
		f.released = true
		f.data.decRef()
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

// ioChunk is the size of the kernel buffer that data passes through
// between application memory and the file. Copying directly would mean
// holding the data's lock while touching application memory, which may
// be a mapping of this very file (the memory manager would then ask the
// file for pages: deadlock).
const ioChunk = 64 << 10

var ioBufs = sync.Pool{New: func() any { b := make([]byte, ioChunk); return &b }}

func ioBuffer(n int64) (*[]byte, []byte) {
	if n < 512 {
		return nil, make([]byte, n)
	}
	bp := ioBufs.Get().(*[]byte)
	return bp, (*bp)[:min(n, ioChunk)]
}

func putIOBuffer(bp *[]byte) {
	if bp != nil {
		ioBufs.Put(bp)
	}
}

// Read implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Read(ctx context.Context, dst vfs.IOSequence, offset int64, opts vfs.ReadOptions) (int64, error) {
	f := fd.file
	n, err := f.read(ctx, dst, offset)
	f.touchAtime(fd.vfsfd.Mount(), fd.vfsfd.StatusFlags())
	return n, err
}

func (f *regularFile) read(ctx context.Context, dst vfs.IOSequence, offset int64) (int64, error) {
	if offset < 0 || dst.NumBytes() == 0 {
		return 0, nil
	}
	bp, buf := ioBuffer(dst.NumBytes())
	defer putIOBuffer(bp)
	var done int64
	for dst.NumBytes() > 0 {
		chunk := buf[:min(int64(len(buf)), dst.NumBytes())]
		n := f.data.readAt(chunk, uint64(offset+done))
		if n == 0 {
			break
		}
		c, err := dst.CopyOut(ctx, chunk[:n])
		done += int64(c)
		if err != nil {
			return done, err
		}
		if c < n {
			return done, linux.EFAULT
		}
		dst = dst.DropFirst(int64(c))
	}
	return done, nil
}

// Write implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Write(ctx context.Context, src vfs.IOSequence, offset int64, opts vfs.WriteOptions) (int64, int64, error) {
	f := fd.file
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	if opts.Append {
		size, _ := f.data.sizeAndUsage()
		offset = int64(size)
	}
	count := src.NumBytes()
	if count == 0 {
		return 0, offset, nil
	}
	if count > maxFileSize-offset {
		if offset >= maxFileSize {
			return 0, offset, linux.EFBIG
		}
		count = maxFileSize - offset
	}
	f.mu.RLock()
	size, _ := f.data.sizeAndUsage()
	count, err := f.writeLimitLocked(offset, count, size)
	f.mu.RUnlock()
	if err != nil {
		return 0, offset, err
	}
	n, err := f.write(ctx, src, offset, count)
	if n > 0 {
		t := now()
		f.mu.Lock()
		f.mtime, f.ctime = t, t
		f.killPrivsLocked(auth.CredentialsFromContext(ctx))
		f.mu.Unlock()
		// A short write still succeeds with what it wrote.
		err = nil
	}
	return n, offset + n, err
}

// write copies count bytes of src to the file at offset. f.ioMu is held.
func (f *regularFile) write(ctx context.Context, src vfs.IOSequence, offset, count int64) (int64, error) {
	bp, buf := ioBuffer(count)
	defer putIOBuffer(bp)
	var done int64
	for done < count {
		chunk := buf[:min(int64(len(buf)), count-done)]
		c, cerr := src.CopyIn(ctx, chunk)
		w, werr := f.data.writeAt(chunk[:c], uint64(offset+done))
		done += int64(w)
		switch {
		case werr != nil:
			return done, werr
		case cerr != nil:
			return done, cerr
		case c < len(chunk):
			return done, linux.EFAULT
		}
		src = src.DropFirst(int64(c))
	}
	return done, nil
}

// Seek implements vfs.Seeker, with real holes for SEEK_DATA/SEEK_HOLE.
func (fd *regularFileFD) Seek(ctx context.Context, offset int64, whence int32, cur int64) (int64, error) {
	f := fd.file
	var base int64
	switch whence {
	case linux.SEEK_SET:
	case linux.SEEK_CUR:
		base = cur
	case linux.SEEK_END:
		size, _ := f.data.sizeAndUsage()
		base = int64(size)
	case linux.SEEK_DATA:
		return f.data.seekData(offset)
	case linux.SEEK_HOLE:
		return f.data.seekHole(offset)
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
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	f.mu.RLock()
	err := f.allocateAllowedLocked(mode, offset, length)
	f.mu.RUnlock()
	if err != nil {
		return err
	}
	switch mode {
	case 0, linux.FALLOC_FL_KEEP_SIZE:
		if err := f.data.allocate(uint64(offset), uint64(length), mode != 0); err != nil {
			return err
		}
	case linux.FALLOC_FL_PUNCH_HOLE | linux.FALLOC_FL_KEEP_SIZE:
		f.data.punch(uint64(offset), uint64(length))
	case linux.FALLOC_FL_PUNCH_HOLE:
		return linux.EINVAL
	default:
		return linux.EOPNOTSUPP
	}
	t := now()
	f.mu.Lock()
	f.mtime, f.ctime = t, t
	f.mu.Unlock()
	return nil
}

// Sync implements vfs.FileDescriptionImpl: memory is always in sync.
func (fd *regularFileFD) Sync(context.Context) error { return nil }
