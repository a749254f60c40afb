package vdso

import (
	"bufio"
	"bytes"
	"strings"

	"golang.org/x/sys/unix"
)

// sampleTries is how many readings SampleHost takes to find one where the
// host clock read was not delayed (by an interrupt, a preemption).
const sampleTries = 5

// SampleHost reads the TSC and the host's clocks. Of several readings of
// CLOCK_MONOTONIC bracketed by two TSC reads it keeps the one with the
// narrowest bracket and dates it at the bracket's middle; the offsets of
// REALTIME and BOOTTIME are measured against the mean of the
// CLOCK_MONOTONIC reads around them.
func SampleHost() (Sample, error) {
	var s Sample
	best := ^uint64(0)
	for range sampleTries {
		t0 := readTSC()
		m, err := clockNs(unix.CLOCK_MONOTONIC)
		if err != nil {
			return Sample{}, err
		}
		t1 := readTSC()
		if t1 < t0 {
			continue
		}
		if w := t1 - t0; w < best {
			best = w
			s.TSC, s.Mono = t0+w/2, m
		}
	}
	if best == ^uint64(0) {
		return Sample{}, unix.EIO
	}
	var err error
	if s.RealOff, err = offsetFromMono(unix.CLOCK_REALTIME); err != nil {
		return Sample{}, err
	}
	if s.BootOff, err = offsetFromMono(unix.CLOCK_BOOTTIME); err != nil {
		return Sample{}, err
	}
	return s, nil
}

// offsetFromMono measures clock c minus CLOCK_MONOTONIC.
func offsetFromMono(c int32) (int64, error) {
	var off int64
	best := int64(1) << 62
	for range sampleTries {
		m0, err := clockNs(unix.CLOCK_MONOTONIC)
		if err != nil {
			return 0, err
		}
		v, err := clockNs(c)
		if err != nil {
			return 0, err
		}
		m1, err := clockNs(unix.CLOCK_MONOTONIC)
		if err != nil {
			return 0, err
		}
		if w := m1 - m0; w < best {
			best = w
			off = v - (m0 + w/2)
		}
	}
	return off, nil
}

func clockNs(c int32) (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(c, &ts); err != nil {
		return 0, err
	}
	return ts.Nano(), nil
}

// CoarseResolution is the host's resolution of CLOCK_MONOTONIC_COARSE in
// ns, 0 if the host does not say.
func CoarseResolution() int64 {
	var ts unix.Timespec
	if err := unix.ClockGetres(unix.CLOCK_MONOTONIC_COARSE, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

// TSCReliable reports whether /proc/cpuinfo's contents (read by the caller
// before the Sentry loses access to host files) show an invariant TSC on
// every CPU: constant_tsc (a fixed rate whatever the core's frequency) and
// nonstop_tsc (it keeps counting in deep idle states). Without both, TSC
// deltas do not measure time and the vDSO must not use them.
func TSCReliable(cpuinfo []byte) bool {
	cpus := 0
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "flags" {
			continue
		}
		cpus++
		var constant, nonstop bool
		for _, f := range strings.Fields(val) {
			switch f {
			case "constant_tsc":
				constant = true
			case "nonstop_tsc":
				nonstop = true
			}
		}
		if !constant || !nonstop {
			return false
		}
	}
	return cpus > 0
}
