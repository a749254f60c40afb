package mm

// PatchSyscall does nothing on arm64: no platform there enters the Sentry
// faster through a rewritten call site.
func (mm *MemoryManager) PatchSyscall(rip uintptr, nr uint64, entry uintptr) {}

// IsPatchedSyscall reports false on arm64, which has no patched sites.
func (mm *MemoryManager) IsPatchedSyscall(rip uintptr) bool { return false }

func (mm *MemoryManager) unpatchLocked() {}

func overlapsPatchArea(start, end uintptr) bool { return false }
