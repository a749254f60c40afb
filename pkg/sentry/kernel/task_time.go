package kernel

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// CPU time accounting and the clocks of clock_gettime(2).
//
// A task's user time is the wall time its goroutine spends inside
// platform.Context.Switch, i.e. running application code between two
// traps (time the host deschedules the stub counts too). Its system time
// is, likewise, the wall time its goroutine spends outside Switch handling
// syscalls and faults, minus the time it spends parked (Block, a group
// stop), so sleeping costs nothing. The run loop reports both through
// AccountEnterApp and AccountLeaveApp; parks are bracketed by accountPark
// and accountUnpark.
//
// Wall time is read through the vDSO (tens of nanoseconds). The host's
// per-thread CPU clock would be exact, but reading it is a real host
// syscall (~0.85 us here), twice per trap, and the task goroutine is not
// bound to one host thread on every platform. The approximation: host
// waits that are not parks (a host file read, preemption by the host)
// count as system time.

// taskCPU is a task's CPU time. user and sys are read by other tasks
// (getrusage, CPU clocks, CPU timers); the rest is owned by the task
// goroutine.
type taskCPU struct {
	user, sys atomic.Int64 // nanoseconds

	// enterWall is when the application last started running (zero when
	// it is not running). leaveWall is when the Sentry's current stretch
	// of work on the task began: the trap, or the end of a park (zero
	// while parked or while the application runs).
	enterWall, leaveWall time.Time
	// parked is set while a park interrupts a trip through the Sentry.
	parked bool
}

// chargeSys adds d of system time.
func (t *Task) chargeSys(d time.Duration) {
	if d <= 0 {
		return
	}
	t.extras().cpu.sys.Add(int64(d))
	t.usage.System += d
}

// accountPark must be called by the task goroutine before it parks: it
// charges the Sentry's work so far.
func (t *Task) accountPark() {
	t.k.loadAvg.park()
	t.asleep.Store(true)
	c := &t.extras().cpu
	if c.leaveWall.IsZero() {
		return
	}
	t.chargeSys(time.Since(c.leaveWall))
	c.leaveWall = time.Time{}
	c.parked = true
}

// accountUnpark must be called by the task goroutine when a park ends:
// the Sentry's work resumes.
func (t *Task) accountUnpark() {
	t.k.loadAvg.unpark()
	t.asleep.Store(false)
	c := &t.extras().cpu
	if c.parked {
		c.leaveWall = time.Now()
		c.parked = false
	}
}

// AccountEnterApp must be called by the task goroutine right before it
// switches to application code. It charges the Sentry time since the last
// AccountLeaveApp (or park) as system time.
func (t *Task) AccountEnterApp() {
	c := &t.extras().cpu
	now := time.Now()
	if !c.leaveWall.IsZero() {
		t.chargeSys(now.Sub(c.leaveWall))
		c.leaveWall = time.Time{}
	}
	c.parked = false
	c.enterWall = now
}

// AccountLeaveApp must be called by the task goroutine right after
// application code stopped (a trap, an interruption). It charges the time
// since AccountEnterApp as user time.
func (t *Task) AccountLeaveApp() {
	c := &t.extras().cpu
	now := time.Now()
	if !c.enterWall.IsZero() {
		d := now.Sub(c.enterWall)
		c.user.Add(int64(d))
		t.usage.User += d
		c.enterWall = time.Time{}
	}
	c.leaveWall = now
	c.parked = false
}

// CPUUsage returns t's own CPU time.
func (t *Task) CPUUsage() Usage {
	c := &t.extras().cpu
	return Usage{User: time.Duration(c.user.Load()), System: time.Duration(c.sys.Load())}
}

// CPUUsage returns the CPU time of every thread of tg, live or exited.
func (tg *ThreadGroup) CPUUsage() Usage {
	k := tg.k
	k.tasksMu.RLock()
	tasks := make([]*Task, 0, len(tg.tasks))
	for t := range tg.tasks {
		tasks = append(tasks, t)
	}
	u := tg.exitedUsage
	k.tasksMu.RUnlock()
	// A thread that exits between the unlock and here is counted in
	// neither, never twice: its time moved to exitedUsage after the copy.
	for _, t := range tasks {
		tu := t.CPUUsage()
		u.User += tu.User
		u.System += tu.System
	}
	return u
}

// ChildrenUsage returns the usage of tg's reaped children and their
// reaped descendants (RUSAGE_CHILDREN, times' cutime/cstime).
func (tg *ThreadGroup) ChildrenUsage() Usage {
	tg.k.tasksMu.RLock()
	defer tg.k.tasksMu.RUnlock()
	return tg.childrenUsage
}

// Clock IDs of CPU-time clocks encode a PID and a kind, as Linux's
// CPUCLOCK_* macros do.
func cpuClockPID(c int32) ThreadID   { return ThreadID(^(c >> 3)) }
func cpuClockPerThread(c int32) bool { return c&linux.CPUCLOCK_PERTHREAD_MASK != 0 }
func cpuClockKind(c int32) int32     { return c & linux.CPUCLOCK_CLOCK_MASK }

// cpuClock is a resolved CPU-time clock: a thread or a process, and
// which of its times.
type cpuClock struct {
	task *Task        // per-thread clock
	tg   *ThreadGroup // process clock
	kind int32        // CPUCLOCK_PROF, _VIRT or _SCHED
}

// now returns the clock's value in nanoseconds.
func (c cpuClock) now() int64 {
	var u Usage
	if c.task != nil {
		u = c.task.CPUUsage()
	} else {
		u = c.tg.CPUUsage()
	}
	if c.kind == linux.CPUCLOCK_VIRT {
		return int64(u.User)
	}
	return int64(u.User + u.System)
}

// resolveCPUClock maps a CPU clock ID to its target. It returns EINVAL for
// an ID that is not a CPU clock, or one naming a missing task.
func (t *Task) resolveCPUClock(c int32) (cpuClock, error) {
	switch c {
	case linux.CLOCK_PROCESS_CPUTIME_ID:
		return cpuClock{tg: t.tg, kind: linux.CPUCLOCK_SCHED}, nil
	case linux.CLOCK_THREAD_CPUTIME_ID:
		return cpuClock{task: t, kind: linux.CPUCLOCK_SCHED}, nil
	}
	if c >= 0 {
		return cpuClock{}, linux.EINVAL
	}
	kind := cpuClockKind(c)
	if kind >= linux.CPUCLOCK_MAX {
		// CLOCKFD: dynamic clocks of character devices (PTP) do not exist
		// in the sandbox.
		return cpuClock{}, linux.EINVAL
	}
	pid := cpuClockPID(c)
	if pid == 0 {
		if cpuClockPerThread(c) {
			return cpuClock{task: t, kind: kind}, nil
		}
		return cpuClock{tg: t.tg, kind: kind}, nil
	}
	t.k.tasksMu.RLock()
	target := t.tg.pidns.tasks[pid]
	var tg *ThreadGroup
	if target != nil {
		tg = target.tg
		if !cpuClockPerThread(c) && t.tg.pidns.tgids[tg] != pid {
			// A process clock must name a process, not one of its threads.
			target = nil
		}
	}
	t.k.tasksMu.RUnlock()
	if target == nil {
		return cpuClock{}, linux.EINVAL
	}
	if cpuClockPerThread(c) {
		return cpuClock{task: target, kind: kind}, nil
	}
	return cpuClock{tg: tg, kind: kind}, nil
}

// isHostClock reports whether c is one of the static clocks the sandbox
// reads from the host (the CPU-time clocks are the sandbox's own).
func isHostClock(c int32) bool {
	switch c {
	case linux.CLOCK_REALTIME, linux.CLOCK_MONOTONIC, linux.CLOCK_MONOTONIC_RAW,
		linux.CLOCK_REALTIME_COARSE, linux.CLOCK_MONOTONIC_COARSE, linux.CLOCK_BOOTTIME,
		linux.CLOCK_REALTIME_ALARM, linux.CLOCK_BOOTTIME_ALARM, linux.CLOCK_TAI:
		return true
	}
	return false
}

// hostClockNow reads a host clock. The sandbox cannot set clocks, so the
// host's wall and monotonic clocks are the sandbox's, which keeps them
// consistent with a vDSO that reads the host's time data and with host
// file timestamps.
func hostClockNow(c int32) (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(c, &ts); err != nil {
		return 0, err
	}
	return ts.Nano(), nil
}

// ClockNow returns the value of clock c for clock_gettime(2), in
// nanoseconds: host clocks for the static IDs, the sandbox's own
// accounting for CPU-time clocks. Unknown clocks are EINVAL.
func (t *Task) ClockNow(c int32) (int64, error) {
	if isHostClock(c) {
		if ns, ok := t.k.VDSO.now(c); ok {
			return ns, nil
		}
		return hostClockNow(c)
	}
	cc, err := t.resolveCPUClock(c)
	if err != nil {
		return 0, err
	}
	return cc.now(), nil
}

// ClockResolution returns clock_getres(2)'s answer for c.
func (t *Task) ClockResolution(c int32) (int64, error) {
	if isHostClock(c) {
		var ts unix.Timespec
		if err := unix.ClockGetres(c, &ts); err != nil {
			return 0, err
		}
		return ts.Nano(), nil
	}
	if _, err := t.resolveCPUClock(c); err != nil {
		return 0, err
	}
	// CPU clocks count nanoseconds, as Linux's scheduler clock does.
	return 1, nil
}

// cpuPollInterval is how often sleeps and timers on CPU-time clocks look
// at the clock: the sandbox has no scheduler tick to hook, so they poll
// at Linux's USER_HZ granularity.
const cpuPollInterval = clockTick

// sleepUntil blocks t until clock c reaches deadline (nanoseconds of c).
// It returns nil at the deadline, or ErrInterrupted.
func (t *Task) sleepUntil(c int32, deadline int64) error {
	var cc cpuClock
	cpu := !isHostClock(c)
	if cpu {
		var err error
		if cc, err = t.resolveCPUClock(c); err != nil {
			return err
		}
	}
	for {
		var now int64
		if cpu {
			now = cc.now()
		} else {
			var err error
			if now, err = hostClockNow(c); err != nil {
				return err
			}
		}
		if now >= deadline {
			return nil
		}
		wait := time.Duration(deadline - now)
		if cpu {
			wait = min(wait, cpuPollInterval)
		}
		err := t.BlockWithDeadline(nil, time.Now().Add(wait))
		if err != nil && !ErrTimedOut(err) {
			return err
		}
	}
}

// Sleep implements nanosleep and clock_nanosleep on clock c: until the
// absolute time ns of c when abs, else for ns nanoseconds. On
// interruption it returns ErrInterrupted and the time left.
func (t *Task) Sleep(c int32, ns int64, abs bool) (remaining int64, err error) {
	var deadline int64
	if abs {
		deadline = ns
	} else {
		now, err := t.ClockNow(c)
		if err != nil {
			return 0, err
		}
		deadline = now + ns
		if deadline < now {
			deadline = 1<<63 - 1
		}
	}
	if err := t.sleepUntil(c, deadline); err != nil {
		now, cerr := t.ClockNow(c)
		if cerr != nil {
			return 0, err
		}
		return max(deadline-now, 0), err
	}
	return 0, nil
}

// sentryStart is when this Sentry (and its kernel) started; sysinfo's
// uptime counts from here.
var sentryStart = time.Now()

// Uptime returns how long the sandbox's kernel has run.
func (k *Kernel) Uptime() time.Duration { return time.Since(sentryStart) }
