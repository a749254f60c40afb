package kernel

import (
	"sync"
	"sync/atomic"
	"time"
)

// Load averages (/proc/loadavg, sysinfo(2), uptime(1)), computed as
// Linux's calc_global_load does: every 5 seconds, the number of active
// tasks is folded into three exponentially decaying averages with 1, 5
// and 15 minute time constants, in fixed point with FSHIFT fraction bits.
//
// A task is active (Linux: runnable or uninterruptible) from the start of
// its goroutine's run loop to its end, except while it is parked: blocked
// in an interruptible wait (Block), stopped, traced-stopped or frozen by
// `runsc pause` (accountPark/accountUnpark). Time spent in host calls on
// the task's behalf counts, as Linux counts uninterruptible sleep. The
// hot path is one atomic add per park and per unpark; the sampling is a
// timer that runs only while the kernel has task goroutines.

// Linux's fixed-point load average constants (include/linux/sched/loadavg.h).
const (
	loadFShift = 11
	loadFixed1 = 1 << loadFShift
	// loadExp1, loadExp5 and loadExp15 are 1/exp(5s/1min), 1/exp(5s/5min)
	// and 1/exp(5s/15min) in fixed point.
	loadExp1  = 1884
	loadExp5  = 2014
	loadExp15 = 2037
	// loadFreq is LOAD_FREQ, the sampling period.
	loadFreq = 5 * time.Second
	// loadMaxCatchUp bounds how many missed periods one sample replays
	// (a paused sandbox); after this many the averages are fully
	// decayed to the current value anyway.
	loadMaxCatchUp = 1000
)

// loadAvg is a kernel's load average state.
type loadAvg struct {
	// threads counts task goroutines in their run loop; active counts
	// those not parked.
	threads atomic.Int64
	active  atomic.Int64

	// mu guards the fields below.
	mu sync.Mutex
	// avenrun are the 1, 5 and 15 minute averages, FSHIFT fixed point.
	avenrun [3]uint64
	// next is when the next sample is due; zero before the first.
	next time.Time
	// timer samples every loadFreq; nil while there are no tasks.
	timer *time.Timer
}

// calcLoad is Linux's calc_load: one decay step of load towards active
// (both fixed point), rounding up while the load rises.
func calcLoad(load, exp, active uint64) uint64 {
	n := load*exp + active*(loadFixed1-exp)
	if active >= load {
		n += loadFixed1 - 1
	}
	return n / loadFixed1
}

// taskRunning accounts a task goroutine entering its run loop.
func (l *loadAvg) taskRunning() {
	l.active.Add(1)
	if l.threads.Add(1) == 1 {
		l.startSampling(time.Now())
	}
}

// taskDone accounts a task goroutine leaving its run loop for good.
func (l *loadAvg) taskDone() {
	l.active.Add(-1)
	l.threads.Add(-1)
}

// park and unpark bracket a task's interruptible waits.
func (l *loadAvg) park()   { l.active.Add(-1) }
func (l *loadAvg) unpark() { l.active.Add(1) }

// startSampling arms the sampling timer if it is not running.
func (l *loadAvg) startSampling(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer != nil {
		return
	}
	if l.next.IsZero() || now.After(l.next) {
		l.next = now.Add(loadFreq)
	}
	l.timer = time.AfterFunc(l.next.Sub(now), l.tick)
}

// tick is the timer's function: sample, then re-arm while tasks exist.
func (l *loadAvg) tick() {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.advanceLocked(now, l.active.Load())
	if l.threads.Load() == 0 {
		l.timer = nil
		return
	}
	l.timer.Reset(l.next.Sub(now))
}

// advanceLocked folds active into the averages once for each sampling
// period that ended by now, as Linux's calc_global_load (and, for missed
// periods, calc_global_nohz) does. Requires mu.
func (l *loadAvg) advanceLocked(now time.Time, active int64) {
	if l.next.IsZero() {
		l.next = now.Add(loadFreq)
		return
	}
	a := uint64(max(active, 0)) * loadFixed1
	for n := 0; !now.Before(l.next); n++ {
		if n < loadMaxCatchUp {
			l.avenrun[0] = calcLoad(l.avenrun[0], loadExp1, a)
			l.avenrun[1] = calcLoad(l.avenrun[1], loadExp5, a)
			l.avenrun[2] = calcLoad(l.avenrun[2], loadExp15, a)
		}
		l.next = l.next.Add(loadFreq)
	}
}

// loads returns the averages.
func (l *loadAvg) loads() [3]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.avenrun
}

// LoadAverages returns the 1, 5 and 15 minute load averages in Linux's
// fixed point (LoadFShift fraction bits): /proc/loadavg prints them,
// sysinfo(2) shifts them to its own 16 fraction bits.
func (k *Kernel) LoadAverages() [3]uint64 { return k.loadAvg.loads() }

// LoadFShift is the number of fraction bits of LoadAverages.
const LoadFShift = loadFShift

// RunnableTaskCount returns how many tasks are running or runnable now,
// /proc/loadavg's nr_running (which counts the reader itself).
func (k *Kernel) RunnableTaskCount() int { return int(max(k.loadAvg.active.Load(), 0)) }
