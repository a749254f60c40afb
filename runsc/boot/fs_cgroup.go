package boot

import (
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/cgroupfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// cgroupType is the cgroup2 type the sandbox registers: every mount of
// it, the spec's or one the application makes, shows the first
// container's limits.
func cgroupType(k *kernel.Kernel, c CgroupLimits) *cgroupfs.FilesystemType {
	return &cgroupfs.FilesystemType{Kernel: k, Limits: c.v2()}
}

// v2 converts the spec's limits to the values of cgroup v2's interface
// files, as runc and crun write them on a cgroup v2 host.
func (c CgroupLimits) v2() cgroupfs.Limits {
	var l cgroupfs.Limits
	if c.MemoryLimit > 0 {
		l.MemoryMax = cgroupfs.Limited(uint64(c.MemoryLimit))
		// memory.swap is memory plus swap; swap alone is what is left
		// once the memory is counted. Unset or -1 leaves it unlimited.
		if c.MemorySwap >= c.MemoryLimit {
			l.MemorySwapMax = cgroupfs.Limited(uint64(c.MemorySwap - c.MemoryLimit))
		}
	}
	if c.CPUQuota > 0 {
		l.CPUQuota = cgroupfs.Limited(uint64(c.CPUQuota))
	}
	l.CPUPeriod = c.CPUPeriod
	if c.CPUShares != 0 {
		l.CPUWeight = cpuWeight(c.CPUShares)
	}
	if c.PidsLimit > 0 {
		l.PidsMax = cgroupfs.Limited(uint64(c.PidsLimit))
	}
	return l
}

// cpuWeight maps cpu.shares (2 to 262144) linearly onto cpu.weight (1 to
// 10000), the conversion runc and crun use.
func cpuWeight(shares uint64) uint64 {
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}
