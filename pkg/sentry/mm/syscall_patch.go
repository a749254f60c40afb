package mm

import (
	"sync"
	"sync/atomic"
)

// syscallPatches is an address space's record of rewritten system call
// sites (syscall_patch_amd64.go).
type syscallPatches struct {
	// mu serializes patching; it comes before MemoryManager.mu.
	mu sync.Mutex

	// off stops patching for good: the area could not be set up (or was
	// restored from a checkpoint without this record), or the
	// application unmapped it.
	off atomic.Bool

	// Guarded by mu: the next free table entry (0 until the area exists),
	// and the sites found not to be patchable.
	next        int
	unpatchable map[uintptr]struct{}

	// sites are the rewritten sites, site i using table entry i+1, and
	// pads the padding that short sites jump to. Guarded by
	// MemoryManager.mu.
	sites []patchedSite
	pads  map[uintptr]struct{}
}

type patchedSite struct {
	addr   uintptr
	insn   [5]byte // the instruction before the syscall, which the trampoline runs
	undone bool    // put back (unpatchLocked)
	short  bool    // xor %eax, %eax; syscall, through padding (patchShortLocked)
}

// forkFrom copies the record of the parent's address space into p, for a
// child whose pages are the parent's. Both mu's are held.
func (p *syscallPatches) forkFrom(parent *syscallPatches) {
	p.off.Store(parent.off.Load())
	p.next = parent.next
	if parent.unpatchable != nil {
		p.unpatchable = make(map[uintptr]struct{}, len(parent.unpatchable))
		for a := range parent.unpatchable {
			p.unpatchable[a] = struct{}{}
		}
	}
	p.sites = append([]patchedSite(nil), parent.sites...)
	if parent.pads != nil {
		p.pads = make(map[uintptr]struct{}, len(parent.pads))
		for a := range parent.pads {
			p.pads[a] = struct{}{}
		}
	}
}

// PatchTrap is what PatchedTrap makes of a trap.
type PatchTrap int

// PatchedTrap's answers.
const (
	PatchTrapNone    PatchTrap = iota // an ordinary trap
	PatchTrapSyscall                  // a system call
	PatchTrapRetry                    // run the code again
)
