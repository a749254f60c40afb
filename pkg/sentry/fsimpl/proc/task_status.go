package proc

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// statusData is /proc/PID/status, in Linux's line order. Lines whose
// value the kernel does not track are left out rather than made up:
// VmPeak, VmLib, VmPTE, RssShmem, SigQ, the speculation lines and the
// context switch counts.
type statusData struct {
	fs *filesystem
	t  *kernel.Task
}

func (d *statusData) generate(ctx context.Context, b *bytes.Buffer) error {
	t := d.t
	s := t.ProcStatus(d.fs.ns, readerTask(ctx))
	fmt.Fprintf(b, "Name:\t%s\n", escapeComm(s.Comm))
	if fsc := t.ProcFSContext(); fsc != nil {
		fmt.Fprintf(b, "Umask:\t%04o\n", fsc.Umask())
	}
	fmt.Fprintf(b, "State:\t%s\n", s.State)
	fmt.Fprintf(b, "Tgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t%d\n", s.TGID, s.TID, s.PPID, t.TracerPID(d.fs.ns))
	if c := s.Creds; c != nil {
		ns := c.UserNamespace
		fmt.Fprintf(b, "Uid:\t%d\t%d\t%d\t%d\n", ns.MapFromKUID(c.RealKUID), ns.MapFromKUID(c.EffectiveKUID), ns.MapFromKUID(c.SavedKUID), ns.MapFromKUID(c.FSKUID))
		fmt.Fprintf(b, "Gid:\t%d\t%d\t%d\t%d\n", ns.MapFromKGID(c.RealKGID), ns.MapFromKGID(c.EffectiveKGID), ns.MapFromKGID(c.SavedKGID), ns.MapFromKGID(c.FSKGID))
	}
	fmt.Fprintf(b, "FDSize:\t%d\n", fdSize(t.ProcFDTable()))
	b.WriteString("Groups:\t")
	if c := s.Creds; c != nil {
		for i, g := range c.ExtraKGIDs {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(b, "%d", c.UserNamespace.MapFromKGID(g))
		}
	}
	// Linux ends the list with a space, even when it is empty.
	b.WriteString(" \n")
	writeIDList(b, "NStgid", s.NSTGID)
	writeIDList(b, "NSpid", s.NSPID)
	writeIDList(b, "NSpgid", s.NSPGID)
	writeIDList(b, "NSsid", s.NSSID)
	b.WriteString("Kthread:\t0\n")
	withMM(t, func(m *mm.MemoryManager) {
		st := m.Stats()
		kb := func(name string, v uint64) { fmt.Fprintf(b, "%s:\t%8d kB\n", name, v>>10) }
		kb("VmSize", st.VirtualSize)
		kb("VmLck", st.Locked)
		kb("VmPin", 0)
		kb("VmHWM", st.MaxResident)
		kb("VmRSS", st.Resident)
		kb("RssAnon", st.ResidentAnon)
		kb("RssFile", st.ResidentFile)
		kb("VmData", st.Data)
		kb("VmStk", st.Stack)
		kb("VmExe", st.Exec)
		kb("VmSwap", 0)
	})
	fmt.Fprintf(b, "Threads:\t%d\n", s.Threads)
	fmt.Fprintf(b, "SigPnd:\t%016x\nShdPnd:\t%016x\nSigBlk:\t%016x\nSigIgn:\t%016x\nSigCgt:\t%016x\n",
		uint64(s.Pending), uint64(s.SharedPending), uint64(s.Blocked), uint64(s.Ignored), uint64(s.Caught))
	if c := s.Creds; c != nil {
		fmt.Fprintf(b, "CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\nCapBnd:\t%016x\nCapAmb:\t%016x\n",
			uint64(c.InheritableCaps), uint64(c.PermittedCaps), uint64(c.EffectiveCaps), uint64(c.BoundingCaps), uint64(c.AmbientCaps))
	}
	writeSeccompStatus(b, t)
	n := d.fs.ft.Info.NumCPUs
	fmt.Fprintf(b, "Cpus_allowed:\t%s\nCpus_allowed_list:\t%s\n", cpuMask(n), cpuList(n))
	return nil
}

func writeIDList(b *bytes.Buffer, name string, ids []kernel.ThreadID) {
	b.WriteString(name)
	b.WriteString(":")
	for _, id := range ids {
		fmt.Fprintf(b, "\t%d", id)
	}
	b.WriteByte('\n')
}

// escapeComm escapes a task name as status shows it.
func escapeComm(s string) string {
	return strings.NewReplacer("\\", "\\\\", "\n", "\\n").Replace(s)
}

// fdSize is status's FDSize: the capacity of Linux's descriptor array for
// the highest open descriptor (64, then 128 and doubling).
func fdSize(table *vfs.FDTable) int {
	if table == nil {
		return 0
	}
	highest := int32(-1)
	table.ForEach(func(fd int32, _ *vfs.FileDescription, _ vfs.FDFlags) { highest = max(highest, fd) })
	if highest < 64 {
		return 64
	}
	n := int(highest) / 128
	p := 1
	for p < n+1 {
		p <<= 1
	}
	return p * 128
}

// cpuMask formats a mask of n CPUs as Linux's %*pb: 32-bit hex groups,
// most significant first, separated by commas, the first one only as
// wide as it needs to be.
func cpuMask(n int) string {
	var groups []string
	for lo := 0; lo < n; lo += 32 {
		bits := min(n-lo, 32)
		v := uint64(1)<<bits - 1
		width := 8
		if lo+32 >= n {
			width = (bits + 3) / 4
		}
		groups = append(groups, fmt.Sprintf("%0*x", width, v))
	}
	for i, j := 0, len(groups)-1; i < j; i, j = i+1, j-1 {
		groups[i], groups[j] = groups[j], groups[i]
	}
	return strings.Join(groups, ",")
}

// cpuList formats CPUs 0..n-1 as Linux's %*pbl.
func cpuList(n int) string {
	if n == 1 {
		return "0"
	}
	return fmt.Sprintf("0-%d", n-1)
}

// statData is /proc/PID/stat (or task/TID/stat): the 52 fields of
// proc(5). Fields the kernel does not track are 0, as Linux shows them
// where they do not apply: fault counts, CPU times (not yet accounted),
// start time, code and data bounds.
type statData struct {
	fs      *filesystem
	t       *kernel.Task
	process bool
}

func (d *statData) generate(ctx context.Context, b *bytes.Buffer) error {
	t := d.t
	s := t.ProcStatus(d.fs.ns, readerTask(ctx))
	id := s.TID
	if d.process {
		id = s.TGID
	}
	var st mm.Stats
	var brkStart uintptr
	withMM(t, func(m *mm.MemoryManager) {
		st = m.Stats()
		brkStart, _ = m.BrkRange()
	})
	var stackStart, argStart, argEnd, envStart, envEnd uint64
	if img := t.ProcImage(); img != nil && st.VirtualSize != 0 {
		stackStart, argStart, argEnd, envStart, envEnd = img.StackStart, img.ArgvStart, img.ArgvEnd, img.EnvvStart, img.EnvvEnd
	}
	const rlimInfinity = ^uint64(0)
	fmt.Fprintf(b, "%d (%s) %c %d %d %d", id, s.Comm, byte(s.State), s.PPID, s.PGID, s.SID)
	ttyNr, tpgid := t.ThreadGroup().TTYStat(d.fs.ns)
	fmt.Fprintf(b, " %d %d", ttyNr, tpgid)
	// flags, minflt, cminflt, majflt, cmajflt, utime, stime, cutime,
	// cstime.
	b.WriteString(" 0 0 0 0 0 0 0 0 0")
	// priority and nice: every task runs at nice 0.
	b.WriteString(" 20 0")
	fmt.Fprintf(b, " %d 0 0 %d %d %d", s.Threads, st.VirtualSize, st.Resident/linux.PageSize, rlimInfinity)
	// startcode, endcode, startstack, kstkesp, kstkeip.
	fmt.Fprintf(b, " 0 0 %d 0 0", stackStart)
	// signal, blocked, sigignore, sigcatch (decimal, as Linux prints
	// them), wchan, nswap, cnswap.
	fmt.Fprintf(b, " %d %d %d %d 0 0 0", uint64(s.Pending|s.SharedPending), uint64(s.Blocked), uint64(s.Ignored), uint64(s.Caught))
	// exit_signal, processor, rt_priority, policy (SCHED_OTHER),
	// delayacct_blkio_ticks, guest_time, cguest_time.
	// Threads have no exit signal: Linux shows -1.
	exitSignal := int(s.ExitSignal)
	if !t.IsLeader() {
		exitSignal = -1
	}
	fmt.Fprintf(b, " %d 0 0 0 0 0 0", exitSignal)
	// start_data, end_data, start_brk, arg_start, arg_end, env_start,
	// env_end, exit_code.
	fmt.Fprintf(b, " 0 0 %d %d %d %d %d 0\n", brkStart, argStart, argEnd, envStart, envEnd)
	return nil
}

// statmData is /proc/PID/statm, in pages: size resident shared text lib
// data dt (lib and dt are always 0 on current Linux).
type statmData struct{ t *kernel.Task }

func (d *statmData) generate(_ context.Context, b *bytes.Buffer) error {
	var st mm.Stats
	withMM(d.t, func(m *mm.MemoryManager) { st = m.Stats() })
	p := func(v uint64) uint64 { return v / linux.PageSize }
	fmt.Fprintf(b, "%d %d %d %d 0 %d 0\n", p(st.VirtualSize), p(st.Resident), p(st.ResidentFile), p(st.Exec), p(st.Data+st.Stack))
	return nil
}

// commData is /proc/PID/comm. The kernel keeps no settable task name
// yet (prctl PR_SET_NAME), so the file is read-only: the name is the
// program's, set at execve.
type commData struct{ t *kernel.Task }

func (d *commData) generate(_ context.Context, b *bytes.Buffer) error {
	var name string
	if img := d.t.ProcImage(); img != nil {
		name = img.Comm
	}
	b.WriteString(name)
	b.WriteByte('\n')
	return nil
}

// cgroupData is /proc/PID/cgroup: the sandbox shows a single cgroup v2
// hierarchy with every process at its root.
func cgroupData(_ context.Context, b *bytes.Buffer) error {
	b.WriteString("0::/\n")
	return nil
}
