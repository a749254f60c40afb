package mm

// Released reports whether the address space is gone (its last user left
// and Release ran). The kernel drops state it keeps per address space,
// such as AIO contexts, once this is true.
func (mm *MemoryManager) Released() bool {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	return mm.released
}
