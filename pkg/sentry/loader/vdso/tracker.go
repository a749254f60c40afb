package vdso

import (
	"math"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Sample is one reading of the TSC and the host's clocks, taken as close
// together as the host allows.
type Sample struct {
	TSC uint64
	// Mono is CLOCK_MONOTONIC when the TSC read TSC.
	Mono int64
	// RealOff and BootOff are CLOCK_REALTIME and CLOCK_BOOTTIME minus
	// CLOCK_MONOTONIC. Linux advances all three at the same rate; the
	// offsets change only when the host steps its wall clock or resumes
	// from suspend.
	RealOff, BootOff int64
}

// Tuning of Tracker.
const (
	// rateWindow is how far back the reference sample for the TSC rate
	// may lie: long enough that sampling noise (~100 ns) is a part in 10^7
	// of it, short enough to follow NTP's frequency changes.
	rateWindow = 2 * time.Second
	// stepThreshold is the disagreement between the vDSO's line and the
	// host's CLOCK_MONOTONIC beyond which the line is reset to the host
	// instead of slewed towards it.
	stepThreshold = time.Millisecond
	// maxSlew bounds the relative rate correction used to absorb smaller
	// disagreements within one update period.
	maxSlew = 0.01
	// offsetStep is the change of RealOff or BootOff taken as a step of
	// the host clock. Smaller differences are sampling noise: the offsets
	// are measured to well under a microsecond.
	offsetStep = 2 * time.Microsecond
	// minRate and maxRate bound a plausible TSC period in ns per tick
	// (100 MHz .. 100 GHz); outside them the samples are nonsense.
	minRate, maxRate = 0.01, 10.0

	multShift = 32
)

// preciseClocks are the clock IDs the vDSO answers to the nanosecond, as
// Linux's does from the TSC; coarseClocks it answers truncated to the
// host's coarse resolution.
var (
	preciseClocks = []int{linux.CLOCK_REALTIME, linux.CLOCK_MONOTONIC, linux.CLOCK_BOOTTIME}
	coarseClocks  = []int{linux.CLOCK_REALTIME_COARSE, linux.CLOCK_MONOTONIC_COARSE}
)

// Tracker derives the vvar parameters from a stream of host samples. It
// keeps the vDSO's CLOCK_MONOTONIC continuous and never decreasing across
// updates: a new line starts where the old one is at the moment of
// publication, and its slope is the measured TSC rate corrected so that
// the line meets the host's clock again by the next update. Only a
// disagreement above stepThreshold (a host suspend, a TSC that jumped, a
// stalled Sentry) resets the line to the host's value, which may be a jump
// backwards for a reader that read in the last period.
//
// A Tracker is not safe for concurrent use.
type Tracker struct {
	usable    bool
	coarseRes int64

	// history holds recent samples, oldest first, for the rate.
	history []Sample
	// rate is the last measured TSC period in ns per tick, 0 if none.
	rate float64

	// cur is the published line; valid says there is one.
	cur   Params
	valid bool

	// Update's decision, applied by ParamsAt.
	next struct {
		enabled bool
		mult    uint64
		// stepped lines start at the sample instead of continuing cur.
		stepped bool
		at      Sample
		realOff int64
		bootOff int64
	}
}

// NewTracker returns a tracker. tscUsable says the host's TSC runs at a
// constant rate through frequency changes and idle states (constant_tsc
// and nonstop_tsc); without it every time call is a system call.
// coarseRes is clock_getres(CLOCK_MONOTONIC_COARSE) in ns (0 leaves the
// coarse clocks to the Sentry).
func NewTracker(tscUsable bool, coarseRes int64) *Tracker {
	return &Tracker{usable: tscUsable, coarseRes: coarseRes}
}

// Update takes a new sample. period is the time until the next update: the
// slope correction absorbs the current error over it. Call ParamsAt next.
func (t *Tracker) Update(s Sample, period time.Duration) {
	t.next.enabled = false
	if !t.usable {
		return
	}
	if n := len(t.history); n > 0 && s.TSC <= t.history[n-1].TSC {
		// The TSC went backwards (another CPU's unsynchronized TSC, a
		// migration): start measuring again.
		t.history = t.history[:0]
		t.valid, t.rate = false, 0
	}
	t.history = append(t.history, s)
	for len(t.history) > 2 && time.Duration(s.Mono-t.history[1].Mono) >= rateWindow {
		t.history = t.history[1:]
	}
	if len(t.history) < 2 {
		t.valid = false
		return
	}
	ref := t.history[0]
	rate := float64(s.Mono-ref.Mono) / float64(s.TSC-ref.TSC)

	n := &t.next
	n.at = s
	n.stepped = true
	slope := rate
	if t.valid {
		err := s.Mono - t.cur.MonoAt(s.TSC)
		if math.Abs(float64(err)) <= float64(stepThreshold) {
			n.stepped = false
			corr := float64(err) / float64(max(period, time.Millisecond))
			slope *= 1 + max(-maxSlew, min(maxSlew, corr))
		} else {
			// The host clock jumped against the TSC: the rate window
			// spans the jump, so keep the last rate and measure anew.
			slope, rate = t.rate, t.rate
			t.history = append(t.history[:0], s)
		}
	}
	if !(rate >= minRate && rate <= maxRate) {
		t.history = append(t.history[:0], s)
		t.valid, t.rate = false, 0
		return
	}
	t.rate = rate
	n.enabled = true
	n.mult = uint64(math.Round(slope * (1 << multShift)))
	n.realOff = keepUnlessStepped(t.cur.Offsets[linux.CLOCK_REALTIME], s.RealOff, t.valid)
	n.bootOff = keepUnlessStepped(t.cur.Offsets[linux.CLOCK_BOOTTIME], s.BootOff, t.valid)
}

// keepUnlessStepped returns the published offset old unless the measured
// one differs by more than sampling noise, so that REALTIME does not
// jitter backwards by a few nanoseconds at every update.
func keepUnlessStepped(old, measured int64, valid bool) int64 {
	if valid && math.Abs(float64(measured-old)) <= float64(offsetStep) {
		return old
	}
	return measured
}

// ParamsAt returns the parameters to publish, with the line based at TSC
// value tsc (read after the sample, while the vvar counter is odd), and
// makes them current.
func (t *Tracker) ParamsAt(tsc uint64) Params {
	n := &t.next
	if !n.enabled {
		t.cur, t.valid = Params{}, false
		return t.cur
	}
	var base int64
	if n.stepped {
		base = (&Params{BaseTSC: n.at.TSC, BaseMono: n.at.Mono, Mult: n.mult, Shift: multShift}).MonoAt(tsc)
	} else {
		base = t.cur.MonoAt(tsc)
	}
	p := Params{
		BaseTSC:  max(tsc, n.at.TSC),
		BaseMono: base,
		Mult:     n.mult,
		Shift:    multShift,
	}
	for _, c := range preciseClocks {
		p.Res[c] = 1
	}
	if t.coarseRes > 0 && t.coarseRes < int64(time.Second) {
		for _, c := range coarseClocks {
			p.Res[c] = t.coarseRes
		}
	}
	p.Offsets[linux.CLOCK_REALTIME] = n.realOff
	p.Offsets[linux.CLOCK_REALTIME_COARSE] = n.realOff
	p.Offsets[linux.CLOCK_BOOTTIME] = n.bootOff
	t.cur, t.valid = p, true
	return p
}
