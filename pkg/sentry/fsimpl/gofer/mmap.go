package gofer

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// File mappings.
//
// A mapped regular file is a memmap.Mappable whose pages live in a
// per-inode page cache in the memory file, filled from the host file on
// first fault. The host file stays authoritative: write(2), truncate and
// fallocate on the file update the cached pages too (write-through), so a
// mapping sees the file's current contents until it copies a page on
// write. That is all MAP_PRIVATE needs, and MAP_SHARED read-only
// mappings as well.
//
// A writable MAP_SHARED mapping would make the cache hold data the host
// does not have, and need write-back on msync, munmap and eviction; it
// fails with ENODEV until that exists. Cached pages are kept until the
// file shrinks over them or the inode is collected: there is no eviction
// under memory pressure yet.

// pageCache holds the cached pages of one file.
type pageCache struct {
	mf *pgalloc.MemoryFile

	// mu guards pages. Only pgalloc's lock is taken under it.
	mu sync.Mutex
	// pages maps a page index to the memory-file offset of its copy; the
	// cache holds one reference on each.
	pages map[uint64]uint64
}

func newPageCache(mf *pgalloc.MemoryFile) *pageCache {
	return &pageCache{mf: mf, pages: make(map[uint64]uint64)}
}

func pageRange(fo uint64) pgalloc.Range { return pgalloc.Range{Start: fo, End: fo + memmap.PageSize} }

// dropAll releases every page.
func (c *pageCache) dropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for idx, fo := range c.pages {
		c.mf.DecRef(pageRange(fo))
		delete(c.pages, idx)
	}
}

// forEach calls fn with the cached part of each page overlapping [off,
// off+length) and the offset within the range it starts at.
func (c *pageCache) forEach(off, length uint64, fn func(page []byte, at uint64)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pages) == 0 || length == 0 {
		return
	}
	end := off + length
	if end < off {
		end = ^uint64(0)
	}
	for idx := off / memmap.PageSize; idx*memmap.PageSize < end; idx++ {
		fo, ok := c.pages[idx]
		if !ok {
			continue
		}
		pstart := idx * memmap.PageSize
		lo, hi := max(off, pstart), min(end, pstart+memmap.PageSize)
		page := c.mf.Slice(pageRange(fo))
		fn(page[lo-pstart:hi-pstart], lo-off)
		if pstart+memmap.PageSize < pstart {
			break
		}
	}
}

// writeCache copies data that reached the host file at off into the
// cached pages it covers.
func (f *regularFile) writeCache(off int64, b []byte) {
	if f.cache == nil {
		return
	}
	f.cache.forEach(uint64(off), uint64(len(b)), func(page []byte, at uint64) {
		copy(page, b[at:])
	})
}

// zeroCache zeroes the cached bytes of [off, off+length), after a hole
// punch.
func (f *regularFile) zeroCache(off, length uint64) {
	if f.cache == nil {
		return
	}
	f.cache.forEach(off, length, func(page []byte, _ uint64) { clear(page) })
}

// truncateCache drops the cached pages past size, zeroes the tail of the
// page holding the new end, and makes every mapping fault again there.
// f.dataMu is held.
func (f *regularFile) truncateCache(size uint64) {
	if f.cache == nil {
		return
	}
	c := f.cache
	keep := (size + memmap.PageSize - 1) / memmap.PageSize
	c.mu.Lock()
	for idx, fo := range c.pages {
		if idx >= keep {
			c.mf.DecRef(pageRange(fo))
			delete(c.pages, idx)
		}
	}
	if tail := size % memmap.PageSize; tail != 0 {
		if fo, ok := c.pages[size/memmap.PageSize]; ok {
			clear(c.mf.Slice(pageRange(fo))[tail:])
		}
	}
	c.mu.Unlock()
	f.mapMu.Lock()
	inv := f.mappings.Affected(keep*memmap.PageSize, ^uint64(0))
	f.mapMu.Unlock()
	for _, i := range inv {
		i.MS.Invalidate(i.AR)
	}
}

// configureMMap implements the mmap hook: opts is the memory manager's
// *mm.MMapOpts, which gets f as its Mappable.
func (f *regularFile) configureMMap(fd *vfs.FileDescription, opts any) error {
	o, ok := opts.(*mm.MMapOpts)
	if !ok || f.cache == nil {
		return linux.ENODEV
	}
	if !fd.IsReadable() {
		return linux.EACCES
	}
	if !o.Private {
		if o.Perms.Write {
			return linux.ENODEV
		}
		// Not later either: mprotect(PROT_WRITE) must fail (EACCES).
		o.MaxPerms.Write = false
	}
	if o.Name != "" {
		f.mapMu.Lock()
		f.mapName = o.Name
		f.mapMu.Unlock()
	}
	o.Mappable = f
	return nil
}

// Name implements memmap.Mappable: the path the memory manager was given
// when the file was last mapped.
func (f *regularFile) Name() string {
	f.mapMu.Lock()
	defer f.mapMu.Unlock()
	return f.mapName
}

// DeviceInode implements memmap.DeviceInode for /proc/PID/maps.
func (f *regularFile) DeviceInode() (major, minor uint32, ino uint64) {
	return 0, f.fs.devMinor, f.key.ino
}

// AddMapping implements memmap.Mappable. The first mapping takes a
// readable host handle that page faults fill from, so a file stays
// readable through its mappings after every descriptor is closed.
func (f *regularFile) AddMapping(ms memmap.MappingSpace, ar memmap.AddrRange, offset uint64, writable bool) error {
	if writable {
		return linux.ENODEV
	}
	f.mapMu.Lock()
	defer f.mapMu.Unlock()
	if f.mappings.Len() == 0 {
		h, err := f.acquireHandle(true, false)
		if err != nil {
			return err
		}
		f.mapHandle = h
	}
	f.mappings.Add(ms, ar, offset, writable)
	return nil
}

// RemoveMapping implements memmap.Mappable.
func (f *regularFile) RemoveMapping(ms memmap.MappingSpace, ar memmap.AddrRange, offset uint64, writable bool) {
	f.mapMu.Lock()
	f.mappings.Remove(ms, ar, offset, writable)
	var h *hostHandle
	if f.mappings.Len() == 0 {
		h, f.mapHandle = f.mapHandle, nil
	}
	f.mapMu.Unlock()
	if h != nil {
		f.releaseHandle(h)
	}
}

// GetPages implements memmap.Mappable.
func (f *regularFile) GetPages(offset uint64, pages []uint64, write bool) (int, error) {
	if offset%memmap.PageSize != 0 {
		panic(fmt.Sprintf("gofer: GetPages at unaligned offset %#x", offset))
	}
	if write {
		// Only shared writable mappings ask, and there are none.
		return 0, linux.EACCES
	}
	f.mapMu.Lock()
	h := f.mapHandle
	f.mapMu.Unlock()
	if h == nil {
		return 0, linux.EIO
	}
	size := f.size()
	c := f.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range pages {
		pos := offset + uint64(i)*memmap.PageSize
		if pos >= size {
			return i, memmap.ErrBeyondEOF
		}
		idx := pos / memmap.PageSize
		fo, ok := c.pages[idx]
		if !ok {
			var err error
			if fo, err = c.fillLocked(h.host, idx); err != nil {
				return i, err
			}
		}
		c.mf.IncRef(pageRange(fo))
		pages[i] = fo
	}
	return len(pages), nil
}

// fillLocked reads page idx of the host file into a new page. Bytes past
// the end of the file stay zero.
func (c *pageCache) fillLocked(host int, idx uint64) (uint64, error) {
	r, err := c.mf.Allocate(memmap.PageSize)
	if err != nil {
		return 0, linux.ENOMEM
	}
	buf := c.mf.Slice(r)
	off := int64(idx * memmap.PageSize)
	for done := 0; done < len(buf); {
		n, err := unix.Pread(host, buf[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			c.mf.DecRef(r)
			return 0, hostErr(err)
		}
		if n == 0 {
			break
		}
		done += n
	}
	c.pages[idx] = r.Start
	return r.Start, nil
}

// Sync implements memmap.Syncer: the host file already has every byte
// (no shared writable mappings), so only the host's own cache remains.
func (f *regularFile) Sync(offset, length uint64) error {
	f.mapMu.Lock()
	h := f.mapHandle
	f.mapMu.Unlock()
	if h == nil {
		return nil
	}
	return hostErr(unix.Fdatasync(h.host))
}
