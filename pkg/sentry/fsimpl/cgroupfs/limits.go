package cgroupfs

import "strconv"

// Limit is the value of a cgroup limit: a number, or none, which the
// interface files spell "max". The zero Limit is none.
type Limit struct {
	// Value is the limit when Set.
	Value uint64
	Set   bool
}

// Limited returns the limit v.
func Limited(v uint64) Limit { return Limit{Value: v, Set: true} }

// String returns the limit as the interface files show it.
func (l Limit) String() string {
	if !l.Set {
		return "max"
	}
	return strconv.FormatUint(l.Value, 10)
}

// Linux's defaults for a cgroup with no CPU settings.
const (
	// DefaultCPUPeriod is cpu.max's period in microseconds.
	DefaultCPUPeriod = 100000
	// DefaultCPUWeight is cpu.weight.
	DefaultCPUWeight = 100
)

// Limits are a container's cgroup limits, in cgroup v2's terms (the
// runtime converts its spec's values). The zero Limits is a cgroup with
// Linux's defaults: no limits.
type Limits struct {
	// MemoryMax is memory.max, in bytes.
	MemoryMax Limit
	// MemorySwapMax is memory.swap.max, in bytes.
	MemorySwapMax Limit
	// CPUQuota is cpu.max's quota: the CPU time, in microseconds, the
	// cgroup may use each CPUPeriod.
	CPUQuota Limit
	// CPUPeriod is cpu.max's period in microseconds; 0 means
	// DefaultCPUPeriod.
	CPUPeriod uint64
	// CPUWeight is cpu.weight, from 1 to 10000; 0 means
	// DefaultCPUWeight.
	CPUWeight uint64
	// PidsMax is pids.max, in tasks.
	PidsMax Limit
}

func (l *Limits) cpuPeriod() uint64 {
	if l.CPUPeriod == 0 {
		return DefaultCPUPeriod
	}
	return l.CPUPeriod
}

func (l *Limits) cpuWeight() uint64 {
	if l.CPUWeight == 0 {
		return DefaultCPUWeight
	}
	return l.CPUWeight
}
