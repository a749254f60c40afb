package tmpfs

import (
	"bytes"
	"maps"
	"slices"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
)

// maxFileSize is MAX_LFS_FILESIZE on 64-bit Linux.
const maxFileSize = 1<<63 - 1

// fileData is a regular file's contents: a sparse array of memory-file
// pages. read(2), write(2) and every mapping of the file (mmap.go) use the
// very same pages, so they see each other's bytes. Holes read as zeros and
// hold no page. Each page is charged to the filesystem's size limit for as
// long as fileData holds it.
//
// memmap.PageStore is not used because tmpfs needs what it lacks: hole
// punching, SEEK_DATA/SEEK_HOLE, fallocate without growing the size, and
// a size limit that page faults respect.
//
// fileData never copies to or from application memory: the memory
// manager calls GetPages with its own lock held, so callers copy through
// a kernel buffer outside mu (regular_file.go).
//
// +stateify savable
type fileData struct {
	fs *filesystem
	// ino is the file's inode number, for /proc/PID/maps.
	ino uint64

	// mu guards the fields below. Lock order: inode.mu, then mu, then
	// filesystem.mu and the memory file's lock. Invalidations of mappings
	// are made after mu is dropped.
	mu sync.Mutex // +state:nosave

	size uint64
	// pages maps a page index to the memory-file offset of the page
	// holding it; fileData holds one reference on each.
	pages map[uint64]uint64
	// mappings records where the file is mapped.
	mappings memmap.MappingSet
	// refs is 1 while the file has links or open descriptions, plus one
	// per mapping; the pages go back to the memory file at 0.
	refs int64
	// name is what /proc/PID/maps shows: the path the file was last
	// mapped by.
	name string

	// savedPages carries the contents of the pages through a checkpoint
	// when they are in the fallback memory file, which nothing else
	// saves; it is set only between beforeSave and afterLoad.
	savedPages map[uint64][]byte
}

func (d *fileData) init(fs *filesystem, ino uint64) {
	d.fs, d.ino, d.refs = fs, ino, 1
	d.pages = make(map[uint64]uint64)
}

func pageRange(fo uint64) pgalloc.Range { return pgalloc.Range{Start: fo, End: fo + linux.PageSize} }

// sizeAndUsage returns the size and the number of pages held.
func (d *fileData) sizeAndUsage() (size, pages uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.size, uint64(len(d.pages))
}

// decRef drops a reference; the last one returns every page.
func (d *fileData) decRef() {
	d.mu.Lock()
	d.refs--
	if d.refs > 0 {
		d.mu.Unlock()
		return
	}
	if d.refs < 0 {
		d.mu.Unlock()
		panic("tmpfs: fileData reference count below zero")
	}
	pages := d.pages
	d.pages = nil
	d.size = 0
	d.mu.Unlock()
	d.freePages(slices.Collect(maps.Values(pages)))
}

// freePages returns pages to the memory file and their charge to the
// filesystem.
func (d *fileData) freePages(fos []uint64) {
	for _, fo := range fos {
		d.fs.mf.DecRef(pageRange(fo))
	}
	d.fs.uncharge(uint64(len(fos)))
}

// pageLocked returns the memory-file offset of page idx, allocating and
// charging it if it is a hole. fresh reports a new page.
func (d *fileData) pageLocked(idx uint64) (fo uint64, fresh bool, err error) {
	if fo, ok := d.pages[idx]; ok {
		return fo, false, nil
	}
	if d.fs.mf == nil {
		return 0, false, linux.ENOMEM
	}
	if err := d.fs.charge(1); err != nil {
		return 0, false, err
	}
	r, err := d.fs.mf.Allocate(linux.PageSize)
	if err != nil {
		d.fs.uncharge(1)
		return 0, false, linux.ENOMEM
	}
	d.pages[idx] = r.Start
	return r.Start, true, nil
}

// readAt copies the file's bytes at off into dst, stopping at the end of
// the file, and returns the count.
func (d *fileData) readAt(dst []byte, off uint64) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off >= d.size {
		return 0
	}
	if rem := d.size - off; uint64(len(dst)) > rem {
		dst = dst[:rem]
	}
	for done := 0; done < len(dst); {
		pos := off + uint64(done)
		in := pos % linux.PageSize
		n := int(min(uint64(len(dst)-done), linux.PageSize-in))
		if fo, ok := d.pages[pos/linux.PageSize]; ok {
			copy(dst[done:done+n], d.fs.mf.Slice(pgalloc.Range{Start: fo + in, End: fo + in + uint64(n)}))
		} else {
			clear(dst[done : done+n])
		}
		done += n
	}
	return len(dst)
}

// writeAt copies src to the file at off, growing it to cover what was
// written. The write stops short at the first page that cannot be had
// (ENOSPC at the size limit, ENOMEM); the error comes with the count.
func (d *fileData) writeAt(src []byte, off uint64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pages == nil {
		// Released: nothing can write to a file nobody has.
		return 0, linux.EIO
	}
	done := 0
	var err error
	for done < len(src) {
		pos := off + uint64(done)
		in := pos % linux.PageSize
		n := int(min(uint64(len(src)-done), linux.PageSize-in))
		var fo uint64
		if fo, _, err = d.pageLocked(pos / linux.PageSize); err != nil {
			break
		}
		copy(d.fs.mf.Slice(pgalloc.Range{Start: fo + in, End: fo + in + uint64(n)}), src[done:done+n])
		done += n
	}
	if end := off + uint64(done); end > d.size {
		d.size = end
	}
	return done, err
}

// truncate sets the size. Shrinking discards the bytes past the new end
// (so growing again reads zeros) and makes every mapping fault again
// there, which past the end raises SIGBUS.
func (d *fileData) truncate(size uint64) error {
	if size > maxFileSize {
		return linux.EFBIG
	}
	d.mu.Lock()
	old := d.size
	d.size = size
	if size >= old {
		d.mu.Unlock()
		return nil
	}
	if in := size % linux.PageSize; in != 0 {
		if fo, ok := d.pages[size/linux.PageSize]; ok {
			clear(d.fs.mf.Slice(pgalloc.Range{Start: fo + in, End: fo + linux.PageSize}))
		}
	}
	firstGone := (size + linux.PageSize - 1) / linux.PageSize
	var dead []uint64
	for idx, fo := range d.pages {
		if idx >= firstGone {
			dead = append(dead, fo)
			delete(d.pages, idx)
		}
	}
	inv := d.mappings.Affected(firstGone*linux.PageSize, ^uint64(0))
	d.mu.Unlock()
	// Invalidate before freeing, so that no address space keeps using a
	// page the file has given up (its references would keep the page
	// alive, but its contents would no longer be the file's).
	for _, i := range inv {
		i.MS.Invalidate(i.AR)
	}
	d.freePages(dead)
	return nil
}

// allocate makes sure [off, off+length) has pages, growing the size to
// cover it unless keepSize. On failure the pages it allocated are given
// back, as Linux's shmem_fallocate does, and the size is unchanged.
func (d *fileData) allocate(off, length uint64, keepSize bool) error {
	end := off + length
	if end < off || end > maxFileSize {
		return linux.EFBIG
	}
	d.mu.Lock()
	var fresh []uint64
	for idx := off / linux.PageSize; idx*linux.PageSize < end; idx++ {
		_, isNew, err := d.pageLocked(idx)
		if err != nil {
			var dead []uint64
			for _, i := range fresh {
				dead = append(dead, d.pages[i])
				delete(d.pages, i)
			}
			d.mu.Unlock()
			// Nobody can hold the new pages: they were holes, which
			// neither mappings nor read(2) had pages for.
			d.freePages(dead)
			return err
		}
		if isNew {
			fresh = append(fresh, idx)
		}
	}
	if !keepSize && end > d.size {
		d.size = end
	}
	d.mu.Unlock()
	return nil
}

// punch zeroes [off, off+length) clipped to the size, returning whole
// pages to the memory file. Mappings of the freed pages fault again and
// get fresh zero pages.
func (d *fileData) punch(off, length uint64) {
	d.mu.Lock()
	end := min(off+length, d.size)
	if off >= end {
		d.mu.Unlock()
		return
	}
	var dead []uint64
	var invStart, invEnd uint64
	for pos := off; pos < end; {
		idx, in := pos/linux.PageSize, pos%linux.PageSize
		n := min(end-pos, linux.PageSize-in)
		if fo, ok := d.pages[idx]; ok {
			if n == linux.PageSize {
				dead = append(dead, fo)
				delete(d.pages, idx)
				if invEnd == 0 {
					invStart = pos
				}
				invEnd = pos + n
			} else {
				// Shared mappings see the zeros at once: same page.
				clear(d.fs.mf.Slice(pgalloc.Range{Start: fo + in, End: fo + in + n}))
			}
		}
		pos += n
	}
	var inv []memmap.Invalidation
	if invEnd != 0 {
		inv = d.mappings.Affected(invStart, invEnd)
	}
	d.mu.Unlock()
	for _, i := range inv {
		i.MS.Invalidate(i.AR)
	}
	d.freePages(dead)
}

// seekData returns the first offset at or after off that lies in a page
// and below the size, or ENXIO.
func (d *fileData) seekData(off int64) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off < 0 || uint64(off) >= d.size {
		return 0, linux.ENXIO
	}
	start := uint64(off) / linux.PageSize
	best, found := uint64(0), false
	for idx := range d.pages {
		if idx >= start && (!found || idx < best) {
			best, found = idx, true
		}
	}
	if !found {
		return 0, linux.ENXIO
	}
	pos := max(uint64(off), best*linux.PageSize)
	if pos >= d.size {
		return 0, linux.ENXIO
	}
	return int64(pos), nil
}

// seekHole returns the first offset at or after off in a hole; the end of
// the file counts as one.
func (d *fileData) seekHole(off int64) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off < 0 || uint64(off) >= d.size {
		return 0, linux.ENXIO
	}
	for idx := uint64(off) / linux.PageSize; idx*linux.PageSize < d.size; idx++ {
		if _, ok := d.pages[idx]; !ok {
			return int64(max(uint64(off), idx*linux.PageSize)), nil
		}
	}
	return int64(d.size), nil
}

// beforeSave copies out the pages' contents if the checkpoint will not
// have them (the fallback memory file). The sandbox's memory file is
// saved with its contents by the checkpoint itself, and pages keeps its
// offsets.
func (d *fileData) beforeSave() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.savedPages = nil
	if d.fs.sandboxMF != nil || len(d.pages) == 0 {
		return
	}
	d.savedPages = make(map[uint64][]byte, len(d.pages))
	for idx, fo := range d.pages {
		d.savedPages[idx] = bytes.Clone(d.fs.mf.Slice(pageRange(fo)))
	}
}

// afterLoad puts contents saved by beforeSave into fresh pages of the
// fallback memory file. The filesystem's charge for them was saved with it.
func (d *fileData) afterLoad() {
	if d.fs.sandboxMF != nil || d.pages == nil {
		return
	}
	mf := fallbackMemoryFile()
	d.pages = make(map[uint64]uint64, len(d.savedPages))
	for idx, b := range d.savedPages {
		var r pgalloc.Range
		var err error = linux.ENOMEM
		if mf != nil {
			r, err = mf.Allocate(linux.PageSize)
		}
		if err != nil {
			// Like a lost page: the rest of the file stays usable.
			log.Warningf("tmpfs: restoring file %d: %v", d.ino, err)
			d.fs.uncharge(1)
			continue
		}
		copy(mf.Slice(r), b)
		d.pages[idx] = r.Start
	}
	d.savedPages = nil
}
