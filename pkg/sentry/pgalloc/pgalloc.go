// Package pgalloc owns the memory file: the one memfd that backs every page
// of application memory in a sandbox. It hands out page-aligned ranges of the
// file, counts references to each page so that copy-on-write and shared
// mappings can share pages, and returns freed pages to the host.
//
// The Sentry maps the whole file into its own address space (Slice), so the
// memory manager and in-Sentry file systems read and write application
// memory with plain Go copies; platforms map the same file (FD) into the
// application's address spaces.
package pgalloc

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

const (
	pageSize  = linux.PageSize
	pageShift = linux.PageShift

	// growChunk is how much the file and the Sentry's mapping of it grow
	// at a time. Growing costs an ftruncate and an mmap, so it is done in
	// large steps; the new space is a hole and costs no memory until
	// written.
	growChunk = 64 << 20

	// DefaultMaxSize is the default largest size the file may reach. It is
	// only address space reserved in the Sentry (PROT_NONE, NORESERVE), not
	// memory.
	DefaultMaxSize = 64 << 30
)

// ErrNoSpace is returned by Allocate when the file cannot grow any more.
var ErrNoSpace = errors.New("pgalloc: memory file is full")

// Range is a range of offsets [Start, End) in the memory file.
//
// +stateify savable
type Range struct {
	Start, End uint64
}

// Length returns End - Start.
func (r Range) Length() uint64 { return r.End - r.Start }

func (r Range) String() string { return fmt.Sprintf("[%#x, %#x)", r.Start, r.End) }

// Options configures New.
type Options struct {
	// Name is the memfd's name, visible in the host's /proc/PID/fd.
	Name string
	// MaxSize caps the file size; 0 means DefaultMaxSize. Rounded up to
	// growChunk.
	MaxSize uint64
}

// MemoryFile is the memory file. All methods are safe for concurrent use.
//
// Lock order: MemoryFile.mu is a leaf; no method calls out while holding it.
//
// +stateify savable
type MemoryFile struct {
	fd int // +state:nosave

	// mapping is the Sentry's view of the whole file: a reservation of
	// maxSize bytes whose first size bytes are a MAP_SHARED mapping of
	// the file. It never moves, so slices of it stay valid.
	mapping []byte // +state:nosave
	maxSize uint64

	mu sync.Mutex // +state:nosave

	// The fields below are guarded by mu.

	// size is the file size, a multiple of growChunk.
	size uint64
	// refs[i] is the reference count of page i; 0 means free (or being
	// freed: in the middle of a hole punch, not yet on the free list).
	refs []int32
	// free holds the free ranges below size, sorted and coalesced.
	free []Range
	// allocated counts pages with a non-zero reference count, in bytes.
	allocated uint64
}

// New creates a memory file.
func New(opts Options) (*MemoryFile, error) {
	name := opts.Name
	if name == "" {
		name = "appkernel-memory"
	}
	maxSize := opts.MaxSize
	if maxSize == 0 {
		maxSize = DefaultMaxSize
	}
	maxSize = (maxSize + growChunk - 1) &^ (growChunk - 1)
	// Close-on-exec so no program the Sentry starts inherits application
	// memory by accident; a platform hands it to its stub processes
	// deliberately (exec.Cmd.ExtraFiles, or a dup, which clears the flag).
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("pgalloc: memfd_create: %w", err)
	}
	mapping, err := unix.Mmap(-1, 0, int(maxSize), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pgalloc: reserving %d bytes: %w", maxSize, err)
	}
	return &MemoryFile{fd: fd, mapping: mapping, maxSize: maxSize}, nil
}

// FD returns the memfd (close-on-exec). It stays owned by the MemoryFile:
// a platform that needs it beyond Destroy, or in a child process, dups it.
func (f *MemoryFile) FD() int { return f.fd }

// Destroy closes the file and unmaps the Sentry's view. No Slice may be
// used afterwards.
func (f *MemoryFile) Destroy() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mapping != nil {
		unix.Munmap(f.mapping)
		f.mapping = nil
	}
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
	f.refs = nil
	f.free = nil
	f.allocated = 0
}

// Allocate returns a range of length bytes (rounded up to pages) holding
// zeros, with a reference count of one on each page. Physical memory is
// committed only when the pages are first written.
func (f *MemoryFile) Allocate(length uint64) (Range, error) {
	if length == 0 {
		return Range{}, fmt.Errorf("pgalloc: zero-length allocation")
	}
	length = (length + pageSize - 1) &^ (pageSize - 1)
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.takeFreeLocked(length)
	if !ok {
		if err := f.growLocked(length); err != nil {
			return Range{}, err
		}
		r, ok = f.takeFreeLocked(length)
		if !ok {
			return Range{}, ErrNoSpace
		}
	}
	for p := r.Start >> pageShift; p < r.End>>pageShift; p++ {
		f.refs[p] = 1
	}
	f.allocated += length
	return r, nil
}

// takeFreeLocked removes the first free range that fits length (first fit,
// lowest offset, which keeps the file compact).
func (f *MemoryFile) takeFreeLocked(length uint64) (Range, bool) {
	for i := range f.free {
		fr := &f.free[i]
		if fr.Length() < length {
			continue
		}
		r := Range{fr.Start, fr.Start + length}
		fr.Start += length
		if fr.Start == fr.End {
			f.free = append(f.free[:i], f.free[i+1:]...)
		}
		return r, true
	}
	return Range{}, false
}

// growLocked extends the file and the Sentry's mapping so that a range of
// length bytes is free at the end.
func (f *MemoryFile) growLocked(length uint64) error {
	if f.mapping == nil {
		return fmt.Errorf("pgalloc: memory file destroyed")
	}
	// Reuse a free tail.
	start := f.size
	if n := len(f.free); n > 0 && f.free[n-1].End == f.size {
		start = f.free[n-1].Start
	}
	newSize := (start + length + growChunk - 1) &^ (growChunk - 1)
	if newSize > f.maxSize || newSize < start {
		return ErrNoSpace
	}
	if err := unix.Ftruncate(f.fd, int64(newSize)); err != nil {
		return fmt.Errorf("pgalloc: growing memory file to %d: %w", newSize, err)
	}
	if _, err := unix.MmapPtr(f.fd, int64(f.size), unsafePointer(f.mapping, f.size), uintptr(newSize-f.size),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_FIXED|unix.MAP_NORESERVE); err != nil {
		return fmt.Errorf("pgalloc: mapping memory file [%#x, %#x): %w", f.size, newSize, err)
	}
	refs := make([]int32, newSize>>pageShift)
	copy(refs, f.refs)
	f.refs = refs
	f.insertFreeLocked(Range{f.size, newSize})
	f.size = newSize
	return nil
}

// insertFreeLocked adds r to the free list, coalescing with neighbours.
func (f *MemoryFile) insertFreeLocked(r Range) {
	// Binary search for the first free range starting after r.
	lo, hi := 0, len(f.free)
	for lo < hi {
		m := (lo + hi) / 2
		if f.free[m].Start < r.Start {
			lo = m + 1
		} else {
			hi = m
		}
	}
	i := lo
	mergePrev := i > 0 && f.free[i-1].End == r.Start
	mergeNext := i < len(f.free) && f.free[i].Start == r.End
	switch {
	case mergePrev && mergeNext:
		f.free[i-1].End = f.free[i].End
		f.free = append(f.free[:i], f.free[i+1:]...)
	case mergePrev:
		f.free[i-1].End = r.End
	case mergeNext:
		f.free[i].Start = r.Start
	default:
		f.free = append(f.free, Range{})
		copy(f.free[i+1:], f.free[i:])
		f.free[i] = r
	}
}

// IncRef takes one more reference on every page of r, which must all be
// allocated.
func (f *MemoryFile) IncRef(r Range) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p := r.Start >> pageShift; p < r.End>>pageShift; p++ {
		if f.refs[p] <= 0 {
			panic(fmt.Sprintf("pgalloc: IncRef of free page %#x", p<<pageShift))
		}
		f.refs[p]++
	}
}

// DecRef drops one reference on every page of r. Pages whose count reaches
// zero are punched out of the file, returning their memory to the host, and
// become free.
func (f *MemoryFile) DecRef(r Range) {
	var stack [4]Range
	dead := stack[:0]
	f.mu.Lock()
	if f.fd < 0 {
		// Destroyed: every page went with the file. Objects released
		// later (by garbage-collection cleanups) have nothing to return.
		f.mu.Unlock()
		return
	}
	for p := r.Start >> pageShift; p < r.End>>pageShift; p++ {
		switch f.refs[p] {
		case 0:
			f.mu.Unlock()
			panic(fmt.Sprintf("pgalloc: DecRef of free page %#x", p<<pageShift))
		case 1:
			off := p << pageShift
			if n := len(dead); n > 0 && dead[n-1].End == off {
				dead[n-1].End += pageSize
			} else {
				dead = append(dead, Range{off, off + pageSize})
			}
			f.allocated -= pageSize
		}
		f.refs[p]--
	}
	f.mu.Unlock()
	if len(dead) == 0 {
		return
	}
	// Punch outside the lock: the pages have no references and are not on
	// the free list yet, so nobody can allocate them while they are being
	// zeroed, and other allocations need not wait for the host.
	for _, d := range dead {
		f.punch(d)
	}
	f.mu.Lock()
	for _, d := range dead {
		f.insertFreeLocked(d)
	}
	f.mu.Unlock()
}

// punch discards the contents of r, so it reads back as zeros and uses no
// memory.
func (f *MemoryFile) punch(r Range) {
	err := unix.Fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(r.Start), int64(r.Length()))
	if err != nil {
		// shmem supports hole punching since Linux 3.5; without it the
		// zero-on-allocate guarantee would be broken, so zero by hand.
		clear(f.mapping[r.Start:r.End])
	}
}

// RefCount returns the reference count of the page at off.
func (f *MemoryFile) RefCount(off uint64) int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := off >> pageShift
	if p >= uint64(len(f.refs)) {
		return 0
	}
	return f.refs[p]
}

// Slice returns the Sentry's view of r. The caller must hold references on
// the pages for as long as it uses the slice. Accessing the slice after the
// pages were freed reads zeros or another owner's data, never faults.
func (f *MemoryFile) Slice(r Range) []byte {
	return f.mapping[r.Start:r.End:r.End]
}

// Allocated returns the bytes in pages that have references.
func (f *MemoryFile) Allocated() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.allocated
}

// Committed returns the bytes of the file that hold memory on the host
// (pages that have been written and not punched since).
func (f *MemoryFile) Committed() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return 0, err
	}
	return uint64(st.Blocks) * 512, nil
}

// Size returns the current file size.
func (f *MemoryFile) Size() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size
}
