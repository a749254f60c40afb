package cgroupfs

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"appkernel.dev/appkernel/pkg/sentry/fsimpl/attrtree"
)

// Controllers are the controllers the cgroup shows, in the order Linux
// lists them.
var Controllers = []string{"cpu", "memory", "pids"}

// newRoot builds the cgroup's directory: the core interface files a
// non-root cgroup has (cgroup-v2.rst, "Core Interface Files") and those
// of its controllers that a runtime reads. The container's cgroup has
// no children, so it is populated, not frozen, and delegates no
// controller.
func (fs *filesystem) newRoot() *attrtree.Dir {
	t := &fs.tree
	d := t.NewStaticDir(nil)
	lim := &fs.ft.Limits
	line := func(s string) *attrtree.File { return t.NewConstFile(s + "\n") }
	gen := func(f func() string) *attrtree.File {
		return t.NewFile(func(context.Context) (string, error) { return f() + "\n", nil })
	}

	d.Add("cgroup.controllers", line(strings.Join(Controllers, " ")))
	d.Add("cgroup.events", t.NewConstFile("populated 1\nfrozen 0\n"))
	d.Add("cgroup.max.depth", line("max"))
	d.Add("cgroup.max.descendants", line("max"))
	d.Add("cgroup.procs", t.NewFile(fs.procs))
	d.Add("cgroup.stat", t.NewConstFile("nr_descendants 0\nnr_dying_descendants 0\n"))
	d.Add("cgroup.subtree_control", line(""))
	d.Add("cgroup.threads", t.NewFile(fs.threads))
	d.Add("cgroup.type", line("domain"))

	d.Add("cpu.max", line(fmt.Sprintf("%s %d", lim.CPUQuota, lim.cpuPeriod())))
	d.Add("cpu.stat", t.NewFile(fs.cpuStat))
	d.Add("cpu.weight", line(strconv.FormatUint(lim.cpuWeight(), 10)))

	d.Add("memory.current", gen(func() string { return strconv.FormatUint(fs.memoryCurrent(), 10) }))
	d.Add("memory.high", line("max"))
	d.Add("memory.low", line("0"))
	d.Add("memory.max", line(lim.MemoryMax.String()))
	d.Add("memory.min", line("0"))
	// The sandbox's memory is the host's to swap: none of it is known
	// to be swapped out.
	d.Add("memory.swap.current", line("0"))
	d.Add("memory.swap.max", line(lim.MemorySwapMax.String()))

	d.Add("pids.current", gen(func() string { return strconv.Itoa(fs.ft.Kernel.LiveTaskCount()) }))
	d.Add("pids.max", line(lim.PidsMax.String()))
	return d.Dir()
}

// memoryCurrent is the memory the sandbox's tasks use: what the memory
// file has allocated to them.
func (fs *filesystem) memoryCurrent() uint64 {
	if mf := fs.ft.Kernel.MemoryFile; mf != nil {
		return mf.Allocated()
	}
	return 0
}

// cpuStat is cpu.stat: the CPU time of the sandbox's tasks, live and
// exited. The sandbox never throttles its tasks (the host's cgroup
// around it does, unseen), so the bandwidth counters stay 0.
func (fs *filesystem) cpuStat(context.Context) (string, error) {
	u := fs.ft.Kernel.CPUUsage()
	user, sys := uint64(u.User.Microseconds()), uint64(u.System.Microseconds())
	return fmt.Sprintf("usage_usec %d\nuser_usec %d\nsystem_usec %d\n"+
		"nr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n",
		user+sys, user, sys), nil
}
