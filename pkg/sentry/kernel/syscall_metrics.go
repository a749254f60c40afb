package kernel

import (
	"sync/atomic"
	"unsafe"

	"appkernel.dev/appkernel/pkg/metric"
)

// Per-syscall call counts for the metrics relay. The dispatcher counts
// every call with one atomic add into a fixed array indexed by number:
// no map, no lock, no label lookup on the hot path. The counts are
// copied into the registered metric only when metrics are read
// (SampleMetrics).
//
// The arrays are sharded by task: two tasks making the same call at once
// on two CPUs would otherwise bounce one cache line between them, which
// measured ten times the cost of an uncontended add.

// syscallCounterSlots covers every syscall number of amd64 and arm64
// (both stay below 512); larger numbers, which only a confused or
// hostile program makes, share one counter.
const syscallCounterSlots = 512

// syscallCounterShards is a power of two, more than the CPUs tasks
// usually run on at once.
const syscallCounterShards = 8

var (
	// syscallCounts[s][n] counts calls of syscall number n by tasks of
	// shard s in this process. A sandbox process runs one kernel, so the
	// counts are per sandbox.
	syscallCounts [syscallCounterShards][syscallCounterSlots]atomic.Uint64
	// syscallCountOther counts calls with a number >= syscallCounterSlots.
	syscallCountOther atomic.Uint64
)

// countSyscall records one call of sysno by t, for the metrics and, if
// the sandbox does not fully support it, for the compatibility report.
func (t *Task) countSyscall(sysno uintptr) {
	countSyscallIn(taskShard(t), sysno)
	if sysno >= syscallCounterSlots || compatWatch[sysno] {
		t.noteCompatSyscall(sysno)
	}
}

// taskShard spreads tasks over the shards by address: stable for a
// task's life (the Go heap does not move objects), and free to compute.
func taskShard(t *Task) int {
	p := uintptr(unsafe.Pointer(t))
	return int((p>>8)^(p>>14)) & (syscallCounterShards - 1)
}

func countSyscallIn(shard int, sysno uintptr) {
	if sysno < syscallCounterSlots {
		syscallCounts[shard&(syscallCounterShards-1)][sysno].Add(1)
		return
	}
	syscallCountOther.Add(1)
}

// UnknownSyscallLabel is the syscall label of calls whose number is not a
// system call of the architecture.
const UnknownSyscallLabel = "unknown"

// syscallMetrics are the registered per-syscall metrics, set once by
// RegisterSyscallMetrics.
type syscallMetrics struct {
	calls, unimplemented *metric.Counter
	// labelOf[n] is the label index of syscall number n; the unknown
	// label for numbers that are not syscalls.
	labelOf [syscallCounterSlots]int
	unknown int
	table   *SyscallTable
}

var registeredSyscallMetrics atomic.Pointer[syscallMetrics]

// RegisterSyscallMetrics registers, in metric.Default, the per-syscall
// call and unimplemented-call counters labelled with table's syscall
// names. The syscall table's package calls it from its initialisation,
// so the label values are fixed before anything runs.
func RegisterSyscallMetrics(table *SyscallTable) {
	var names []string
	m := &syscallMetrics{table: table}
	for i := range m.labelOf {
		m.labelOf[i] = -1
	}
	for sysno, s := range table.All() {
		if sysno < syscallCounterSlots {
			m.labelOf[sysno] = len(names)
		}
		names = append(names, s.Name)
	}
	m.unknown = len(names)
	names = append(names, UnknownSyscallLabel)
	for i := range m.labelOf {
		if m.labelOf[i] < 0 {
			m.labelOf[i] = m.unknown
		}
	}
	m.calls = metric.NewCounter("appkernel_syscalls_total",
		"System calls the application made, by name.", metric.UnitNone, "syscall", names...)
	m.unimplemented = metric.NewCounter("appkernel_unimplemented_syscalls_total",
		"System calls that reached no handler (ENOSYS or a refusal), by name.", metric.UnitNone, "syscall", names...)
	if !registeredSyscallMetrics.CompareAndSwap(nil, m) {
		panic("kernel: syscall metrics registered twice")
	}
	watchSyscallsForCompat(table)
}

// sampleSyscallMetrics copies the call counts into the registered
// counters.
func sampleSyscallMetrics() {
	m := registeredSyscallMetrics.Load()
	if m == nil {
		return
	}
	// Several numbers may map to the unknown label; sum them.
	unknownCalls := syscallCountOther.Load()
	for n := range syscallCounterSlots {
		var c uint64
		for s := range syscallCounts {
			c += syscallCounts[s][n].Load()
		}
		if m.labelOf[n] == m.unknown {
			unknownCalls += c
			continue
		}
		m.calls.StoreMax(m.labelOf[n], c)
	}
	m.calls.StoreMax(m.unknown, unknownCalls)

	counts, outOfRange := m.table.UnimplementedCounts()
	unknownUnimpl := outOfRange
	for _, uc := range counts {
		if uc.Sysno < syscallCounterSlots && m.labelOf[uc.Sysno] != m.unknown {
			m.unimplemented.StoreMax(m.labelOf[uc.Sysno], uc.Count)
		} else {
			unknownUnimpl += uc.Count
		}
	}
	m.unimplemented.StoreMax(m.unknown, unknownUnimpl)
}
