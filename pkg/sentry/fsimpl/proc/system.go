package proc

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"appkernel.dev/appkernel/pkg/sentry/fsimpl/cgroupfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// systemFile is one of /proc's files about the whole sandbox.
type systemFile struct {
	name string
	gen  generator
}

func (fs *filesystem) systemFiles() []systemFile {
	return []systemFile{
		{"cgroups", generatorFunc(fs.cgroups)},
		{"cpuinfo", generatorFunc(fs.cpuinfo)},
		{"filesystems", generatorFunc(fs.filesystems)},
		{"loadavg", generatorFunc(fs.loadavg)},
		{"meminfo", generatorFunc(fs.meminfo)},
		{"stat", generatorFunc(fs.stat)},
		{"uptime", generatorFunc(fs.uptime)},
		{"version", generatorFunc(fs.version)},
	}
}

// cgroups lists the controllers of the sandbox's one cgroup v2 hierarchy
// (package cgroupfs), with hierarchy 0 as Linux gives v2's: runtimes
// such as the JVM look here before they look for a cgroup2 mount.
func (fs *filesystem) cgroups(_ context.Context, b *bytes.Buffer) error {
	b.WriteString("#subsys_name\thierarchy\tnum_cgroups\tenabled\n")
	for _, c := range cgroupfs.Controllers {
		fmt.Fprintf(b, "%s\t0\t1\t1\n", c)
	}
	return nil
}

func (fs *filesystem) cpuinfo(_ context.Context, b *bytes.Buffer) error {
	b.WriteString(fs.ft.Info.CPUInfo)
	return nil
}

// filesystems lists the types mount(2) accepts. None needs a block
// device in the sandbox, so every one is "nodev".
func (fs *filesystem) filesystems(_ context.Context, b *bytes.Buffer) error {
	names := fs.vfs().FilesystemTypeNames()
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(b, "nodev\t%s\n", n)
	}
	return nil
}

// meminfo reports the sandbox's memory: the total it may use and what
// the memory file has allocated (application memory and tmpfs data,
// which cannot be reclaimed, so MemAvailable equals MemFree). There is
// no swap and no block device, so the swap and buffer lines are 0.
func (fs *filesystem) meminfo(_ context.Context, b *bytes.Buffer) error {
	total := fs.ft.Info.MemTotal
	var used uint64
	if mf := fs.k.MemoryFile; mf != nil {
		used = mf.Allocated()
	}
	free := total - min(used, total)
	kb := func(name string, v uint64) { fmt.Fprintf(b, "%-16s%8d kB\n", name+":", v>>10) }
	kb("MemTotal", total)
	kb("MemFree", free)
	kb("MemAvailable", free)
	kb("Buffers", 0)
	kb("Cached", 0)
	kb("SwapCached", 0)
	kb("SwapTotal", 0)
	kb("SwapFree", 0)
	return nil
}

// stat is /proc/stat. The sandbox's CPU time is its tasks' (kernel's
// task_time.go) and idle is the rest of the CPUs' capacity since boot; it
// is not known per CPU, so each cpuN line has an equal share.
func (fs *filesystem) stat(ctx context.Context, b *bytes.Buffer) error {
	user, sys, idle := fs.cpuTimes()
	n := uint64(max(fs.ft.Info.NumCPUs, 1))
	line := func(name string, user, sys, idle uint64) {
		fmt.Fprintf(b, "%s %d 0 %d %d 0 0 0 0 0 0\n", name, user, sys, idle)
	}
	line("cpu ", user, sys, idle)
	for i := range n {
		line(fmt.Sprintf("cpu%d", i), share(user, n, i), share(sys, n, i), share(idle, n, i))
	}
	running := 0
	if fs.k != nil {
		running = fs.k.RunnableTaskCount()
	} else if t := readerTask(ctx); t != nil && t.ProcID(fs.ns) != 0 {
		running = 1
	}
	fmt.Fprintf(b, "btime %d\nprocs_running %d\nprocs_blocked 0\n", fs.ft.Info.BootTime.Unix(), running)
	return nil
}

// userHZ is the unit of /proc/stat's times (USER_HZ).
const userHZ = 100

// cpuTimes returns the sandbox's user, system and idle time since boot,
// in USER_HZ ticks.
func (fs *filesystem) cpuTimes() (user, sys, idle uint64) {
	var u kernel.Usage
	if fs.k != nil {
		u = fs.k.CPUUsage()
	}
	tick := time.Second / userHZ
	user, sys = uint64(u.User/tick), uint64(u.System/tick)
	capacity := uint64(time.Since(fs.ft.Info.BootTime)/tick) * uint64(max(fs.ft.Info.NumCPUs, 1))
	if busy := user + sys; busy < capacity {
		idle = capacity - busy
	}
	return user, sys, idle
}

// share is the i-th of n near-equal parts of v.
func share(v, n, i uint64) uint64 {
	s := v / n
	if i < v%n {
		s++
	}
	return s
}

// uptime is seconds since the sandbox kernel started, and the idle time
// summed over CPUs: their capacity less what the sandbox's tasks used.
func (fs *filesystem) uptime(_ context.Context, b *bytes.Buffer) error {
	up := time.Since(fs.ft.Info.BootTime).Seconds()
	_, _, idle := fs.cpuTimes()
	fmt.Fprintf(b, "%.2f %.2f\n", up, float64(idle)/userHZ)
	return nil
}

func (fs *filesystem) version(_ context.Context, b *bytes.Buffer) error {
	fmt.Fprintf(b, "Linux version %s (appkernel@appkernel) %s\n", fs.ft.Info.OSRelease, fs.ft.Info.KernelVersion)
	return nil
}
