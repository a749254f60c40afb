// Package memmap is the contract between the memory manager (pkg/sentry/mm)
// and everything an application can mmap: regular files, memfds, SysV shared
// memory, shared anonymous memory.
//
// A Mappable supplies memory-file pages for ranges of its contents. The
// memory manager maps those very pages into the application for MAP_SHARED
// mappings, so writes through the mapping and through read/write(2) on the
// object are coherent, and copies them on first write for MAP_PRIVATE
// mappings. A Mappable also learns where it is mapped, so that truncation
// can take pages away from every address space (MappingSpace.Invalidate).
//
// PageStore is the reusable implementation for objects whose data lives
// only in Sentry memory (tmpfs files, memfd, shm).
//
// Lock order: mm.MemoryManager locks, then Mappable (PageStore) locks, then
// pgalloc.MemoryFile's lock. A Mappable never calls a MappingSpace while
// holding its own lock, and callers must not hold a Mappable's lock while
// copying to or from user memory.
package memmap

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"errors"
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// PageSize is the size of the pages Mappables hand out.
const PageSize = linux.PageSize

// ErrBeyondEOF is returned by Mappable.GetPages for pages at or past the end
// of the object. An access through a mapping there raises SIGBUS.
var ErrBeyondEOF = errors.New("memmap: page beyond end of object")

// AddrRange is a range [Start, End) of application virtual addresses.
//
// +stateify savable
type AddrRange struct {
	Start, End uintptr
}

// Length returns End - Start.
func (ar AddrRange) Length() uintptr { return ar.End - ar.Start }

// Contains reports whether addr is in ar.
func (ar AddrRange) Contains(addr uintptr) bool { return ar.Start <= addr && addr < ar.End }

// Intersect returns the overlap of ar and o (empty if none).
func (ar AddrRange) Intersect(o AddrRange) AddrRange {
	r := AddrRange{max(ar.Start, o.Start), min(ar.End, o.End)}
	if r.Start >= r.End {
		return AddrRange{}
	}
	return r
}

func (ar AddrRange) String() string { return fmt.Sprintf("[%#x, %#x)", ar.Start, ar.End) }

// MappingSpace is an address space that maps Mappables; the memory manager
// implements it.
type MappingSpace interface {
	// Invalidate drops every page the space has installed in ar, which lies
	// within a range the space passed to AddMapping. Later accesses fault
	// and ask the Mappable again (and get ErrBeyondEOF past a truncation).
	// Private copies made from the object are dropped too, as Linux does on
	// truncate.
	Invalidate(ar AddrRange)
}

// Mappable is an object that can be mapped into application address
// spaces.
type Mappable interface {
	// Name is what /proc/PID/maps shows for mappings of the object (a
	// path, "/memfd:name (deleted)", "/SYSV00000000 (deleted)", ...).
	Name() string

	// AddMapping records that ms maps the object's bytes [offset,
	// offset+ar.Length()) at ar. writable is true for shared mappings that
	// may be made writable. The object must stay alive (its pages
	// obtainable) while any mapping exists. Offsets beyond the end of the
	// object are allowed (accesses there raise SIGBUS).
	AddMapping(ms MappingSpace, ar AddrRange, offset uint64, writable bool) error

	// RemoveMapping undoes one AddMapping with identical arguments.
	RemoveMapping(ms MappingSpace, ar AddrRange, offset uint64, writable bool)

	// GetPages fills pages[i] with the memory-file offset of the object's
	// page at offset+i*PageSize (offset is page-aligned), taking one
	// reference on each page for the caller, who releases it with
	// pgalloc.MemoryFile.DecRef. Holes are allocated (as zeros). write says
	// the caller may write to the pages (a shared writable mapping).
	//
	// It returns the number of pages filled; when that is short of
	// len(pages) the error says why (ErrBeyondEOF, or an allocation
	// failure).
	GetPages(offset uint64, pages []uint64, write bool) (int, error)
}

// DeviceInode is optionally implemented by Mappables that have a device
// and inode number to show in /proc/PID/maps (0:0 0 otherwise).
type DeviceInode interface {
	DeviceInode() (major, minor uint32, ino uint64)
}

// Syncer is optionally implemented by Mappables whose pages cache data held
// elsewhere (a host file): msync(MS_SYNC) writes [offset, offset+length)
// back.
type Syncer interface {
	Sync(offset, length uint64) error
}
