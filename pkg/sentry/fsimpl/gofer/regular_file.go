package gofer

import (
	"context"
	"math"
	"sync"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// regularFile is a host regular file. Data is read and written with
// pread/pwrite on host descriptors the gofer donated; the size is cached
// exactly (the sandbox is its only writer), which is where O_APPEND
// writes go.
//
// Lock order: dataMu, then mapMu, then handleMu, then inode.mu, then the
// filesystem's idle-cache lock.
type regularFile struct {
	inode

	// dataMu is held for writing across every write and size change,
	// so that an append finds the end and writes there atomically, and
	// for reading by a stat that refetches attributes, so it never sees
	// a size a write is about to change.
	dataMu sync.RWMutex

	// handleMu guards handles and every handle's refs.
	handleMu sync.Mutex
	handles  [numAcc]*hostHandle

	// mapMu guards mappings, mapHandle and mapName (see mmap.go).
	mapMu     sync.Mutex
	mappings  memmap.MappingSet
	mapHandle *hostHandle
	mapName   string
}

// size returns the cached size.
func (f *regularFile) size() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attr.Size
}

// grewTo records that data now reaches end, and that times changed.
func (f *regularFile) grewTo(end uint64) {
	f.mu.Lock()
	if end > f.attr.Size {
		f.attr.Size = end
	}
	f.stale = true
	f.gen++
	f.mu.Unlock()
}

// refreshSize refetches stale attributes, from a host descriptor if the
// file has one open (a host statx rather than a gofer round trip).
func (f *regularFile) refreshSize(gen uint64) error {
	f.dataMu.RLock()
	defer f.dataMu.RUnlock()
	f.handleMu.Lock()
	var x unix.Statx_t
	done := false
	for _, h := range f.handles {
		if h == nil {
			continue
		}
		if err := unix.Statx(h.host, "", unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &x); err == nil {
			done = true
			break
		}
	}
	f.handleMu.Unlock()
	if done {
		f.setAttr(statFromHost(&x), gen)
		return nil
	}
	s, err := f.fs.client.Stat(f.fdid)
	if err != nil {
		return toErrno(err)
	}
	f.setAttr(s, gen)
	return nil
}

// setStatWithSize applies a SetStat that includes truncation. f.setMu is
// held.
func (f *regularFile) setStatWithSize(req *lisafs.SetStatReq) error {
	f.dataMu.Lock()
	defer f.dataMu.Unlock()
	old := f.size()
	err := f.fs.client.SetStat(req)
	f.markStale()
	size := req.Size
	if err != nil {
		// The size goes first and may have changed before the failure.
		s, serr := f.fs.client.Stat(f.fdid)
		if serr != nil {
			return toErrno(err)
		}
		f.mu.Lock()
		f.attr = s
		f.mu.Unlock()
		size = s.Size
	} else {
		f.mu.Lock()
		f.attr.Size = size
		f.mu.Unlock()
	}
	if size < old {
		f.truncateCache(size)
	}
	return toErrno(err)
}

// Open implements vfs.Inode: it gets (or shares) a host descriptor of the
// access mode the flags ask for.
func (f *regularFile) Open(_ context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	var read, write bool
	switch opts.Flags & linux.O_ACCMODE {
	case linux.O_RDONLY:
		read = true
	case linux.O_WRONLY:
		write = true
	default:
		read, write = true, true
	}
	if write && f.fs.readOnly {
		return nil, linux.EROFS
	}
	h, err := f.acquireHandle(read, write)
	if err != nil {
		return nil, err
	}
	if f.isFileRoot() {
		if err := f.revalidateFileRoot(h); err != nil {
			f.releaseHandle(h)
			return nil, err
		}
	}
	fd := &regularFileFD{file: f, h: h}
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

// regularFileFD is an open host regular file.
type regularFileFD struct {
	vfs.FileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	file  *regularFile
	h     *hostHandle
}

// Release implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Release(context.Context) {
	fd.file.releaseHandle(fd.h)
}

// Read implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Read(ctx context.Context, dst vfs.IOSequence, offset int64, _ vfs.ReadOptions) (int64, error) {
	return hostPread(ctx, fd.h.host, dst, offset)
}

// Write implements vfs.FileDescriptionImpl.
func (fd *regularFileFD) Write(ctx context.Context, src vfs.IOSequence, offset int64, opts vfs.WriteOptions) (int64, int64, error) {
	f := fd.file
	f.dataMu.Lock()
	defer f.dataMu.Unlock()
	if opts.Append {
		offset = int64(f.size())
	}
	count := src.NumBytes()
	if count == 0 {
		return 0, offset, nil
	}
	if offset > math.MaxInt64-count {
		return 0, offset, linux.EFBIG
	}
	n, err := hostPwrite(ctx, fd.h.host, src, offset, f.writeCache)
	if n > 0 {
		f.grewTo(uint64(offset + n))
		// A short write still succeeds with what it wrote.
		err = nil
		if fl := fd.vfsfd.StatusFlags(); fl&(linux.O_DSYNC|linux.O_SYNC) != 0 {
			err = hostErr(unix.Fdatasync(fd.h.host))
		}
	}
	return n, offset + n, err
}

// Sync implements vfs.FileDescriptionImpl on the host descriptor.
func (fd *regularFileFD) Sync(context.Context) error {
	return hostErr(unix.Fsync(fd.h.host))
}

// Allocate implements vfs.FileDescriptionImpl with the host's fallocate.
func (fd *regularFileFD) Allocate(_ context.Context, mode uint64, offset, length int64) error {
	f := fd.file
	f.dataMu.Lock()
	defer f.dataMu.Unlock()
	if err := unix.Fallocate(fd.h.host, uint32(mode), offset, length); err != nil {
		return hostErr(err)
	}
	if mode&linux.FALLOC_FL_PUNCH_HOLE != 0 {
		f.zeroCache(uint64(offset), uint64(length))
	}
	if mode&linux.FALLOC_FL_KEEP_SIZE == 0 {
		f.grewTo(uint64(offset + length))
	} else {
		f.markStale()
	}
	return nil
}

// ConfigureMMap implements vfs.FileDescriptionImpl (see mmap.go).
func (fd *regularFileFD) ConfigureMMap(ctx context.Context, opts any) error {
	return fd.file.configureMMap(&fd.vfsfd, opts)
}
