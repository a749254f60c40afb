package vfs

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/waiter"
)

// FileDescription is an open file: what a file descriptor refers to, and
// what dup(2) and fork share. The VFS keeps the parts every file has (the
// path it was opened by, status flags, the file offset) and delegates the
// rest to a FileDescriptionImpl.
//
// +stateify savable
type FileDescription struct {
	refs atomic.Int64

	vd   VirtualDentry
	impl FileDescriptionImpl
	opts FileDescriptionOptions

	// statusFlags holds the access mode and the O_* status flags. It is
	// read without locks; flagsMu serializes read-modify-write updates.
	statusFlags atomic.Uint32
	flagsMu     sync.Mutex // +state:nosave

	// offMu guards off, and is held across a whole read, write, seek or
	// getdents of a file with an offset, so that concurrent users of one
	// FileDescription see each call as atomic (as Linux's f_pos_lock).
	offMu sync.Mutex // +state:nosave
	off   int64

	// inotifyOpenCounted says the open was counted in the dentry's
	// inotifyOpens and reported as IN_OPEN, so the last close reports
	// IN_CLOSE_* (inotify.go).
	inotifyOpenCounted bool

	// async is the signal-driven I/O state (file_async.go), nil until
	// first used; the pointer is guarded by flagsMu.
	async *fileAsync

	// dnotify holds the F_NOTIFY registrations on the file, one per
	// descriptor table (dnotify.go); guarded by dnotifyRegistry.mu.
	dnotify []*dnotifyWatch
}

// FileDescriptionOptions describe how a FileDescription behaves.
//
// +stateify savable
type FileDescriptionOptions struct {
	// Stream marks a file without an offset (pipes, sockets, terminals):
	// pread, pwrite and lseek fail with ESPIPE, and the implementation is
	// called with offset -1 and no offset lock held.
	Stream bool
}

// statusFlagsSettable are the flags F_SETFL may change.
const statusFlagsSettable = linux.O_APPEND | linux.O_ASYNC | linux.O_DIRECT | linux.O_NOATIME | linux.O_NONBLOCK

// statusFlagsKept are the open flags a FileDescription remembers.
const statusFlagsKept = linux.O_ACCMODE | statusFlagsSettable | linux.O_DSYNC | linux.O_SYNC | linux.O_PATH | linux.O_LARGEFILE

// Init readies fd, taking a reference on vd (which may be zero for files
// that have no path). The reference count starts at 1.
func (fd *FileDescription) Init(impl FileDescriptionImpl, flags uint32, vd VirtualDentry, opts *FileDescriptionOptions) {
	fd.impl = impl
	fd.vd = vd
	vd.IncRef()
	if opts != nil {
		fd.opts = *opts
	}
	// 64-bit kernels report O_LARGEFILE in F_GETFL whether or not it
	// was asked for.
	fd.statusFlags.Store((flags | linux.O_LARGEFILE) & statusFlagsKept)
	fd.refs.Store(1)
}

// IncRef takes a reference.
func (fd *FileDescription) IncRef() { fd.refs.Add(1) }

// DecRef drops a reference; the last one releases the file.
func (fd *FileDescription) DecRef(ctx context.Context) {
	switch n := fd.refs.Add(-1); {
	case n == 0:
		fd.inotifyCloseEvent()
		fd.dnotifyRelease()
		fd.releaseAsync()
		fd.releaseLocks()
		fd.impl.Release(ctx)
		fd.vd.DecRef()
	case n < 0:
		panic("vfs: FileDescription reference count went negative")
	}
}

// ReadRefs returns the reference count, for tests.
func (fd *FileDescription) ReadRefs() int64 { return fd.refs.Load() }

// Impl returns the implementation.
func (fd *FileDescription) Impl() FileDescriptionImpl { return fd.impl }

// VirtualDentry returns the path fd was opened by, without a reference.
func (fd *FileDescription) VirtualDentry() VirtualDentry { return fd.vd }

// Mount returns fd's mount.
func (fd *FileDescription) Mount() *Mount { return fd.vd.mount }

// Dentry returns fd's dentry.
func (fd *FileDescription) Dentry() *Dentry { return fd.vd.dentry }

// Inode returns the inode fd refers to.
func (fd *FileDescription) Inode() Inode { return fd.vd.dentry.inode }

// StatusFlags returns the flags F_GETFL reports.
func (fd *FileDescription) StatusFlags() uint32 { return fd.statusFlags.Load() }

// SetStatusFlags implements F_SETFL: only the settable flags change.
// O_NOATIME needs ownership of the file or CAP_FOWNER.
func (fd *FileDescription) SetStatusFlags(ctx context.Context, creds *auth.Credentials, flags uint32) error {
	if fd.isPath() {
		return linux.EBADF
	}
	fd.flagsMu.Lock()
	defer fd.flagsMu.Unlock()
	old := fd.statusFlags.Load()
	if flags&linux.O_NOATIME != 0 && old&linux.O_NOATIME == 0 {
		st, err := fd.Stat(ctx, StatOptions{Mask: linux.STATX_UID})
		if err != nil {
			return err
		}
		if !auth.CanActAsOwner(creds, auth.KUID(st.UID)) {
			return linux.EPERM
		}
	}
	fd.statusFlags.Store(fd.asyncFlagsChangedLocked(ctx, old, old&^statusFlagsSettable|flags&statusFlagsSettable))
	return nil
}

func (fd *FileDescription) isPath() bool { return fd.StatusFlags()&linux.O_PATH != 0 }

// IsReadable reports whether fd was opened for reading.
func (fd *FileDescription) IsReadable() bool {
	f := fd.StatusFlags()
	return f&linux.O_PATH == 0 && (f&linux.O_ACCMODE == linux.O_RDONLY || f&linux.O_ACCMODE == linux.O_RDWR)
}

// IsWritable reports whether fd was opened for writing.
func (fd *FileDescription) IsWritable() bool {
	f := fd.StatusFlags()
	return f&linux.O_PATH == 0 && (f&linux.O_ACCMODE == linux.O_WRONLY || f&linux.O_ACCMODE == linux.O_RDWR)
}

// IsNonblocking reports O_NONBLOCK.
func (fd *FileDescription) IsNonblocking() bool { return fd.StatusFlags()&linux.O_NONBLOCK != 0 }

// IsStream reports whether fd has no offset.
func (fd *FileDescription) IsStream() bool { return fd.opts.Stream }

// ReadOptions qualify a read.
type ReadOptions struct {
	// Flags are preadv2's RWF_* flags.
	Flags uint32
	// Nonblocking is O_NONBLOCK of the file (or RWF_NOWAIT), filled in
	// by the VFS.
	Nonblocking bool
}

// WriteOptions qualify a write.
type WriteOptions struct {
	Flags       uint32
	Nonblocking bool
	// Append makes the write go to the end of the file, atomically with
	// finding the end (O_APPEND, RWF_APPEND).
	Append bool
}

func (fd *FileDescription) readOpts(opts ReadOptions) ReadOptions {
	opts.Nonblocking = opts.Nonblocking || fd.IsNonblocking()
	return opts
}

func (fd *FileDescription) writeOpts(opts WriteOptions) WriteOptions {
	opts.Nonblocking = opts.Nonblocking || fd.IsNonblocking()
	opts.Append = opts.Append || fd.StatusFlags()&linux.O_APPEND != 0
	return opts
}

// Read reads at the file offset (read(2), readv(2)) and advances it.
func (fd *FileDescription) Read(ctx context.Context, dst IOSequence, opts ReadOptions) (int64, error) {
	if !fd.IsReadable() {
		return 0, linux.EBADF
	}
	opts = fd.readOpts(opts)
	if fd.opts.Stream {
		n, err := fd.impl.Read(ctx, dst, -1, opts)
		if n > 0 {
			fd.inotifyEvent(linux.IN_ACCESS)
		}
		return n, err
	}
	fd.offMu.Lock()
	defer fd.offMu.Unlock()
	n, err := fd.impl.Read(ctx, dst, fd.off, opts)
	fd.off += n
	if n > 0 {
		fd.inotifyEvent(linux.IN_ACCESS)
	}
	return n, err
}

// PRead reads at offset (pread(2)) without moving the file offset.
func (fd *FileDescription) PRead(ctx context.Context, dst IOSequence, offset int64, opts ReadOptions) (int64, error) {
	if !fd.IsReadable() {
		return 0, linux.EBADF
	}
	if fd.opts.Stream {
		return 0, linux.ESPIPE
	}
	if offset < 0 {
		return 0, linux.EINVAL
	}
	n, err := fd.impl.Read(ctx, dst, offset, fd.readOpts(opts))
	if n > 0 {
		fd.inotifyEvent(linux.IN_ACCESS)
	}
	return n, err
}

// Write writes at the file offset, or the end with O_APPEND, and moves
// the offset past what was written.
func (fd *FileDescription) Write(ctx context.Context, src IOSequence, opts WriteOptions) (int64, error) {
	if !fd.IsWritable() {
		return 0, linux.EBADF
	}
	opts = fd.writeOpts(opts)
	if fd.opts.Stream {
		n, _, err := fd.impl.Write(ctx, src, -1, opts)
		if n > 0 {
			fd.inotifyEvent(linux.IN_MODIFY)
		}
		return n, err
	}
	fd.offMu.Lock()
	defer fd.offMu.Unlock()
	n, end, err := fd.impl.Write(ctx, src, fd.off, opts)
	if n > 0 || (opts.Append && err == nil) {
		fd.off = end
	}
	if n > 0 {
		fd.inotifyEvent(linux.IN_MODIFY)
	}
	return n, err
}

// PWrite writes at offset (pwrite(2)); on an O_APPEND file Linux appends
// anyway, and so does this.
func (fd *FileDescription) PWrite(ctx context.Context, src IOSequence, offset int64, opts WriteOptions) (int64, error) {
	if !fd.IsWritable() {
		return 0, linux.EBADF
	}
	if fd.opts.Stream {
		return 0, linux.ESPIPE
	}
	if offset < 0 {
		return 0, linux.EINVAL
	}
	n, _, err := fd.impl.Write(ctx, src, offset, fd.writeOpts(opts))
	if n > 0 {
		fd.inotifyEvent(linux.IN_MODIFY)
	}
	return n, err
}

// Seeker is implemented by files whose seeking differs from the generic
// rules (directories, sparse files, devices).
type Seeker interface {
	// Seek returns the new offset for (offset, whence) given the current
	// offset cur.
	Seek(ctx context.Context, offset int64, whence int32, cur int64) (int64, error)
}

// Seek implements lseek(2).
func (fd *FileDescription) Seek(ctx context.Context, offset int64, whence int32) (int64, error) {
	if fd.isPath() {
		return 0, linux.EBADF
	}
	if fd.opts.Stream {
		return 0, linux.ESPIPE
	}
	fd.offMu.Lock()
	defer fd.offMu.Unlock()
	var n int64
	var err error
	if s, ok := fd.impl.(Seeker); ok {
		n, err = s.Seek(ctx, offset, whence, fd.off)
	} else {
		n, err = fd.genericSeek(ctx, offset, whence)
	}
	if err != nil {
		return 0, err
	}
	fd.off = n
	return n, nil
}

// genericSeek treats the file as its size in bytes with no holes.
func (fd *FileDescription) genericSeek(ctx context.Context, offset int64, whence int32) (int64, error) {
	var base int64
	switch whence {
	case linux.SEEK_SET:
	case linux.SEEK_CUR:
		base = fd.off
	case linux.SEEK_END, linux.SEEK_DATA, linux.SEEK_HOLE:
		st, err := fd.impl.Stat(ctx, fd, StatOptions{Mask: linux.STATX_SIZE})
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

// Offset returns the file offset.
func (fd *FileDescription) Offset() int64 {
	fd.offMu.Lock()
	defer fd.offMu.Unlock()
	return fd.off
}

// IterDirents reports directory entries from the file offset on, and
// moves the offset past each entry cb accepts (getdents64(2)).
func (fd *FileDescription) IterDirents(ctx context.Context, cb IterDirentsCallback) error {
	if fd.isPath() {
		return linux.EBADF
	}
	fd.offMu.Lock()
	defer fd.offMu.Unlock()
	err := fd.impl.IterDirents(ctx, fd.off, func(d Dirent) error {
		if err := cb(d); err != nil {
			return err
		}
		fd.off = d.NextOff
		return nil
	})
	// Linux reports the access of a directory that can be read, which
	// a removed one cannot, whatever the reading returned.
	if err != linux.ENOTDIR && fd.inotifyOpenCounted && inotifyWatched() && !fd.vd.dentry.IsDead() {
		fd.inotifyEvent(linux.IN_ACCESS)
	}
	return err
}

// Stat implements fstat(2) and statx(2) with AT_EMPTY_PATH.
func (fd *FileDescription) Stat(ctx context.Context, opts StatOptions) (linux.Statx, error) {
	st, err := fd.impl.Stat(ctx, fd, opts)
	if err == nil && fd.vd.Ok() {
		fillMountStat(&st, fd.vd)
	}
	return st, err
}

// SetStat changes attributes of the open file (fchmod, fchown, ftruncate,
// futimens). Truncation needs a writable file rather than permission.
func (fd *FileDescription) SetStat(ctx context.Context, creds *auth.Credentials, opts SetStatOptions) error {
	if fd.isPath() {
		return linux.EBADF
	}
	if opts.Mask&linux.STATX_SIZE != 0 {
		if !fd.IsWritable() {
			return linux.EINVAL
		}
		if t := fd.Inode().Type(); t != linux.S_IFREG {
			if t == linux.S_IFDIR {
				return linux.EISDIR
			}
			return linux.EINVAL
		}
	}
	if fd.vd.Ok() && fd.vd.mount.ReadOnly() && isOnDiskType(fd.Inode().Type()) {
		return linux.EROFS
	}
	if err := fd.impl.SetStat(ctx, fd, creds, opts); err != nil {
		return err
	}
	fd.inotifyEvent(inotifySetStatEvents(opts.Mask))
	return nil
}

// StatFS implements fstatfs(2).
func (fd *FileDescription) StatFS(ctx context.Context) (linux.Statfs, error) {
	if !fd.vd.Ok() {
		return linux.Statfs{}, linux.ENOSYS
	}
	return statFS(ctx, fd.vd)
}

// Readiness implements waiter.Waitable.
func (fd *FileDescription) Readiness(mask waiter.EventMask) waiter.EventMask {
	if fd.isPath() {
		return 0
	}
	return fd.impl.Readiness(mask)
}

// EventRegister implements waiter.Waitable.
func (fd *FileDescription) EventRegister(e *waiter.Entry) error {
	if fd.isPath() {
		return linux.EBADF
	}
	return fd.impl.EventRegister(e)
}

// EventUnregister implements waiter.Waitable.
func (fd *FileDescription) EventUnregister(e *waiter.Entry) { fd.impl.EventUnregister(e) }

// Ioctl implements ioctl(2) for the requests that are specific to the
// file; the generic ones (FIONBIO, FIOCLEX, ...) are the caller's.
func (fd *FileDescription) Ioctl(ctx context.Context, mem UserMemory, cmd uint32, arg uint64) (uint64, error) {
	if fd.isPath() {
		return 0, linux.EBADF
	}
	return fd.impl.Ioctl(ctx, mem, cmd, arg)
}

// ConfigureMMap is the mmap(2) hook. opts is the memory manager's
// mapping request; it is untyped here so that this package does not
// depend on the memory manager, which defines it.
func (fd *FileDescription) ConfigureMMap(ctx context.Context, opts any) error {
	if fd.isPath() {
		return linux.EBADF
	}
	return fd.impl.ConfigureMMap(ctx, opts)
}

// Allocate implements fallocate(2).
func (fd *FileDescription) Allocate(ctx context.Context, mode uint64, offset, length int64) error {
	if !fd.IsWritable() {
		return linux.EBADF
	}
	if offset < 0 || length <= 0 {
		return linux.EINVAL
	}
	if offset > math.MaxInt64-length {
		return linux.EFBIG
	}
	if err := fd.impl.Allocate(ctx, mode, offset, length); err != nil {
		return err
	}
	fd.inotifyEvent(linux.IN_MODIFY)
	return nil
}

// Sync implements fsync(2) and fdatasync(2).
func (fd *FileDescription) Sync(ctx context.Context) error {
	if fd.isPath() {
		return linux.EBADF
	}
	return fd.impl.Sync(ctx)
}

// FileDescriptionImpl is what a filesystem implements for its open files.
// Embed FileDescriptionDefaultImpl for the operations a file lacks.
type FileDescriptionImpl interface {
	// Release is called when the last reference goes.
	Release(ctx context.Context)
	// Read copies data at offset (-1 for streams) to dst and returns the
	// count; 0 with a nil error is end of file.
	Read(ctx context.Context, dst IOSequence, offset int64, opts ReadOptions) (int64, error)
	// Write copies src to the file at offset, or at the end if
	// opts.Append, and returns the count and the offset just past the
	// written data (unused for streams).
	Write(ctx context.Context, src IOSequence, offset int64, opts WriteOptions) (n, end int64, err error)
	// IterDirents is DirectoryInode.IterDirents for an open directory.
	IterDirents(ctx context.Context, offset int64, cb IterDirentsCallback) error
	// Stat and SetStat usually forward to the inode (see
	// FileDescriptionDefaultImpl).
	Stat(ctx context.Context, fd *FileDescription, opts StatOptions) (linux.Statx, error)
	SetStat(ctx context.Context, fd *FileDescription, creds *auth.Credentials, opts SetStatOptions) error
	Ioctl(ctx context.Context, mem UserMemory, cmd uint32, arg uint64) (uint64, error)
	ConfigureMMap(ctx context.Context, opts any) error
	Allocate(ctx context.Context, mode uint64, offset, length int64) error
	Sync(ctx context.Context) error
	waiter.Waitable
}

// FileDescriptionDefaultImpl answers every optional operation as Linux
// does for a file that lacks it. Embed it and override what the file has.
//
// +stateify savable
type FileDescriptionDefaultImpl struct {
	waiter.AlwaysReady
}

// Release implements FileDescriptionImpl.
func (FileDescriptionDefaultImpl) Release(context.Context) {}

// Read implements FileDescriptionImpl: files without a read method fail
// with EINVAL.
func (FileDescriptionDefaultImpl) Read(context.Context, IOSequence, int64, ReadOptions) (int64, error) {
	return 0, linux.EINVAL
}

// Write implements FileDescriptionImpl.
func (FileDescriptionDefaultImpl) Write(context.Context, IOSequence, int64, WriteOptions) (int64, int64, error) {
	return 0, 0, linux.EINVAL
}

// IterDirents implements FileDescriptionImpl.
func (FileDescriptionDefaultImpl) IterDirents(context.Context, int64, IterDirentsCallback) error {
	return linux.ENOTDIR
}

// Stat implements FileDescriptionImpl by asking the inode.
func (FileDescriptionDefaultImpl) Stat(ctx context.Context, fd *FileDescription, opts StatOptions) (linux.Statx, error) {
	return fd.Inode().Stat(ctx, opts)
}

// SetStat implements FileDescriptionImpl by asking the inode.
func (FileDescriptionDefaultImpl) SetStat(ctx context.Context, fd *FileDescription, creds *auth.Credentials, opts SetStatOptions) error {
	return fd.Inode().SetStat(ctx, creds, opts)
}

// Ioctl implements FileDescriptionImpl.
func (FileDescriptionDefaultImpl) Ioctl(context.Context, UserMemory, uint32, uint64) (uint64, error) {
	return 0, linux.ENOTTY
}

// ConfigureMMap implements FileDescriptionImpl.
func (FileDescriptionDefaultImpl) ConfigureMMap(context.Context, any) error { return linux.ENODEV }

// Allocate implements FileDescriptionImpl.
func (FileDescriptionDefaultImpl) Allocate(context.Context, uint64, int64, int64) error {
	return linux.ENODEV
}

// Sync implements FileDescriptionImpl: special files cannot be synced.
func (FileDescriptionDefaultImpl) Sync(context.Context) error { return linux.EINVAL }

// DirectoryFileDescriptionDefaultImpl is FileDescriptionDefaultImpl for
// directories: reads and writes fail with EISDIR, and sync succeeds.
//
// +stateify savable
type DirectoryFileDescriptionDefaultImpl struct {
	FileDescriptionDefaultImpl
}

// Read implements FileDescriptionImpl.
func (DirectoryFileDescriptionDefaultImpl) Read(context.Context, IOSequence, int64, ReadOptions) (int64, error) {
	return 0, linux.EISDIR
}

// Write implements FileDescriptionImpl.
func (DirectoryFileDescriptionDefaultImpl) Write(context.Context, IOSequence, int64, WriteOptions) (int64, int64, error) {
	return 0, 0, linux.EISDIR
}

// Sync implements FileDescriptionImpl.
func (DirectoryFileDescriptionDefaultImpl) Sync(context.Context) error { return nil }

// opathFD is the implementation of O_PATH files: they only name a path.
//
// +stateify savable
type opathFD struct {
	FileDescriptionDefaultImpl
}

func isOnDiskType(t linux.FileMode) bool {
	return t == linux.S_IFREG || t == linux.S_IFDIR || t == linux.S_IFLNK
}
