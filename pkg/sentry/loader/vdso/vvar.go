package vdso

import (
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// The vvar page: one page of little-endian 64-bit words that the Sentry
// writes and every application maps read-only right before the vDSO text.
// The machine code addresses these offsets directly; they are the ABI
// between Publish and the code in code_*.go.
const (
	// VVarSize is the size of the data area before the image.
	VVarSize = 4096

	// offSeq is the sequence counter: odd while Publish writes.
	offSeq = 0
	// offBaseTSC and offBaseMono are a point of the TSC -> CLOCK_MONOTONIC
	// line: at TSC value BaseTSC, CLOCK_MONOTONIC was BaseMono.
	offBaseTSC  = 8
	offBaseMono = 16
	// offMult and offShift are the line's slope, ns per tick as a fixed
	// point number: ns = (ticks * mult) >> shift, the product taken in 128
	// bits.
	offMult  = 24
	offShift = 32
	// offOffsets is an array of numClockIDs words: clock c's value is
	// CLOCK_MONOTONIC + word[c].
	offOffsets = 64
	// offRes is an array of numClockIDs words: clock c's resolution in
	// ns, to which its value is truncated (1 for the precise clocks); 0
	// means the vDSO does not answer for c and makes the system call.
	offRes = offOffsets + 8*numClockIDs

	numClockIDs = 16
)

// Params are the contents of the vvar page.
type Params struct {
	BaseTSC  uint64
	BaseMono int64
	Mult     uint64
	// Shift is below 64: the code shifts the 128-bit product with SHRD.
	Shift uint32
	// Offsets[c] is added to CLOCK_MONOTONIC to give clock c.
	Offsets [numClockIDs]int64
	// Res[c] is clock c's resolution in ns; 0 for the clocks the vDSO
	// leaves to the Sentry. All zero makes every call a system call.
	Res [numClockIDs]int64
}

// MonoAt is CLOCK_MONOTONIC at TSC value tsc as the vDSO computes it,
// bit for bit: a TSC before BaseTSC counts as BaseTSC.
func (p *Params) MonoAt(tsc uint64) int64 {
	var delta uint64
	if tsc > p.BaseTSC {
		delta = tsc - p.BaseTSC
	}
	hi, lo := bits.Mul64(delta, p.Mult)
	ns := lo
	if p.Shift != 0 {
		ns = lo>>p.Shift | hi<<(64-p.Shift)
	}
	return p.BaseMono + int64(ns)
}

// Publish writes the parameters that make returns into page (the Sentry's
// view of the vvar page) under the sequence counter, so that a reader sees
// either the old or the new parameters whole. make runs while the counter
// is odd: parameters based on a TSC value read inside it continue the old
// line from a point no reader can have passed with the old parameters.
// Writers must be serialized by the caller. page must be 8-byte aligned and
// at least VVarSize long.
func Publish(page []byte, make func() Params) {
	if len(page) < VVarSize {
		panic("vdso: vvar page too small")
	}
	word := func(off int) *uint64 { return (*uint64)(unsafe.Pointer(&page[off])) }
	seq := atomic.LoadUint64(word(offSeq))
	// Atomic stores are full barriers on amd64 (XCHG) and release stores on
	// arm64, so the odd count is visible before any field changes and every
	// field before the even count.
	atomic.StoreUint64(word(offSeq), seq|1)
	p := make()
	if p.Shift >= 64 {
		panic("vdso: shift out of range")
	}
	atomic.StoreUint64(word(offBaseTSC), p.BaseTSC)
	atomic.StoreUint64(word(offBaseMono), uint64(p.BaseMono))
	atomic.StoreUint64(word(offMult), p.Mult)
	atomic.StoreUint64(word(offShift), uint64(p.Shift))
	for c := range numClockIDs {
		atomic.StoreUint64(word(offOffsets+8*c), uint64(p.Offsets[c]))
		atomic.StoreUint64(word(offRes+8*c), uint64(p.Res[c]))
	}
	atomic.StoreUint64(word(offSeq), (seq|1)+1)
}

// Read returns the parameters in page, retrying while a Publish is under
// way, as the vDSO code does. It is for tests and diagnostics.
func Read(page []byte) Params {
	word := func(off int) uint64 { return atomic.LoadUint64((*uint64)(unsafe.Pointer(&page[off]))) }
	for {
		seq := word(offSeq)
		if seq&1 != 0 {
			continue
		}
		p := Params{
			BaseTSC:  word(offBaseTSC),
			BaseMono: int64(word(offBaseMono)),
			Mult:     word(offMult),
			Shift:    uint32(word(offShift)),
		}
		for c := range numClockIDs {
			p.Offsets[c] = int64(word(offOffsets + 8*c))
			p.Res[c] = int64(word(offRes + 8*c))
		}
		if word(offSeq) == seq {
			return p
		}
	}
}
