package kernel

import (
	"golang.org/x/sys/unix"
)

// System-wide figures for sysinfo(2), as the sandbox sees them.

// hostTotalRAM and hostTotalSwap are the host's memory sizes, read once
// at start: the sandbox has no memory limit of its own yet, so the host's
// memory is what it may use.
var hostTotalRAM, hostTotalSwap = func() (uint64, uint64) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0, 0
	}
	unit := uint64(max(si.Unit, 1))
	return uint64(si.Totalram) * unit, uint64(si.Totalswap) * unit
}()

// MemoryInfo returns the sandbox's total memory and how much of it the
// application has not allocated, in bytes.
func (k *Kernel) MemoryInfo() (total, free, swap uint64) {
	total = hostTotalRAM
	var used uint64
	if k.MemoryFile != nil {
		used = k.MemoryFile.Allocated()
	}
	if used < total {
		free = total - used
	}
	return total, free, hostTotalSwap
}

// LiveTaskCount returns how many tasks exist (sysinfo's procs).
func (k *Kernel) LiveTaskCount() int {
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	return len(k.rootPIDNS.tids)
}
