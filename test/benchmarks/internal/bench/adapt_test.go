package bench

import (
	"testing"
	"time"
)

func TestNextProbe(t *testing.T) {
	a := Adapt{Target: time.Second, MaxIterations: 1e9}
	for _, c := range []struct {
		n       int64
		elapsed time.Duration
		want    int64
	}{
		// 1 iteration in 1 us would predict 120000: capped at 100x.
		{1, time.Microsecond, 100},
		// 1000 in 10 ms predicts 12000 for the 120 ms aim (10% + 20%).
		{1000, 10 * time.Millisecond, 12000},
		// A probe already past the aim still grows by one.
		{10, 500 * time.Millisecond, 11},
		// A clock that did not move grows by the cap.
		{5, 0, 500},
		// MaxIterations bounds the growth.
		{5e8, time.Millisecond, 1e9},
	} {
		if got := a.NextProbe(c.n, c.elapsed); got != c.want {
			t.Errorf("NextProbe(%d, %v) = %d, want %d", c.n, c.elapsed, got, c.want)
		}
	}
}

func TestFinal(t *testing.T) {
	a := Adapt{Target: time.Second, MaxIterations: 1e9}
	for _, c := range []struct {
		n       int64
		elapsed time.Duration
		want    int64
	}{
		{1000, 100 * time.Millisecond, 10000},
		{3, 2 * time.Second, 1}, // slower than the target: one iteration
		{1, 0, 100},
		{2e8, 100 * time.Millisecond, 1e9},
	} {
		if got := a.Final(c.n, c.elapsed); got != c.want {
			t.Errorf("Final(%d, %v) = %d, want %d", c.n, c.elapsed, got, c.want)
		}
	}
}

func TestProbeLongEnough(t *testing.T) {
	a := Adapt{Target: time.Second, MaxIterations: 1000}
	if a.ProbeLongEnough(10, 99*time.Millisecond) {
		t.Error("99 ms of a 1 s target is not enough to extrapolate from")
	}
	if !a.ProbeLongEnough(10, 100*time.Millisecond) {
		t.Error("a tenth of the target is enough")
	}
	if !a.ProbeLongEnough(1000, time.Nanosecond) {
		t.Error("at MaxIterations probing must stop")
	}
}

// TestAdaptConverges drives the probe loop the way MeasureLoop does against
// simulated workloads of very different per-iteration costs, including a
// fixed per-run overhead that makes early probes look expensive, and checks
// that the final count lands near the target in a handful of launches.
func TestAdaptConverges(t *testing.T) {
	a := Adapt{Target: 750 * time.Millisecond, MaxIterations: 1e9}
	for _, perOp := range []time.Duration{100, 5 * time.Microsecond, 2 * time.Millisecond, 200 * time.Millisecond} {
		const overhead = 50 * time.Microsecond
		run := func(n int64) time.Duration { return overhead + time.Duration(n)*perOp }
		n, probes := a.FirstProbe(), 0
		for {
			probes++
			if probes > 12 {
				t.Fatalf("perOp %v: still probing at n=%d", perOp, n)
			}
			e := run(n)
			if a.ProbeLongEnough(n, e) {
				n = a.Final(n, e)
				break
			}
			n = a.NextProbe(n, e)
		}
		got := run(n)
		lo, hi := a.Target/2, a.Target*3/2
		if perOp > a.Target/2 {
			lo, hi = 0, perOp+overhead // one iteration already exceeds the target
		}
		if got < lo || got > hi {
			t.Errorf("perOp %v: final n=%d runs %v, want within [%v, %v]", perOp, n, got, lo, hi)
		}
		if probes > 6 {
			t.Errorf("perOp %v: %d probes, want at most 6", perOp, probes)
		}
	}
}

func TestRunsFor(t *testing.T) {
	for _, c := range []struct {
		target, one time.Duration
		want        int
	}{
		{time.Second, 100 * time.Millisecond, 10},
		{time.Second, time.Millisecond, 200},     // capped
		{time.Second, 400 * time.Millisecond, 5}, // floored
		{time.Second, 0, 200},
	} {
		if got := RunsFor(c.target, c.one, 5, 200); got != c.want {
			t.Errorf("RunsFor(%v, %v) = %d, want %d", c.target, c.one, got, c.want)
		}
	}
}
