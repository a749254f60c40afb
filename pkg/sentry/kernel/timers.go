package kernel

import (
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Interval timers (setitimer, alarm) and POSIX timers (timer_create).
//
// A ktimer counts on one clock: a host clock, through a Go timer set for
// the deadline, or a CPU-time clock, which it polls every cpuPollInterval
// because the sandbox has no scheduler tick to hook. On expiry it queues a
// signal for its process (or one thread, SIGEV_THREAD_ID).
//
// Linux re-arms a periodic timer only when its signal is delivered; the
// sandbox has no delivery hook, so it re-arms at once but, while its
// previous signal is still queued, counts expiries as overruns of that
// signal instead of queueing more (as Linux does), and never fires more
// often than minTimerPeriod.

// minTimerPeriod bounds how often a Go timer fires for one ktimer, so a
// tiny interval costs overrun arithmetic, not a busy goroutine.
const minTimerPeriod = 100 * time.Microsecond

// maxTimersPerProcess bounds timer_create, standing in for the memory
// accounting that bounds it on Linux.
const maxTimersPerProcess = 32768

// ktimer is one timer. Its fields are guarded by the owning process's
// tgExtras.mu.
type ktimer struct {
	tg *ThreadGroup
	e  *tgExtras

	// clock is the clock ID; cpu is set for CPU-time clocks.
	clock int32
	cpu   *cpuClock

	// notify is SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID; target is the
	// thread for SIGEV_THREAD_ID.
	notify int32
	signo  linux.Signal
	sigval uint64
	target *Task
	// id is the POSIX timer ID; itimer marks an interval timer, whose
	// signal carries SI_KERNEL instead of timer fields.
	id     int32
	itimer bool

	armed bool
	// next is the deadline in the clock's nanoseconds; interval is the
	// period (0 for a one-shot timer).
	next, interval int64
	// gen changes whenever the timer is re-armed or disarmed, so a Go
	// timer callback from an older setting does nothing.
	gen     uint64
	goTimer *time.Timer

	// inFlight says a signal of this timer was queued and maybe not yet
	// delivered; queuedOverrun is the overrun it carries, and
	// deliveredOverrun what timer_getoverrun reports.
	inFlight         bool
	queuedOverrun    int32
	deliveredOverrun int32
}

// now reads the timer's clock.
func (kt *ktimer) now() int64 {
	if kt.cpu != nil {
		return kt.cpu.now()
	}
	n, err := hostClockNow(kt.clock)
	if err != nil {
		return 0
	}
	return n
}

// setLocked arms the timer for value (absolute in the clock when abs) and
// then every interval, or disarms it when value is 0. It returns the
// previous remaining time and interval.
func (kt *ktimer) setLocked(value, interval int64, abs bool) (oldValue, oldInterval int64) {
	oldValue, oldInterval = kt.getLocked()
	kt.gen++
	if kt.goTimer != nil {
		kt.goTimer.Stop()
		kt.goTimer = nil
	}
	kt.armed = value != 0
	kt.interval = 0
	if !kt.armed {
		return
	}
	kt.interval = interval
	if !kt.itimer {
		// A new setting starts a new overrun count (timer_settime(2)).
		kt.inFlight, kt.queuedOverrun, kt.deliveredOverrun = false, 0, 0
	}
	if abs {
		kt.next = value
	} else {
		kt.next = kt.now() + value
	}
	kt.scheduleLocked(kt.now())
	return
}

// getLocked returns the time left to the next expiry (0 if disarmed) and
// the interval.
func (kt *ktimer) getLocked() (value, interval int64) {
	if !kt.armed {
		return 0, kt.interval
	}
	left := kt.next - kt.now()
	if left <= 0 {
		// Expired, its callback not yet run: Linux reports the smallest
		// non-zero value so the timer does not look disarmed.
		left = 1
	}
	return left, kt.interval
}

// scheduleLocked sets a Go timer for the next expiry or poll.
func (kt *ktimer) scheduleLocked(now int64) {
	wait := time.Duration(kt.next - now)
	if kt.cpu != nil {
		wait = min(wait, cpuPollInterval)
	}
	wait = max(wait, 0)
	gen := kt.gen
	kt.goTimer = time.AfterFunc(wait, func() { kt.fire(gen) })
}

// fire runs when a Go timer of generation gen expires.
func (kt *ktimer) fire(gen uint64) {
	e := kt.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if gen != kt.gen || !kt.armed {
		return
	}
	kt.goTimer = nil
	now := kt.now()
	if now < kt.next {
		kt.scheduleLocked(now)
		return
	}
	expiries := int64(1)
	if kt.interval > 0 {
		expiries += (now - kt.next) / kt.interval
	}
	if !kt.deliverLocked(expiries - 1) {
		// The process is gone: the timer dies with it.
		kt.armed = false
		kt.gen++
		return
	}
	if kt.interval == 0 {
		kt.armed = false
		return
	}
	kt.next += expiries * kt.interval
	next := max(kt.next-now, int64(minTimerPeriod))
	kt.scheduleLocked(kt.next - next)
}

// deliverLocked sends the timer's signal for one expiry that also
// absorbed overrun missed ones. It reports false when the process is
// exiting.
func (kt *ktimer) deliverLocked(overrun int64) bool {
	tg := kt.tg
	k := tg.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	tg.signalMu.Lock()
	if tg.exiting || tg.leader == nil {
		tg.signalMu.Unlock()
		return false
	}
	if kt.notify == linux.SIGEV_NONE {
		tg.signalMu.Unlock()
		return true
	}
	if !kt.itimer && kt.inFlight {
		if q := kt.queuedInfoLocked(); q != nil {
			// Its previous signal is still queued: count, don't queue.
			kt.queuedOverrun = satAdd32(kt.queuedOverrun, 1+overrun)
			q.SetOverrun(kt.queuedOverrun)
			tg.signalMu.Unlock()
			return true
		}
		kt.deliveredOverrun = kt.queuedOverrun
	}
	tg.signalMu.Unlock()

	info := &linux.SignalInfo{Signo: int32(kt.signo)}
	if kt.itimer {
		info.Code = linux.SI_KERNEL
	} else {
		info.Code = linux.SI_TIMER
		info.SetTimerID(kt.id)
		kt.queuedOverrun = satAdd32(0, overrun)
		info.SetOverrun(kt.queuedOverrun)
		info.SetSigval(kt.sigval)
		kt.inFlight = true
	}
	if kt.notify&linux.SIGEV_THREAD_ID != 0 && kt.target != nil {
		kt.target.sendSignalLocked(info, false, false)
	} else {
		tg.leader.sendSignalLocked(info, true, false)
	}
	return true
}

// queuedInfoLocked finds this timer's queued siginfo, or nil once it has
// been delivered. Requires tasksMu and signalMu.
func (kt *ktimer) queuedInfoLocked() *linux.SignalInfo {
	q := &kt.tg.pending
	if kt.notify&linux.SIGEV_THREAD_ID != 0 && kt.target != nil {
		q = &kt.target.pending
	}
	infos := q.queues[kt.signo]
	for i := range infos {
		if infos[i].Code == linux.SI_TIMER && infos[i].TimerID() == kt.id {
			return &infos[i]
		}
	}
	return nil
}

// overrunLocked returns timer_getoverrun's value.
func (kt *ktimer) overrunLocked() int32 {
	if kt.inFlight {
		k := kt.tg.k
		k.tasksMu.RLock()
		kt.tg.signalMu.Lock()
		if kt.queuedInfoLocked() == nil {
			kt.deliveredOverrun = kt.queuedOverrun
			kt.inFlight = false
		}
		kt.tg.signalMu.Unlock()
		k.tasksMu.RUnlock()
	}
	return kt.deliveredOverrun
}

// stopLocked disarms the timer for good.
func (kt *ktimer) stopLocked() {
	kt.gen++
	kt.armed = false
	if kt.goTimer != nil {
		kt.goTimer.Stop()
		kt.goTimer = nil
	}
}

func satAdd32(a int32, b int64) int32 {
	s := int64(a) + b
	if s > 1<<31-1 {
		return 1<<31 - 1
	}
	return int32(s)
}

// itimerSignals are the signals of ITIMER_REAL, _VIRTUAL and _PROF.
var itimerSignals = [3]linux.Signal{linux.SIGALRM, linux.SIGVTALRM, linux.SIGPROF}

// itimerLocked returns the process's interval timer which, creating it.
func (tg *ThreadGroup) itimerLocked(e *tgExtras, which int32) *ktimer {
	if kt := e.itimers[which]; kt != nil {
		return kt
	}
	kt := &ktimer{tg: tg, e: e, itimer: true, signo: itimerSignals[which], notify: linux.SIGEV_SIGNAL}
	switch which {
	case linux.ITIMER_REAL:
		kt.clock = linux.CLOCK_MONOTONIC
	case linux.ITIMER_VIRTUAL:
		kt.cpu = &cpuClock{tg: tg, kind: linux.CPUCLOCK_VIRT}
	case linux.ITIMER_PROF:
		kt.cpu = &cpuClock{tg: tg, kind: linux.CPUCLOCK_PROF}
	}
	e.itimers[which] = kt
	return kt
}

// SetITimer implements setitimer(2) for t's process: it arms interval
// timer which (ITIMER_*) for value then every interval nanoseconds, or
// disarms it when value is 0, and returns the old setting.
func (t *Task) SetITimer(which int32, value, interval int64) (oldValue, oldInterval int64, err error) {
	if which < 0 || which > linux.ITIMER_PROF {
		return 0, 0, linux.EINVAL
	}
	e := t.tg.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	oldValue, oldInterval = t.tg.itimerLocked(e, which).setLocked(value, interval, false)
	return oldValue, oldInterval, nil
}

// GetITimer implements getitimer(2).
func (t *Task) GetITimer(which int32) (value, interval int64, err error) {
	if which < 0 || which > linux.ITIMER_PROF {
		return 0, 0, linux.EINVAL
	}
	e := t.tg.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	value, interval = t.tg.itimerLocked(e, which).getLocked()
	return value, interval, nil
}

// TimerSpec is what timer_create's sigevent asks for.
type TimerSpec struct {
	// Notify is SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD or
	// SIGEV_THREAD_ID (SIGEV_THREAD behaves as SIGEV_SIGNAL: libc runs the
	// thread).
	Notify int32
	Signo  linux.Signal
	Value  uint64
	// TID is the target thread for SIGEV_THREAD_ID.
	TID ThreadID
	// Default is set when timer_create got no sigevent: SIGALRM carrying
	// the timer ID.
	Default bool
}

// CreateTimer implements timer_create(2) and returns the new timer's ID.
func (t *Task) CreateTimer(clock int32, spec TimerSpec) (int32, error) {
	kt := &ktimer{tg: t.tg}
	switch {
	case clock == linux.CLOCK_REALTIME, clock == linux.CLOCK_MONOTONIC,
		clock == linux.CLOCK_BOOTTIME, clock == linux.CLOCK_TAI:
		kt.clock = clock
	case clock == linux.CLOCK_REALTIME_ALARM, clock == linux.CLOCK_BOOTTIME_ALARM:
		if !t.Credentials().HasCapability(linux.CAP_WAKE_ALARM) {
			return 0, linux.EPERM
		}
		kt.clock = clock
	case clock == linux.CLOCK_MONOTONIC_RAW, clock == linux.CLOCK_REALTIME_COARSE,
		clock == linux.CLOCK_MONOTONIC_COARSE:
		return 0, linux.EOPNOTSUPP
	default:
		cc, err := t.resolveCPUClock(clock)
		if err != nil {
			return 0, err
		}
		kt.clock = clock
		kt.cpu = &cc
	}

	if spec.Default {
		spec = TimerSpec{Notify: linux.SIGEV_SIGNAL, Signo: linux.SIGALRM}
	}
	switch spec.Notify {
	case linux.SIGEV_NONE:
	case linux.SIGEV_SIGNAL, linux.SIGEV_THREAD, linux.SIGEV_THREAD_ID:
		if !spec.Signo.IsValid() {
			return 0, linux.EINVAL
		}
		if spec.Notify == linux.SIGEV_THREAD_ID {
			t.k.tasksMu.RLock()
			target := t.tg.pidns.tasks[spec.TID]
			t.k.tasksMu.RUnlock()
			if target == nil || target.tg != t.tg {
				return 0, linux.EINVAL
			}
			kt.target = target
		}
	default:
		return 0, linux.EINVAL
	}
	kt.notify = spec.Notify
	if kt.notify == linux.SIGEV_THREAD {
		kt.notify = linux.SIGEV_SIGNAL
	}
	kt.signo = spec.Signo

	e := t.tg.extras()
	kt.e = e
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.timers) >= maxTimersPerProcess {
		return 0, linux.EAGAIN
	}
	if e.timers == nil {
		e.timers = make(map[int32]*ktimer)
	}
	// IDs count up from 0 per process and skip those in use, as Linux
	// allocates them.
	for {
		id := e.nextTimerID
		e.nextTimerID++
		if e.nextTimerID < 0 {
			e.nextTimerID = 0
		}
		if _, used := e.timers[id]; !used {
			kt.id = id
			break
		}
	}
	kt.sigval = spec.Value
	if spec.Default {
		kt.sigval = uint64(kt.id)
	}
	e.timers[kt.id] = kt
	return kt.id, nil
}

// timerLocked returns POSIX timer id of t's process, or EINVAL.
func (e *tgExtras) timerLocked(id int32) (*ktimer, error) {
	kt := e.timers[id]
	if kt == nil {
		return nil, linux.EINVAL
	}
	return kt, nil
}

// SetTimer implements timer_settime(2); values are nanoseconds of the
// timer's clock, value 0 disarms.
func (t *Task) SetTimer(id int32, value, interval int64, abs bool) (oldValue, oldInterval int64, err error) {
	e := t.tg.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	kt, err := e.timerLocked(id)
	if err != nil {
		return 0, 0, err
	}
	oldValue, oldInterval = kt.setLocked(value, interval, abs)
	return oldValue, oldInterval, nil
}

// GetTimer implements timer_gettime(2).
func (t *Task) GetTimer(id int32) (value, interval int64, err error) {
	e := t.tg.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	kt, err := e.timerLocked(id)
	if err != nil {
		return 0, 0, err
	}
	value, interval = kt.getLocked()
	return value, interval, nil
}

// TimerOverrun implements timer_getoverrun(2).
func (t *Task) TimerOverrun(id int32) (int32, error) {
	e := t.tg.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	kt, err := e.timerLocked(id)
	if err != nil {
		return 0, err
	}
	return kt.overrunLocked(), nil
}

// DeleteTimer implements timer_delete(2).
func (t *Task) DeleteTimer(id int32) error {
	e := t.tg.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	kt, err := e.timerLocked(id)
	if err != nil {
		return err
	}
	kt.stopLocked()
	delete(e.timers, id)
	return nil
}

// ExecResetTimers deletes the process's POSIX timers, as execve(2) does
// (interval timers survive exec). Execve should call it once the new
// image is committed.
func (t *Task) ExecResetTimers() {
	e := t.tg.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, kt := range e.timers {
		kt.stopLocked()
		delete(e.timers, id)
	}
}
