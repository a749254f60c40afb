package mm

// PatchSyscall does nothing on arm64: no platform there enters the Sentry
// faster through a rewritten call site.
func (mm *MemoryManager) PatchSyscall(rip uintptr, nr uint64, entry uintptr) {}

// PatchedTrap reports an ordinary trap on arm64, which has no rewritten
// sites.
func (mm *MemoryManager) PatchedTrap(ip uintptr, int3 bool) (PatchTrap, uintptr) {
	return PatchTrapNone, ip
}

func (mm *MemoryManager) unpatchLocked(start, end uintptr) {}

// SiteOfTrampoline reports false on arm64, which has no trampolines.
func (mm *MemoryManager) SiteOfTrampoline(ip uintptr) (uintptr, bool) { return 0, false }

func overlapsPatchArea(start, end uintptr) bool { return false }
