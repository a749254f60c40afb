package vdso

import (
	"math/rand"
	"sync"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// fakeHost is a host whose TSC runs at ghz ticks per ns with sample jitter.
type fakeHost struct {
	ghz     float64
	tsc0    uint64
	mono    int64 // ns since start
	realOff int64
	bootOff int64
	rng     *rand.Rand
	jitter  int64
}

func (h *fakeHost) tscAt(mono int64) uint64 { return h.tsc0 + uint64(float64(mono)*h.ghz) }

func (h *fakeHost) sample() Sample {
	j := int64(0)
	if h.jitter > 0 {
		j = h.rng.Int63n(2*h.jitter) - h.jitter
	}
	return Sample{TSC: h.tscAt(h.mono + j), Mono: h.mono, RealOff: h.realOff, BootOff: h.bootOff}
}

func newFakeHost() *fakeHost {
	return &fakeHost{ghz: 2.7, tsc0: 1 << 40, mono: 5e9, realOff: 1.7e18, bootOff: 3e6, rng: rand.New(rand.NewSource(1)), jitter: 50}
}

// run advances the fake host through n updates of period, checking at
// every publication that the vDSO's CLOCK_MONOTONIC continues the old line
// (never decreases) and, after warm-up, stays near the host's.
func run(t *testing.T, h *fakeHost, tr *Tracker, n int, period time.Duration, maxErr int64) Params {
	t.Helper()
	var p Params
	for i := range n {
		h.mono += int64(period)
		s := h.sample()
		tr.Update(s, period)
		pub := h.tscAt(h.mono + 2000) // published 2 us after the sample
		wasValid := tr.valid
		old := tr.cur
		p = tr.ParamsAt(pub)
		if wasValid && p.MonoAt(pub) < old.MonoAt(pub) {
			t.Fatalf("update %d: line went back at publication: %d < %d", i, p.MonoAt(pub), old.MonoAt(pub))
		}
		if p.Res[linux.CLOCK_MONOTONIC] == 0 {
			continue
		}
		// Just before the next update the line must still be close.
		if i > 5 && maxErr > 0 {
			next := h.mono + int64(period) - 1000
			if err := p.MonoAt(h.tscAt(next)) - next; err > maxErr || err < -maxErr {
				t.Fatalf("update %d: error %d ns before the next update", i, err)
			}
		}
	}
	return p
}

func TestTrackerFollowsHost(t *testing.T) {
	h := newFakeHost()
	tr := NewTracker(true, 4e6)
	tr.Update(h.sample(), time.Millisecond)
	if p := tr.ParamsAt(h.tscAt(h.mono)); p.Res != ([numClockIDs]int64{}) {
		t.Fatal("enabled after one sample")
	}
	p := run(t, h, tr, 100, 100*time.Millisecond, 1000)
	if p.Res[linux.CLOCK_REALTIME] != 1 || p.Res[linux.CLOCK_BOOTTIME] != 1 || p.Res[linux.CLOCK_MONOTONIC_COARSE] != 4e6 || p.Res[linux.CLOCK_PROCESS_CPUTIME_ID] != 0 || p.Res[linux.CLOCK_MONOTONIC_RAW] != 0 {
		t.Errorf("resolutions %v", p.Res)
	}
	if p.Offsets[linux.CLOCK_REALTIME] != h.realOff || p.Offsets[linux.CLOCK_BOOTTIME] != h.bootOff || p.Offsets[linux.CLOCK_MONOTONIC] != 0 {
		t.Errorf("offsets %v", p.Offsets)
	}
}

// TestTrackerSlewsAndSteps: a host whose rate changes (NTP) is followed by
// slewing; a jump of the host clock past stepThreshold is taken at once.
func TestTrackerSlewsAndSteps(t *testing.T) {
	h := newFakeHost()
	tr := NewTracker(true, 0)
	tr.Update(h.sample(), time.Millisecond)
	tr.ParamsAt(h.tscAt(h.mono))
	run(t, h, tr, 30, 100*time.Millisecond, 1000)
	// A 200 ppm frequency change: the TSC now runs faster per host ns.
	mono0, tsc0 := h.mono, h.tscAt(h.mono)
	h.ghz *= 1.0002
	h.tsc0 = tsc0 - uint64(float64(mono0)*h.ghz)
	run(t, h, tr, 60, 100*time.Millisecond, 0)
	run(t, h, tr, 30, 100*time.Millisecond, 1000)

	// The host clock (as seen against the TSC) jumps 5 s forward.
	h.tsc0 -= uint64(5e9 * h.ghz)
	h.mono += 5e9 + int64(100*time.Millisecond)
	tr.Update(h.sample(), 100*time.Millisecond)
	p := tr.ParamsAt(h.tscAt(h.mono))
	if err := p.MonoAt(h.tscAt(h.mono+1e8)) - (h.mono + 1e8); err > 1000 || err < -1000 {
		t.Fatalf("after a step: error %d", err)
	}
	run(t, h, tr, 20, 100*time.Millisecond, 1000)
	if p.Res[linux.CLOCK_MONOTONIC_COARSE] != 0 {
		t.Error("coarse clocks answered without a coarse resolution")
	}
}

func TestTrackerOffsets(t *testing.T) {
	h := newFakeHost()
	tr := NewTracker(true, 0)
	run(t, h, tr, 10, 10*time.Millisecond, 0)
	old := h.realOff
	h.realOff += 1000 // noise-sized: ignored
	p := run(t, h, tr, 1, 10*time.Millisecond, 0)
	if p.Offsets[linux.CLOCK_REALTIME] != old {
		t.Errorf("1 us offset change taken: %d", p.Offsets[linux.CLOCK_REALTIME]-old)
	}
	h.realOff += 1e9 // settimeofday
	h.bootOff += 3e9 // resume
	p = run(t, h, tr, 1, 10*time.Millisecond, 0)
	if p.Offsets[linux.CLOCK_REALTIME] != h.realOff || p.Offsets[linux.CLOCK_REALTIME_COARSE] != h.realOff || p.Offsets[linux.CLOCK_BOOTTIME] != h.bootOff {
		t.Errorf("steps not taken: %v", p.Offsets)
	}
}

func TestTrackerDisabled(t *testing.T) {
	h := newFakeHost()
	tr := NewTracker(false, 4e6)
	for range 5 {
		h.mono += 1e8
		tr.Update(h.sample(), 100*time.Millisecond)
		if p := tr.ParamsAt(h.tscAt(h.mono)); p.Res != ([numClockIDs]int64{}) {
			t.Fatalf("unreliable TSC answered: %v", p.Res)
		}
	}
	// A TSC going backwards disables until two new samples.
	tr = NewTracker(true, 0)
	run(t, h, tr, 5, 10*time.Millisecond, 0)
	h.tsc0 -= 1 << 39
	h.mono += 1e7
	tr.Update(h.sample(), 10*time.Millisecond)
	if p := tr.ParamsAt(h.tscAt(h.mono)); p.Res[linux.CLOCK_MONOTONIC] != 0 {
		t.Fatal("answered after the TSC went backwards")
	}
	p := run(t, h, tr, 1, 10*time.Millisecond, 0)
	if err := p.MonoAt(h.tscAt(h.mono+1e6)) - (h.mono + 1e6); p.Res[linux.CLOCK_MONOTONIC] != 1 || err > 1000 || err < -1000 {
		t.Fatal("did not recover")
	}
}

func TestMonoAtClampsAndScales(t *testing.T) {
	p := Params{BaseTSC: 1000, BaseMono: 7, Mult: 3 << 31, Shift: 32} // 1.5 ns per tick
	if got := p.MonoAt(900); got != 7 {
		t.Errorf("before base: %d", got)
	}
	if got := p.MonoAt(3000); got != 7+3000 {
		t.Errorf("2000 ticks: %d", got)
	}
	// A delta whose product overflows 64 bits.
	big := uint64(1) << 62
	if got := p.MonoAt(1000 + big); got != 7+int64(big/2*3) {
		t.Errorf("2^62 ticks: %d", got)
	}
}

// TestPublishConsistent has readers check that they never see a mix of
// two publications while a writer republishes.
func TestPublishConsistent(t *testing.T) {
	page := make([]uint64, VVarSize/8)
	b := unsafeBytes(page)
	mk := func(v int64) func() Params {
		return func() Params {
			p := Params{BaseTSC: uint64(v), BaseMono: v, Mult: uint64(v), Shift: 32}
			for c := range numClockIDs {
				p.Offsets[c], p.Res[c] = v, v
			}
			return p
		}
	}
	Publish(b, mk(1))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := Read(b)
				v := p.BaseMono
				if p.BaseTSC != uint64(v) || p.Mult != uint64(v) || p.Offsets[15] != v || p.Res[0] != v || p.Res[15] != v {
					t.Errorf("torn read: %+v", p)
					return
				}
			}
		}()
	}
	for i := int64(2); i < 20000; i++ {
		Publish(b, mk(i))
	}
	close(stop)
	wg.Wait()
	if Read(b).BaseMono != 19999 {
		t.Error("last publication lost")
	}
	if seq := page[0]; seq%2 != 0 || seq != 2*19999 {
		t.Errorf("sequence %d", seq)
	}
}

func TestTSCReliable(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"processor\t: 0\nflags\t\t: fpu tsc constant_tsc nonstop_tsc rdtscp\n\nprocessor\t: 1\nflags\t\t: tsc nonstop_tsc constant_tsc\n", true},
		{"processor\t: 0\nflags\t\t: fpu tsc constant_tsc nonstop_tsc\n\nprocessor\t: 1\nflags\t\t: tsc constant_tsc\n", false},
		{"processor\t: 0\nflags\t\t: fpu tsc constant_tsc\n", false},
		{"processor\t: 0\nFeatures\t: fp asimd evtstrm\n", false},
		{"", false},
	} {
		if got := TSCReliable([]byte(c.in)); got != c.want {
			t.Errorf("TSCReliable(%q) = %v", c.in, got)
		}
	}
}
