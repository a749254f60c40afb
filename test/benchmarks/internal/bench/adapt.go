package bench

import "time"

// Adapt chooses iteration counts so that one measured run of a loop
// workload lasts about Target. It probes with growing counts, each a short
// separate run that also warms caches, until one probe lasts long enough to
// extrapolate from, then scales that probe's count to Target.
type Adapt struct {
	// Target is the wanted duration of one measured run.
	Target time.Duration
	// MaxIterations caps every count, so a workload whose loop is
	// unexpectedly free (or a clock that does not move) stays bounded.
	MaxIterations int64
}

// maxGrowth bounds how much one probe may grow over the last: a first probe
// of one iteration is dominated by cold caches and would otherwise predict
// far too many iterations.
const maxGrowth = 100

// FirstProbe is the iteration count of the first probe.
func (a Adapt) FirstProbe() int64 { return 1 }

// ProbeLongEnough reports whether a probe that took elapsed is long enough
// (a tenth of Target) for its per-iteration time to be trusted, or whether
// the count cannot grow any more.
func (a Adapt) ProbeLongEnough(n int64, elapsed time.Duration) bool {
	return elapsed >= a.Target/10 || n >= a.MaxIterations
}

// NextProbe returns the count for the probe after n iterations took
// elapsed: aimed 20% past the probe threshold, at least one more than n,
// at most maxGrowth times n and MaxIterations.
func (a Adapt) NextProbe(n int64, elapsed time.Duration) int64 {
	return a.clamp(n, predict(n, elapsed, a.Target/10*12/10), n+1)
}

// Final returns the measured runs' count from the last probe: the count
// expected to take Target at the probe's per-iteration time.
func (a Adapt) Final(n int64, elapsed time.Duration) int64 {
	return a.clamp(n, predict(n, elapsed, a.Target), 1)
}

// predict scales n by goal/elapsed in floating point, so that neither a
// huge n nor a tiny elapsed overflows; an elapsed of zero (a clock too
// coarse to see the loop) predicts "as many as allowed".
func predict(n int64, elapsed, goal time.Duration) float64 {
	if elapsed <= 0 {
		return float64(n) * maxGrowth
	}
	return float64(n) * float64(goal) / float64(elapsed)
}

func (a Adapt) clamp(n int64, want float64, floor int64) int64 {
	hi := float64(n) * maxGrowth
	if max := float64(a.MaxIterations); max > 0 && hi > max {
		hi = max
	}
	if want > hi {
		want = hi
	}
	got := int64(want)
	if got < floor {
		got = floor
	}
	if a.MaxIterations > 0 && got > a.MaxIterations {
		got = a.MaxIterations
	}
	return got
}

// RunsFor returns how many runs of about one each fit in target, within
// [min, max]: the sample count for workloads timed per launch.
func RunsFor(target, one time.Duration, min, max int) int {
	if one <= 0 {
		return max
	}
	n := float64(target) / float64(one)
	switch {
	case n < float64(min):
		return min
	case n > float64(max):
		return max
	}
	return int(n)
}
