package kernel

import (
	"math"
	"testing"
	"time"
)

// loadFloat converts a fixed-point average to a float.
func loadFloat(x uint64) float64 { return float64(x) / loadFixed1 }

// runLoad feeds active tasks for d of fake time, one sample per period.
func runLoad(l *loadAvg, start time.Time, d time.Duration, active int64) time.Time {
	now := start
	for end := start.Add(d); now.Before(end); {
		now = now.Add(loadFreq)
		l.mu.Lock()
		l.advanceLocked(now, active)
		l.mu.Unlock()
	}
	return now
}

func TestLoadAvgBusyTask(t *testing.T) {
	var l loadAvg
	start := time.Unix(1000, 0)
	l.next = start.Add(loadFreq)
	now := runLoad(&l, start, time.Minute, 1)
	got := l.loads()
	// After one minute of one busy task, the 1-minute average is
	// 1-1/e (Linux shows 0.63), the others much lower.
	if v := loadFloat(got[0]); math.Abs(v-0.63) > 0.02 {
		t.Errorf("1-minute load after 1 min = %.3f, want ~0.63", v)
	}
	if v := loadFloat(got[1]); math.Abs(v-0.18) > 0.02 {
		t.Errorf("5-minute load after 1 min = %.3f, want ~0.18", v)
	}
	if v := loadFloat(got[2]); math.Abs(v-0.06) > 0.02 {
		t.Errorf("15-minute load after 1 min = %.3f, want ~0.06", v)
	}
	now = runLoad(&l, now, 10*time.Minute, 1)
	if v := loadFloat(l.loads()[0]); v < 0.99 || v > 1.0 {
		t.Errorf("1-minute load after 11 min = %.3f, want ~1.00", v)
	}
	// Idle: it decays back to 0 (Linux's rounding lets it reach 0).
	runLoad(&l, now, 30*time.Minute, 0)
	if got := l.loads(); got[0] != 0 {
		t.Errorf("1-minute load after 30 idle min = %d, want 0", got[0])
	}
}

func TestLoadAvgExactSteps(t *testing.T) {
	// The first sample with 2 active tasks, computed by hand with
	// Linux's calc_load: (0*1884 + 4096*(2048-1884) + 2047) / 2048.
	var l loadAvg
	start := time.Unix(0, 0)
	l.next = start.Add(loadFreq)
	runLoad(&l, start, loadFreq, 2)
	want := [3]uint64{(2*loadFixed1*(loadFixed1-loadExp1) + loadFixed1 - 1) / loadFixed1,
		(2*loadFixed1*(loadFixed1-loadExp5) + loadFixed1 - 1) / loadFixed1,
		(2*loadFixed1*(loadFixed1-loadExp15) + loadFixed1 - 1) / loadFixed1}
	if got := l.loads(); got != want {
		t.Errorf("loads = %v, want %v", got, want)
	}
	if want[0] != 328 {
		t.Errorf("first 1-minute step = %d, want 328", want[0])
	}
}

func TestLoadAvgMissedPeriods(t *testing.T) {
	// A late timer replays every period it missed.
	var a, b loadAvg
	start := time.Unix(0, 0)
	a.next, b.next = start.Add(loadFreq), start.Add(loadFreq)
	runLoad(&a, start, time.Minute, 3)
	b.mu.Lock()
	b.advanceLocked(start.Add(time.Minute+time.Second), 3)
	b.mu.Unlock()
	if a.loads() != b.loads() {
		t.Errorf("one late sample = %v, want %v as with 12 samples", b.loads(), a.loads())
	}
}

func TestLoadAvgCounters(t *testing.T) {
	var l loadAvg
	l.taskRunning()
	defer func() {
		l.mu.Lock()
		if l.timer != nil {
			l.timer.Stop()
		}
		l.mu.Unlock()
	}()
	l.taskRunning()
	l.park()
	if got := l.active.Load(); got != 1 {
		t.Errorf("active = %d, want 1", got)
	}
	l.unpark()
	l.taskDone()
	if got, th := l.active.Load(), l.threads.Load(); got != 1 || th != 1 {
		t.Errorf("active, threads = %d, %d, want 1, 1", got, th)
	}
	l.mu.Lock()
	armed := l.timer != nil
	l.mu.Unlock()
	if !armed {
		t.Error("sampling timer not armed while tasks run")
	}
}
