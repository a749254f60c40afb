package mm

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// BrkSetup sets the start of the program break (the end of the loaded
// program's data), with an empty heap. The loader calls it.
func (mm *MemoryManager) BrkSetup(addr uintptr) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.brk > mm.brkStart {
		mm.unmapLocked((mm.brkStart+pageMask)&^pageMask, (mm.brk+pageMask)&^pageMask)
	}
	mm.brkStart, mm.brk = addr, addr
}

// Brk moves the program break to addr and returns the new break, like the
// brk system call: on any failure (addr below the start, collision with
// another mapping, no memory) the break stays and its current value is
// returned. Brk(0) returns the current break.
func (mm *MemoryManager) Brk(addr uintptr) uintptr {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.released || addr < mm.brkStart {
		return mm.brk
	}
	oldEnd := (mm.brk + pageMask) &^ pageMask
	newEnd := (addr + pageMask) &^ pageMask
	if newEnd < addr || newEnd > mm.layout.MaxAddr {
		return mm.brk
	}
	switch {
	case newEnd < oldEnd:
		mm.unmapLocked(newEnd, oldEnd)
	case newEnd > oldEnd:
		// The heap may not run into the next mapping, nor into the guard
		// gap below a stack.
		i := mm.findLocked(oldEnd)
		if i < len(mm.vmas) {
			next := mm.vmas[i]
			limit := next.start
			if next.growsDown {
				limit -= min(limit, stackGuardGap)
			}
			if next.start < oldEnd || newEnd > limit {
				return mm.brk
			}
		}
		v := &vma{
			start:    oldEnd,
			end:      newEnd,
			perms:    platform.ReadWrite,
			maxPerms: platform.AnyAccess,
			private:  true,
			locked:   mm.lockAll&linux.MCL_FUTURE != 0,
		}
		mm.insertLocked(v)
	}
	mm.brk = addr
	return addr
}
