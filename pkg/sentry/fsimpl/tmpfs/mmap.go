package tmpfs

import (
	"context"
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// File mappings. A tmpfs regular file's fileData is its memmap.Mappable:
// the memory manager maps the file's own memory-file pages, so MAP_SHARED
// mappings (writable ones too: tmpfs is what /dev/shm and shared memory
// are made of) and read/write(2) see the same bytes, and MAP_PRIVATE
// mappings copy a page on their first write to it.
//
// Mapping needs the pages to be in the memory file the address spaces
// map, so only a filesystem given the sandbox's MemoryFile can be mapped;
// one running on the fallback file returns ENODEV, as before.

// ConfigureMMap implements vfs.FileDescriptionImpl: opts is the memory
// manager's *mm.MMapOpts, which gets the file's data as its Mappable.
func (fd *regularFileFD) ConfigureMMap(ctx context.Context, opts any) error {
	o, ok := opts.(*mm.MMapOpts)
	f := fd.file
	if !ok || !f.fs.mappable {
		return linux.ENODEV
	}
	// The system call layer checks these too; in-kernel callers (the
	// loader) get the same rules.
	if !fd.vfsfd.IsReadable() {
		return linux.EACCES
	}
	if !o.Private && !fd.vfsfd.IsWritable() {
		if o.Perms.Write {
			return linux.EACCES
		}
		o.MaxPerms.Write = false
	}
	if !o.Private {
		f.mu.RLock()
		sealed := f.seals&writeSeals != 0
		f.mu.RUnlock()
		if sealed {
			// A write-sealed file takes no new writable shared
			// mapping, nor one that mprotect could make writable.
			if o.Perms.Write {
				return linux.EPERM
			}
			o.MaxPerms.Write = false
		}
	}
	if o.Name == "" {
		name := f.fs.VirtualFilesystem().PathnameWithDeleted(vfs.VirtualDentry{}, fd.vfsfd.VirtualDentry())
		f.data.mu.Lock()
		f.data.name = name
		f.data.mu.Unlock()
	}
	o.Mappable = f.data
	return nil
}

// Name implements memmap.Mappable.
func (d *fileData) Name() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.name
}

// DeviceInode implements memmap.DeviceInode for /proc/PID/maps.
func (d *fileData) DeviceInode() (major, minor uint32, ino uint64) {
	return 0, d.fs.devMinor, d.ino
}

// memoryFiler is what an address space that maps memory-file pages tells
// about the file it maps (mm.MemoryManager does).
type memoryFiler interface {
	MemoryFile() *pgalloc.MemoryFile
}

// AddMapping implements memmap.Mappable. The mapping keeps the data
// alive after the file is unlinked and closed.
func (d *fileData) AddMapping(ms memmap.MappingSpace, ar memmap.AddrRange, offset uint64, writable bool) error {
	// Offsets into another memory file would map someone else's memory.
	if m, ok := ms.(memoryFiler); ok && m.MemoryFile() != d.fs.mf {
		return linux.ENODEV
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refs <= 0 {
		return linux.EIO
	}
	d.mappings.Add(ms, ar, offset, writable)
	d.refs++
	return nil
}

// RemoveMapping implements memmap.Mappable.
func (d *fileData) RemoveMapping(ms memmap.MappingSpace, ar memmap.AddrRange, offset uint64, writable bool) {
	d.mu.Lock()
	d.mappings.Remove(ms, ar, offset, writable)
	d.mu.Unlock()
	d.decRef()
}

// GetPages implements memmap.Mappable. Faulting on a hole allocates a page
// and charges it, as Linux's shmem does on any fault; past the size limit
// that fails with ENOSPC.
func (d *fileData) GetPages(offset uint64, pages []uint64, write bool) (int, error) {
	if offset%linux.PageSize != 0 {
		panic(fmt.Sprintf("tmpfs: GetPages at unaligned offset %#x", offset))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range pages {
		pos := offset + uint64(i)*linux.PageSize
		if pos >= d.size || d.pages == nil {
			return i, memmap.ErrBeyondEOF
		}
		fo, _, err := d.pageLocked(pos / linux.PageSize)
		if err != nil {
			return i, err
		}
		d.fs.mf.IncRef(pageRange(fo))
		pages[i] = fo
	}
	return len(pages), nil
}
