package mm

// PatchSyscall does nothing on arm64: no platform there enters the Sentry
// faster through a rewritten call site.
func (mm *MemoryManager) PatchSyscall(rip uintptr, nr uint64, entry uintptr) {}

// IsPatchedSyscall reports false on arm64, which has no patched sites.
func (mm *MemoryManager) IsPatchedSyscall(rip uintptr) bool { return false }

func (mm *MemoryManager) unpatchLocked(start, end uintptr) {}

// SiteOfTrampoline reports false on arm64, which has no trampolines.
func (mm *MemoryManager) SiteOfTrampoline(ip uintptr) (uintptr, bool) { return 0, false }

func overlapsPatchArea(start, end uintptr) bool { return false }
