// Package mm is the memory manager of one application address space: the
// Sentry's record of what is mapped where (VMAs), which memory-file page
// backs each populated page, and the platform.AddressSpace that mirrors it
// for the running application. It implements mmap(2) and friends, page
// faults with copy-on-write, fork's address space copy, and the user-memory
// I/O (CopyIn/CopyOut) syscall handlers use.
//
// # Locking
//
// MemoryManager.mu guards everything in the MemoryManager. It is taken for
// reading only by the user-memory I/O fast path and by statistics; every
// change (mmap, faults, populating pages for I/O) takes it for writing.
// platform.AddressSpace calls are made only with mu held for writing, which
// also gives the platform the serialization it requires.
//
// Order: MemoryManager.mu, then a Mappable's lock (memmap.PageStore.mu),
// then pgalloc.MemoryFile.mu. Mappables call MappingSpace.Invalidate with no
// lock held, and it takes mu. Never hold a Mappable's lock while calling
// CopyIn/CopyOut.
package mm

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

const (
	pageSize  = linux.PageSize
	pageShift = linux.PageShift
	pageMask  = pageSize - 1
)

// AddressSpaceFactory creates an empty platform address space; usually
// platform.Platform.NewAddressSpace. Tests pass a fake.
type AddressSpaceFactory func() (platform.AddressSpace, error)

// pte describes one populated page of the address space.
//
// +stateify savable
type pte struct {
	// off is the memory-file offset of the page. The MemoryManager holds a
	// reference on it.
	off uint64
	// private is set when the page is an anonymous or copied-on-write page
	// of a private mapping, which may be shared with forked address spaces
	// but with no Mappable. It is clear for a Mappable's own page.
	private bool
	// writable is set when this address space may write the page in
	// place: a shared mapping's page, or a private page known to have no
	// other user. A private page that might be shared (after fork) has it
	// clear and is copied on the first write.
	writable bool
	// plat is the access the page is mapped with in the platform address
	// space; NoAccess when not mapped there.
	plat platform.AccessType
}

// MemoryManager is one application address space, shared by the threads of
// a process.
//
// +stateify savable
type MemoryManager struct {
	mf *pgalloc.MemoryFile

	// newAS creates platform address spaces, for this MemoryManager and
	// its forks. Rebuilt on restore by the kernel (SetAddressSpaceFactory).
	newAS AddressSpaceFactory // +state:nosave

	// users counts the threads (tasks) using this address space, for
	// IncUsers/DecUsers. savedUsers carries it through a checkpoint.
	users      atomic.Int32 // +state:nosave
	savedUsers int32

	mu sync.RWMutex // +state:nosave

	// The fields below are guarded by mu.

	// as is the platform mirror; nil after Release, and after a restore
	// until the first fault recreates it.
	as platform.AddressSpace // +state:nosave

	// vmas is sorted by start and non-overlapping.
	vmas []*vma
	// pages maps a page number (address >> PageShift) to its page.
	pages map[uintptr]pte

	layout MmapLayout
	// stackLimit is RLIMIT_STACK, bounding growth of MAP_GROWSDOWN VMAs.
	stackLimit uint64

	brkStart, brk uintptr
	stackStart    uintptr

	// maxRSS is the high-water mark of len(pages), in pages.
	maxRSS uint64
	// lockAll holds MCL_FUTURE | MCL_ONFAULT from mlockall, applied to
	// new mappings.
	lockAll int

	released bool

	// patch records rewritten system call sites; it has its own locking.
	patch syscallPatches // +state:nosave
}

// New returns an empty MemoryManager whose pages come from mf and whose
// platform address space newAS creates.
func New(mf *pgalloc.MemoryFile, newAS AddressSpaceFactory) (*MemoryManager, error) {
	as, err := newAS()
	if err != nil {
		return nil, err
	}
	mm := &MemoryManager{
		mf:         mf,
		newAS:      newAS,
		as:         as,
		pages:      make(map[uintptr]pte),
		stackLimit: defaultStackLimit,
	}
	mm.users.Store(1)
	return mm, nil
}

func (mm *MemoryManager) beforeSave() { mm.savedUsers = mm.users.Load() }

// afterLoad restores what the platform side loses: nothing is mapped in the
// (not yet created) platform address space.
func (mm *MemoryManager) afterLoad() {
	mm.users.Store(mm.savedUsers)
	for pn, p := range mm.pages {
		p.plat = platform.NoAccess
		mm.pages[pn] = p
	}
}

// MemoryFile returns the memory file backing this address space.
func (mm *MemoryManager) MemoryFile() *pgalloc.MemoryFile { return mm.mf }

// SetAddressSpaceFactory sets the factory after a restore.
func (mm *MemoryManager) SetAddressSpaceFactory(f AddressSpaceFactory) {
	mm.mu.Lock()
	mm.newAS = f
	mm.mu.Unlock()
}

// AddressSpace returns the platform address space to run threads in,
// creating it if a restore left none; the kernel calls it before running a
// thread. It fails after Release.
func (mm *MemoryManager) AddressSpace() (platform.AddressSpace, error) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.released {
		return nil, linux.EFAULT
	}
	if mm.as == nil {
		as, err := mm.newAS()
		if err != nil {
			return nil, err
		}
		mm.as = as
	}
	return mm.as, nil
}

// IncUsers adds a thread using the address space. It returns false if the
// address space was already released.
func (mm *MemoryManager) IncUsers() bool {
	for {
		n := mm.users.Load()
		if n <= 0 {
			return false
		}
		if mm.users.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Users returns how many tasks use the address space.
func (mm *MemoryManager) Users() int32 { return mm.users.Load() }

// DecUsers removes a thread; the last one releases the address space. New
// starts with one user.
func (mm *MemoryManager) DecUsers() {
	switch n := mm.users.Add(-1); {
	case n == 0:
		mm.Release()
	case n < 0:
		panic("mm: DecUsers without a user")
	}
}

// Release unmaps everything, returning every page to the memory file, and
// destroys the platform address space. The MemoryManager is unusable
// afterwards: I/O returns EFAULT and faults SIGSEGV.
func (mm *MemoryManager) Release() {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.released {
		return
	}
	mm.released = true
	for _, v := range mm.vmas {
		mm.removeMappingLocked(v)
	}
	mm.vmas = nil
	for _, p := range mm.pages {
		mm.decRefPage(p.off)
	}
	mm.pages = nil
	if mm.as != nil {
		mm.as.Release()
		mm.as = nil
	}
}

func (mm *MemoryManager) decRefPage(off uint64) {
	mm.mf.DecRef(pgalloc.Range{Start: off, End: off + pageSize})
}

func (mm *MemoryManager) incRefPage(off uint64) {
	mm.mf.IncRef(pgalloc.Range{Start: off, End: off + pageSize})
}

// SetStackRlimit sets RLIMIT_STACK, which bounds how far MAP_GROWSDOWN
// mappings grow on faults below them.
func (mm *MemoryManager) SetStackRlimit(n uint64) {
	mm.mu.Lock()
	mm.stackLimit = n
	mm.mu.Unlock()
}

// SetStackStart records the initial stack pointer, which identifies the
// [stack] mapping in /proc/PID/maps.
func (mm *MemoryManager) SetStackStart(sp uintptr) {
	mm.mu.Lock()
	mm.stackStart = sp
	mm.mu.Unlock()
}

// Invalidate implements memmap.MappingSpace.Invalidate.
func (mm *MemoryManager) Invalidate(ar memmap.AddrRange) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.released {
		return
	}
	mm.dropPagesLocked(pagesOf(ar.Start, ar.End))
}

// pageRange is a range of page numbers [start, end).
type pageRange struct{ start, end uintptr }

func pagesOf(startAddr, endAddr uintptr) pageRange {
	return pageRange{startAddr >> pageShift, (endAddr + pageMask) >> pageShift}
}

func (r pageRange) len() uintptr { return r.end - r.start }
