package mm

import (
	"math/rand/v2"
)

const (
	// DefaultMinAddr is Linux's default vm.mmap_min_addr: nothing may be
	// mapped below it, so that NULL dereferences fault.
	DefaultMinAddr = 0x10000

	// defaultStackLimit is the usual RLIMIT_STACK soft limit (8 MiB).
	defaultStackLimit = 8 << 20

	// minGap and the 5/6 cap bound the space Linux leaves between the top
	// of the address space and the mmap base for the stack to grow into.
	minGap = 128 << 20

	// stackGuardGap is Linux's stack_guard_gap (256 pages): MAP_GROWSDOWN
	// mappings never grow closer than this to the mapping below them.
	stackGuardGap = 256 << pageShift
)

// MmapLayout says where mappings go.
//
// +stateify savable
type MmapLayout struct {
	// MinAddr is the lowest address that may be mapped (mmap_min_addr).
	MinAddr uintptr
	// MaxAddr is one past the highest mappable address (the platform's
	// MaxUserAddress).
	MaxAddr uintptr
	// TopDownBase is where top-down placement starts: new mappings go
	// into the highest free gap below it.
	TopDownBase uintptr
	// BottomUpBase is where the bottom-up fallback search starts when no
	// gap below TopDownBase fits.
	BottomUpBase uintptr
	// StackTop is where the loader should put the top of the initial
	// stack.
	StackTop uintptr
}

// NewMmapLayout computes Linux's default layout for an address space
// ending at maxAddr, with RLIMIT_STACK stackLimit. With randomize (ASLR
// on), the stack top and mmap base are moved down by random page-aligned
// amounts, as Linux does with the same ranges of randomness.
func NewMmapLayout(maxAddr uintptr, stackLimit uint64, randomize bool) MmapLayout {
	maxAddr &^= pageMask
	var stackRnd, mmapRnd uintptr
	if randomize {
		stackRnd = uintptr(rand.Uint64N(stackRndPages+1)) << pageShift
		mmapRnd = uintptr(rand.Uint64N(1<<mmapRndBits)) << pageShift
	}
	stackTop := maxAddr - stackRnd
	// The gap leaves room for the stack's rlimit and its random offset.
	gap := uintptr(min(stackLimit, uint64(maxAddr))) + stackGuardGap + stackRnd
	gap = max(gap, minGap)
	gap = min(gap, maxAddr/6*5)
	base := (maxAddr - gap - mmapRnd) &^ pageMask
	return MmapLayout{
		MinAddr:      DefaultMinAddr,
		MaxAddr:      maxAddr,
		TopDownBase:  base,
		BottomUpBase: (maxAddr / 3) &^ pageMask,
		StackTop:     stackTop,
	}
}

// SetMmapLayout sets the layout. The loader calls it before mapping the
// program, with ASLR on or off as the personality says.
func (mm *MemoryManager) SetMmapLayout(l MmapLayout) {
	mm.mu.Lock()
	mm.layout = l
	mm.mu.Unlock()
}

// Layout returns the current layout.
func (mm *MemoryManager) Layout() MmapLayout {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	return mm.layout
}
