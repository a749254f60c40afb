package proc

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"
)

// systemFile is one of /proc's files about the whole sandbox.
type systemFile struct {
	name string
	gen  generator
}

func (fs *filesystem) systemFiles() []systemFile {
	return []systemFile{
		{"cpuinfo", generatorFunc(fs.cpuinfo)},
		{"filesystems", generatorFunc(fs.filesystems)},
		{"loadavg", generatorFunc(fs.loadavg)},
		{"meminfo", generatorFunc(fs.meminfo)},
		{"stat", generatorFunc(fs.stat)},
		{"uptime", generatorFunc(fs.uptime)},
		{"version", generatorFunc(fs.version)},
	}
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

// stat is /proc/stat. The kernel does not account CPU time per task yet,
// so the cpu lines are zeros; btime and the process counts are live.
func (fs *filesystem) stat(ctx context.Context, b *bytes.Buffer) error {
	const zeros = " 0 0 0 0 0 0 0 0 0 0\n"
	b.WriteString("cpu " + zeros)
	for i := range fs.ft.Info.NumCPUs {
		fmt.Fprintf(b, "cpu%d%s", i, zeros)
	}
	running := 0
	if t := readerTask(ctx); t != nil && t.ProcID(fs.ns) != 0 {
		running = 1
	}
	fmt.Fprintf(b, "btime %d\nprocs_running %d\nprocs_blocked 0\n", fs.ft.Info.BootTime.Unix(), running)
	return nil
}

// uptime is seconds since the sandbox kernel started, and the idle time
// summed over CPUs: the CPUs' capacity, as no task CPU time is accounted
// yet.
func (fs *filesystem) uptime(_ context.Context, b *bytes.Buffer) error {
	up := time.Since(fs.ft.Info.BootTime).Seconds()
	fmt.Fprintf(b, "%.2f %.2f\n", up, up*float64(fs.ft.Info.NumCPUs))
	return nil
}

func (fs *filesystem) version(_ context.Context, b *bytes.Buffer) error {
	fmt.Fprintf(b, "Linux version %s (appkernel@appkernel) %s\n", fs.ft.Info.OSRelease, fs.ft.Info.KernelVersion)
	return nil
}
