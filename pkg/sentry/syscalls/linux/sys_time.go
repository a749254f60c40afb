package linux

import (
	"encoding/binary"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// Clocks, sleeps, CPU usage, interval timers and POSIX timers.

// copyInTimespec reads a timespec that must be a valid non-negative
// duration or time (EINVAL otherwise).
func copyInTimespec(t *kernel.Task, addr uintptr) (abilinux.Timespec, error) {
	var ts abilinux.Timespec
	if err := t.MemoryManager().CopyObjectIn(addr, &ts); err != nil {
		return ts, abilinux.EFAULT
	}
	if !ts.Valid() || ts.Sec < 0 {
		return ts, abilinux.EINVAL
	}
	return ts, nil
}

func copyOutTimespec(t *kernel.Task, addr uintptr, ns int64) error {
	ts := abilinux.NsecToTimespec(ns)
	if err := t.MemoryManager().CopyObjectOut(addr, &ts); err != nil {
		return abilinux.EFAULT
	}
	return nil
}

// ClockGettime implements clock_gettime(2).
func ClockGettime(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	ns, err := t.ClockNow(args[0].Int())
	if err != nil {
		return 0, err
	}
	return 0, copyOutTimespec(t, args[1].Pointer(), ns)
}

// ClockGetres implements clock_getres(2); a NULL result is allowed.
func ClockGetres(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	ns, err := t.ClockResolution(args[0].Int())
	if err != nil {
		return 0, err
	}
	if args[1].Pointer() == 0 {
		return 0, nil
	}
	return 0, copyOutTimespec(t, args[1].Pointer(), ns)
}

// Gettimeofday implements gettimeofday(2). The sandbox's timezone is
// always UTC with no DST (settimeofday cannot change it).
func Gettimeofday(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	if tv := args[0].Pointer(); tv != 0 {
		ns, err := t.ClockNow(abilinux.CLOCK_REALTIME)
		if err != nil {
			return 0, err
		}
		v := abilinux.NsecToTimeval(ns)
		if err := t.MemoryManager().CopyObjectOut(tv, &v); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	if tz := args[1].Pointer(); tz != 0 {
		var z abilinux.Timezone
		if err := t.MemoryManager().CopyObjectOut(tz, &z); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	return 0, nil
}

// Time implements time(2).
func Time(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	ns, err := t.ClockNow(abilinux.CLOCK_REALTIME)
	if err != nil {
		return 0, err
	}
	sec := ns / abilinux.NsecPerSec
	if addr := args[0].Pointer(); addr != 0 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(sec))
		if _, err := t.CopyOut(addr, b[:]); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	return uintptr(sec), nil
}

// checkSleepClock returns the errno Linux gives for sleeping on clock c,
// or nil if it may be slept on.
func checkSleepClock(t *kernel.Task, c int32) error {
	switch c {
	case abilinux.CLOCK_REALTIME, abilinux.CLOCK_MONOTONIC, abilinux.CLOCK_BOOTTIME, abilinux.CLOCK_TAI,
		abilinux.CLOCK_PROCESS_CPUTIME_ID:
		return nil
	case abilinux.CLOCK_REALTIME_ALARM, abilinux.CLOCK_BOOTTIME_ALARM:
		if !t.Credentials().HasCapability(abilinux.CAP_WAKE_ALARM) {
			return abilinux.EPERM
		}
		return nil
	case abilinux.CLOCK_MONOTONIC_RAW, abilinux.CLOCK_REALTIME_COARSE, abilinux.CLOCK_MONOTONIC_COARSE,
		abilinux.CLOCK_THREAD_CPUTIME_ID:
		return abilinux.EOPNOTSUPP
	}
	if c < 0 {
		// A CPU clock: a thread's cannot be slept on (it would never
		// advance while its thread sleeps), a process's can.
		if _, err := t.ClockNow(c); err != nil {
			return err
		}
		if c&abilinux.CPUCLOCK_PERTHREAD_MASK != 0 {
			return abilinux.EINVAL
		}
		return nil
	}
	return abilinux.EINVAL
}

// sleepOn is clock_nanosleep's body.
func sleepOn(t *kernel.Task, c int32, flags int32, reqAddr, remAddr uintptr) error {
	if err := checkSleepClock(t, c); err != nil {
		return err
	}
	req, err := copyInTimespec(t, reqAddr)
	if err != nil {
		return err
	}
	abs := flags&abilinux.TIMER_ABSTIME != 0
	left, err := t.Sleep(c, req.ToNsec(), abs)
	if err == nil {
		return nil
	}
	if err != kernel.ErrInterrupted {
		return err
	}
	if abs {
		// An absolute sleep restarts with the same deadline.
		return abilinux.ERESTARTNOHAND
	}
	if remAddr != 0 {
		if err := copyOutTimespec(t, remAddr, left); err != nil {
			return err
		}
	}
	return abilinux.ERESTART_RESTARTBLOCK
}

// Nanosleep implements nanosleep(2), a relative sleep on CLOCK_MONOTONIC.
func Nanosleep(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, sleepOn(t, abilinux.CLOCK_MONOTONIC, 0, args[0].Pointer(), args[1].Pointer())
}

// ClockNanosleep implements clock_nanosleep(2).
func ClockNanosleep(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, sleepOn(t, args[0].Int(), args[1].Int(), args[2].Pointer(), args[3].Pointer())
}

// struct timex (adjtimex(2)): 208 bytes on 64-bit Linux. Only the fields
// a read-only query reports are named.
const (
	sizeofTimex      = 208
	timexOffMaxError = 24
	timexOffEstError = 32
	timexOffStatus   = 40
	timexOffConstant = 48
	timexOffPrecis   = 56
	timexOffTol      = 64
	timexOffTime     = 72
	timexOffTick     = 88

	// adjOffsetSSRead is ADJ_OFFSET_SS_READ, the one non-zero mode that
	// only reads.
	adjOffsetSSRead = 0xa001
	// staUnsync is STA_UNSYNC; timeError is TIME_ERROR, the state of a
	// clock no NTP daemon disciplines.
	staUnsync = 0x40
	timeError = 5
)

// adjtimexQuery answers a read-only adjtimex: the state of a clock that
// nothing has adjusted since boot (Linux's initial NTP state), since the
// sandbox may not adjust the clock and does not read the host's
// discipline state. Any mode that would change the clock is EPERM.
func adjtimexQuery(t *kernel.Task, addr uintptr) (uintptr, error) {
	buf := make([]byte, sizeofTimex)
	if _, err := t.CopyIn(addr, buf); err != nil {
		return 0, abilinux.EFAULT
	}
	modes := binary.LittleEndian.Uint32(buf)
	if modes != 0 && modes != adjOffsetSSRead {
		return 0, abilinux.EPERM
	}
	ns, err := t.ClockNow(abilinux.CLOCK_REALTIME)
	if err != nil {
		return 0, err
	}
	clear(buf[4:])
	le := binary.LittleEndian
	le.PutUint64(buf[timexOffMaxError:], 16000000)
	le.PutUint64(buf[timexOffEstError:], 16000000)
	le.PutUint32(buf[timexOffStatus:], staUnsync)
	le.PutUint64(buf[timexOffConstant:], 2)
	le.PutUint64(buf[timexOffPrecis:], 1)
	le.PutUint64(buf[timexOffTol:], 500<<16) // 500 ppm, scaled by 2^16
	tv := abilinux.NsecToTimeval(ns)
	tv.MarshalBytes(buf[timexOffTime:])
	le.PutUint64(buf[timexOffTick:], uint64(abilinux.UsecPerSec/abilinux.CLK_TCK))
	if _, err := t.CopyOut(addr, buf); err != nil {
		return 0, abilinux.EFAULT
	}
	return timeError, nil
}

// Adjtimex implements adjtimex(2) for read-only queries.
func Adjtimex(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return adjtimexQuery(t, args[0].Pointer())
}

// ClockAdjtime implements clock_adjtime(2): CLOCK_REALTIME answers as
// adjtimex; other valid clocks cannot be adjusted.
func ClockAdjtime(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	c := args[0].Int()
	if _, err := t.ClockNow(c); err != nil {
		return 0, abilinux.EINVAL
	}
	if c != abilinux.CLOCK_REALTIME {
		return 0, abilinux.EOPNOTSUPP
	}
	return adjtimexQuery(t, args[1].Pointer())
}

// clockTicks converts a duration to USER_HZ ticks.
func clockTicks(ns int64) int64 { return ns / (abilinux.NsecPerSec / abilinux.CLK_TCK) }

// Times implements times(2). Its return value counts ticks of
// CLOCK_BOOTTIME; only differences between calls mean anything.
func Times(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	if addr := args[0].Pointer(); addr != 0 {
		tg := t.ThreadGroup()
		self, children := tg.CPUUsage(), tg.ChildrenUsage()
		tms := abilinux.Tms{
			UTime:  clockTicks(int64(self.User)),
			STime:  clockTicks(int64(self.System)),
			CUTime: clockTicks(int64(children.User)),
			CSTime: clockTicks(int64(children.System)),
		}
		if err := t.MemoryManager().CopyObjectOut(addr, &tms); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	ns, err := t.ClockNow(abilinux.CLOCK_BOOTTIME)
	if err != nil {
		return 0, err
	}
	return uintptr(clockTicks(ns)), nil
}

// Getrusage implements getrusage(2). Only times and ru_maxrss are
// accounted; the other counters read 0.
func Getrusage(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	var u kernel.Usage
	switch args[0].Int() {
	case abilinux.RUSAGE_SELF:
		u = t.ThreadGroup().CPUUsage()
		if m := t.MemoryManager(); m != nil {
			u.MaxRSS = max(u.MaxRSS, int64(m.MaxResidentSize()/1024))
		}
	case abilinux.RUSAGE_THREAD:
		u = t.CPUUsage()
		if m := t.MemoryManager(); m != nil {
			u.MaxRSS = int64(m.MaxResidentSize() / 1024)
		}
	case abilinux.RUSAGE_CHILDREN:
		u = t.ThreadGroup().ChildrenUsage()
	default:
		return 0, abilinux.EINVAL
	}
	ru := abilinux.Rusage{
		UTime:  abilinux.NsecToTimeval(int64(u.User)),
		STime:  abilinux.NsecToTimeval(int64(u.System)),
		MaxRSS: u.MaxRSS,
	}
	if err := t.MemoryManager().CopyObjectOut(args[1].Pointer(), &ru); err != nil {
		return 0, abilinux.EFAULT
	}
	return 0, nil
}

// timevalToNs validates an itimerval field.
func timevalToNs(tv abilinux.Timeval) (int64, error) {
	if !tv.Valid() || tv.Sec < 0 {
		return 0, abilinux.EINVAL
	}
	return tv.ToNsec(), nil
}

// nsToTimevalUp converts to a timeval, rounding a non-zero remainder
// below a microsecond up so an armed timer never reads as disarmed.
func nsToTimevalUp(ns int64) abilinux.Timeval {
	if ns > 0 && ns < abilinux.NsecPerUsec {
		ns = abilinux.NsecPerUsec
	}
	return abilinux.NsecToTimeval(ns)
}

// Getitimer implements getitimer(2).
func Getitimer(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	value, interval, err := t.GetITimer(args[0].Int())
	if err != nil {
		return 0, err
	}
	it := abilinux.Itimerval{Value: nsToTimevalUp(value), Interval: nsToTimevalUp(interval)}
	if err := t.MemoryManager().CopyObjectOut(args[1].Pointer(), &it); err != nil {
		return 0, abilinux.EFAULT
	}
	return 0, nil
}

// Setitimer implements setitimer(2). A NULL new value disarms, as Linux
// still allows.
func Setitimer(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	var it abilinux.Itimerval
	if addr := args[1].Pointer(); addr != 0 {
		if err := t.MemoryManager().CopyObjectIn(addr, &it); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	value, err := timevalToNs(it.Value)
	if err != nil {
		return 0, err
	}
	interval, err := timevalToNs(it.Interval)
	if err != nil {
		return 0, err
	}
	oldValue, oldInterval, err := t.SetITimer(args[0].Int(), value, interval)
	if err != nil {
		return 0, err
	}
	if addr := args[2].Pointer(); addr != 0 {
		old := abilinux.Itimerval{Value: nsToTimevalUp(oldValue), Interval: nsToTimevalUp(oldInterval)}
		if err := t.MemoryManager().CopyObjectOut(addr, &old); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	return 0, nil
}

// Alarm implements alarm(2): ITIMER_REAL in whole seconds. It returns the
// seconds left of the previous alarm, rounded to the nearest second but
// never 0 for an armed one.
func Alarm(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	sec := int64(args[0].Uint())
	old, _, err := t.SetITimer(abilinux.ITIMER_REAL, sec*abilinux.NsecPerSec, 0)
	if err != nil {
		return 0, err
	}
	tv := nsToTimevalUp(old)
	left := tv.Sec
	if (left == 0 && tv.Usec != 0) || tv.Usec >= 500000 {
		left++
	}
	return uintptr(left), nil
}

// TimerCreate implements timer_create(2).
func TimerCreate(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	spec := kernel.TimerSpec{Default: true}
	if addr := args[1].Pointer(); addr != 0 {
		var ev abilinux.Sigevent
		if err := t.MemoryManager().CopyObjectIn(addr, &ev); err != nil {
			return 0, abilinux.EFAULT
		}
		spec = kernel.TimerSpec{
			Notify: ev.Notify,
			Signo:  abilinux.Signal(ev.Signo),
			Value:  ev.Value,
			TID:    kernel.ThreadID(ev.Tid),
		}
	}
	id, err := t.CreateTimer(args[0].Int(), spec)
	if err != nil {
		return 0, err
	}
	if err := putU32(t, args[2].Pointer(), uint32(id)); err != nil {
		t.DeleteTimer(id)
		return 0, err
	}
	return 0, nil
}

// TimerSettime implements timer_settime(2).
func TimerSettime(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	var its abilinux.Itimerspec
	if err := t.MemoryManager().CopyObjectIn(args[2].Pointer(), &its); err != nil {
		return 0, abilinux.EFAULT
	}
	if !its.Value.Valid() || !its.Interval.Valid() || its.Value.Sec < 0 || its.Interval.Sec < 0 {
		return 0, abilinux.EINVAL
	}
	abs := args[1].Int()&abilinux.TIMER_ABSTIME != 0
	oldValue, oldInterval, err := t.SetTimer(args[0].Int(), its.Value.ToNsec(), its.Interval.ToNsec(), abs)
	if err != nil {
		return 0, err
	}
	if addr := args[3].Pointer(); addr != 0 {
		old := abilinux.Itimerspec{Value: abilinux.NsecToTimespec(oldValue), Interval: abilinux.NsecToTimespec(oldInterval)}
		if err := t.MemoryManager().CopyObjectOut(addr, &old); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	return 0, nil
}

// TimerGettime implements timer_gettime(2).
func TimerGettime(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	value, interval, err := t.GetTimer(args[0].Int())
	if err != nil {
		return 0, err
	}
	its := abilinux.Itimerspec{Value: abilinux.NsecToTimespec(value), Interval: abilinux.NsecToTimespec(interval)}
	if err := t.MemoryManager().CopyObjectOut(args[1].Pointer(), &its); err != nil {
		return 0, abilinux.EFAULT
	}
	return 0, nil
}

// TimerGetoverrun implements timer_getoverrun(2).
func TimerGetoverrun(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	n, err := t.TimerOverrun(args[0].Int())
	if err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

// TimerDelete implements timer_delete(2).
func TimerDelete(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.DeleteTimer(args[0].Int())
}
