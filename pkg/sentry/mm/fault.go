package mm

import (
	"errors"
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// FaultError is a page fault the application must get a signal for.
type FaultError struct {
	Addr uintptr
	// Signal is SIGSEGV or SIGBUS; Code the si_code (SEGV_MAPERR: nothing
	// mapped; SEGV_ACCERR: mapped without the access; BUS_ADRERR: past
	// the end of a mapped object).
	Signal linux.Signal
	Code   int32
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("mm: fault at %#x: %v code %d", e.Addr, e.Signal, e.Code)
}

// ErrFullyMapped is HandleFault's answer to a fault of unknown access on
// a page already mapped with every permission its VMA allows. Threads
// that fault on one fresh page at once see it: the first maps the page,
// the others find it mapped. The caller runs the instruction again; a
// second such fault at the same address is an access the mapping does
// not allow (SIGSEGV, SEGV_ACCERR).
var ErrFullyMapped = errors.New("mm: unknown-access fault on a fully mapped page")

// HandleFault resolves an application page fault at addr that needed
// access at, populating and mapping the page. at may be NoAccess when the
// platform cannot tell the kind of access (ptrace); then the access is
// inferred from the page's state. A *FaultError says which signal to
// deliver; other errors (ENOMEM) are the kernel's to handle.
func (mm *MemoryManager) HandleFault(addr uintptr, at platform.AccessType) error {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.released {
		return &FaultError{addr, linux.SIGSEGV, linux.SEGV_MAPERR}
	}
	v := mm.vmaAtLocked(addr)
	if v == nil {
		if v = mm.growStackLocked(addr); v == nil {
			return &FaultError{addr, linux.SIGSEGV, linux.SEGV_MAPERR}
		}
	}
	allowed := effectivePerms(v.perms)
	pn := addr >> pageShift
	p, present := mm.pages[pn]

	if at == platform.NoAccess {
		switch {
		case allowed == platform.NoAccess:
			return &FaultError{addr, linux.SIGSEGV, linux.SEGV_ACCERR}
		case present && p.plat != platform.NoAccess && p.plat == platformPerms(v, p) && (p.writable || !v.perms.Write):
			// The page is already mapped with everything the VMA allows:
			// either the access was one it does not allow, or another
			// thread's fault mapped the page after this one happened.
			// The caller tells them apart by running the instruction
			// again.
			return ErrFullyMapped
		case present && p.plat.Read && v.perms.Write && !p.writable:
			// Readable already: it must have been a write to a
			// copy-on-write page.
			at = platform.ReadWrite
		default:
			// Populate for reading; a write faults again and lands in the
			// case above.
			at = platform.Read
			if !allowed.Read {
				at = allowed
			}
		}
	}
	if !allowed.SupersetOf(at) {
		return &FaultError{addr, linux.SIGSEGV, linux.SEGV_ACCERR}
	}

	// Populate an aligned block around the fault, within the VMA. Copying
	// is only done for the faulting page.
	r := pagesOf(addr, addr+1)
	if at.Write && present && !p.writable {
		if err := mm.populateLocked(v, r, true, true); err != nil {
			return mm.faultErr(addr, err)
		}
		return nil
	}
	if err := mm.populateLocked(v, r, at.Write, false); err != nil {
		return mm.faultErr(addr, err)
	}
	block := pagesOf(max(v.start, (addr&^(faultAround*pageSize-1))), min(v.end, (addr|(faultAround*pageSize-1))+1))
	// Neighbours: fill holes and map what is there, without write-copying.
	// If that fails part-way (a neighbour's page cannot be allocated), the
	// faulting page itself may not have reached the platform yet: map it
	// alone, or the application would fault on it forever.
	if err := mm.populateLocked(v, block, false, true); err != nil {
		if err := mm.populateLocked(v, r, at.Write, true); err != nil {
			return mm.faultErr(addr, err)
		}
	}
	return nil
}

func (mm *MemoryManager) faultErr(addr uintptr, err error) error {
	if errors.Is(err, memmap.ErrBeyondEOF) {
		return &FaultError{addr, linux.SIGBUS, linux.BUS_ADRERR}
	}
	return err
}

// growStackLocked extends a MAP_GROWSDOWN VMA down to cover addr if addr
// is within the stack rlimit below it and does not come within the guard
// gap of the mapping under it. It returns the VMA, or nil.
func (mm *MemoryManager) growStackLocked(addr uintptr) *vma {
	i := mm.findLocked(addr)
	if i == len(mm.vmas) || !mm.vmas[i].growsDown {
		return nil
	}
	v := mm.vmas[i]
	newStart := addr &^ pageMask
	if uint64(v.end-newStart) > mm.stackLimit || newStart < mm.layout.MinAddr {
		return nil
	}
	if i > 0 {
		prev := mm.vmas[i-1]
		if newStart < prev.end || newStart-prev.end < stackGuardGap {
			return nil
		}
	}
	mm.reshapeLocked(v, newStart, v.end)
	return v
}
