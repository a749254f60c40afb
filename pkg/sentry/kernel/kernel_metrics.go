package kernel

import (
	"appkernel.dev/appkernel/pkg/metric"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Sandbox-wide gauges, computed when metrics are read rather than kept
// up to date on every change: they cost nothing while nobody looks.
var (
	tasksGauge = metric.NewGauge("appkernel_tasks",
		"Tasks (threads) alive in the sandbox.", metric.UnitNone, "")
	processesGauge = metric.NewGauge("appkernel_processes",
		"Processes (thread groups) in the sandbox, zombies included.", metric.UnitNone, "")
	openFDsGauge = metric.NewGauge("appkernel_open_fds",
		"File descriptors open in the sandbox, counting each shared descriptor table once.", metric.UnitNone, "")
	cpuCounter = metric.NewCounter("appkernel_cpu_seconds_total",
		"CPU time of the sandbox's processes, live and exited, by mode.", metric.UnitNanoseconds, "mode", "user", "system")
	memoryFileGauge = metric.NewGauge("appkernel_memory_file_bytes",
		"The memory file backing application memory: bytes referenced (allocated), "+
			"bytes holding host memory (committed), and its size.", metric.UnitBytes, "kind", "allocated", "committed", "size")
)

// Label indexes of the gauges above, in registration order.
const (
	cpuUser = iota
	cpuSystem
)

const (
	memAllocated = iota
	memCommitted
	memSize
)

// SampleMetrics brings every sampled metric of the kernel up to date:
// call it right before reading metric.Default.
func (k *Kernel) SampleMetrics() {
	sampleSyscallMetrics()

	k.tasksMu.RLock()
	ns := k.rootPIDNS
	groups := make([]*ThreadGroup, 0, len(ns.groups))
	for _, tg := range ns.groups {
		if !tg.reaped {
			groups = append(groups, tg)
		}
	}
	tasks := make([]*Task, 0, len(ns.tasks))
	for _, t := range ns.tasks {
		if t.exitState == taskRunning {
			tasks = append(tasks, t)
		}
	}
	k.tasksMu.RUnlock()

	tasksGauge.Set(int64(len(tasks)))
	processesGauge.Set(int64(len(groups)))

	// A reaped process's time moves into its reaper's children usage, so
	// summing every unreaped group's own and children's time counts each
	// exited process exactly once.
	var u Usage
	for _, tg := range groups {
		u.add(tg.CPUUsage())
		u.add(tg.ChildrenUsage())
	}
	cpuCounter.StoreMax(cpuUser, uint64(u.User))
	cpuCounter.StoreMax(cpuSystem, uint64(u.System))

	tables := make(map[*vfs.FDTable]struct{}, len(tasks))
	fds := 0
	for _, t := range tasks {
		ft := t.ProcFDTable()
		if ft == nil {
			continue
		}
		if _, seen := tables[ft]; seen {
			continue
		}
		tables[ft] = struct{}{}
		fds += ft.Count()
	}
	openFDsGauge.Set(int64(fds))

	if mf := k.MemoryFile; mf != nil {
		memoryFileGauge.SetLabel(memAllocated, int64(mf.Allocated()))
		memoryFileGauge.SetLabel(memSize, int64(mf.Size()))
		if c, err := mf.Committed(); err == nil {
			memoryFileGauge.SetLabel(memCommitted, int64(c))
		}
	}
}
