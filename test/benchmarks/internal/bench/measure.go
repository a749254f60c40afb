package bench

import (
	"context"
	"time"
)

// Measurement is what the harness keeps of one workload in one mode.
type Measurement struct {
	// Samples holds one value per measured run, in nanoseconds: per
	// iteration for loop workloads, per launch for launch workloads.
	Samples []float64
	// Iterations is the count each measured run of a loop workload used.
	Iterations int64
	// MaxRSSKB is the largest Launch.MaxRSSKB over the measured runs.
	MaxRSSKB int64
	// SelfMaxRSSKB is the largest RSS a loop workload reported for itself.
	SelfMaxRSSKB int64
	// Launches counts every process started, probes included.
	Launches int
}

// MedianNs is the measurement's headline number.
func (m Measurement) MedianNs() float64 { return Median(m.Samples) }

// MeasureLoop measures a workload that prints a RESULT line named name:
// argv(n) is its command line for n iterations. It probes as a (the Adapt) directs,
// then makes count measured runs of the final count. The first failed
// launch ends the measurement with its error.
func MeasureLoop(ctx context.Context, mode Mode, name string, argv func(n int64) []string, a Adapt, count int) (Measurement, error) {
	var m Measurement
	run := func(n int64) (Result, Launch, error) {
		m.Launches++
		l, err := mode.Run(ctx, argv(n))
		if err != nil {
			return Result{}, l, err
		}
		r, err := FindResult(l.Stdout, name)
		if err == nil && r.Iterations != n {
			err = &RunError{Argv: mode.Argv(argv(n)), First: "workload ran a different iteration count than asked"}
		}
		return r, l, err
	}

	n := a.FirstProbe()
	for {
		r, _, err := run(n)
		if err != nil {
			return m, err
		}
		elapsed := time.Duration(r.TotalNs)
		if a.ProbeLongEnough(n, elapsed) {
			n = a.Final(n, elapsed)
			break
		}
		n = a.NextProbe(n, elapsed)
	}

	m.Iterations = n
	for i := 0; i < count; i++ {
		r, l, err := run(n)
		if err != nil {
			return m, err
		}
		m.Samples = append(m.Samples, r.NsPerOp)
		m.MaxRSSKB = max(m.MaxRSSKB, l.MaxRSSKB)
		m.SelfMaxRSSKB = max(m.SelfMaxRSSKB, r.SelfMaxRSSKB)
	}
	return m, nil
}

// MeasureLaunch measures the wall time of whole launches of argv, which
// need not print anything: one untimed warm-up launch, whose time also
// sizes the sample (RunsFor(target, warm-up, minRuns, maxRuns) launches),
// repeated count times.
func MeasureLaunch(ctx context.Context, mode Mode, argv []string, target time.Duration, minRuns, maxRuns, count int) (Measurement, error) {
	var m Measurement
	m.Launches++
	warm, err := mode.Run(ctx, argv)
	if err != nil {
		return m, err
	}
	runs := RunsFor(target, warm.Wall, minRuns, maxRuns) * count
	for i := 0; i < runs; i++ {
		m.Launches++
		l, err := mode.Run(ctx, argv)
		if err != nil {
			return m, err
		}
		m.Samples = append(m.Samples, float64(l.Wall.Nanoseconds()))
		m.MaxRSSKB = max(m.MaxRSSKB, l.MaxRSSKB)
	}
	return m, nil
}

// MeasureRuns measures a workload that decides its own amount of work
// and prints a RESULT line named name: count runs of argv, each one
// sample, with no probing (a server benchmark's client runs for a fixed
// time or request count).
func MeasureRuns(ctx context.Context, mode Mode, name string, argv []string, count int) (Measurement, error) {
	var m Measurement
	for i := 0; i < count; i++ {
		m.Launches++
		l, err := mode.Run(ctx, argv)
		if err != nil {
			return m, err
		}
		r, err := FindResult(l.Stdout, name)
		if err != nil {
			return m, err
		}
		m.Samples = append(m.Samples, r.NsPerOp)
		m.Iterations = r.Iterations
		m.MaxRSSKB = max(m.MaxRSSKB, l.MaxRSSKB)
		m.SelfMaxRSSKB = max(m.SelfMaxRSSKB, r.SelfMaxRSSKB)
	}
	return m, nil
}
