package arch

import (
	"encoding/binary"
	"sync"
	"unsafe"
)

// The FP state on amd64 is the host's XSAVE area in the standard
// (non-compacted) format, exactly as PTRACE_GETREGSET NT_X86_XSTATE returns
// it: the 512-byte legacy FXSAVE region, the 64-byte XSAVE header, then the
// extended components at the offsets CPUID leaf 0xD gives. In that format
// the software-reserved bytes 464..471 of the legacy region hold the
// host's user XSAVE feature mask (xcr0); the state is written back with
// PTRACE_SETREGSET, which validates the header. A platform that captures
// the state some other way (from a host signal frame) must convert it to
// this format.
//
// In a signal frame the same bytes carry struct _fpx_sw_bytes instead,
// which tells libc and the kernel's sigreturn how much extended state
// follows, and a second magic word follows the area.

var le = binary.LittleEndian

const (
	fxsaveSize      = 512
	xsaveHeaderSize = 64
	// XSaveMinSize is the smallest XSAVE area: the legacy region and the
	// header. FPState on amd64 is never smaller.
	XSaveMinSize = fxsaveSize + xsaveHeaderSize

	// Legacy (FXSAVE) region offsets.
	fxFCW        = 0
	fxMXCSR      = 24
	fxMXCSRMask  = 28
	fxST0        = 32  // eight 16-byte x87 registers
	fxXMM0       = 160 // sixteen 16-byte XMM registers
	fxXMMEnd     = 416
	fxSWReserved = 464

	// XSAVE header offsets.
	xsaveXStateBV = 512
	xsaveXCompBV  = 520

	// struct _fpx_sw_bytes, in the signal frame's software-reserved bytes.
	swMagic1       = fxSWReserved
	swExtendedSize = fxSWReserved + 4
	swXFeatures    = fxSWReserved + 8
	swXStateSize   = fxSWReserved + 16

	fpXStateMagic1     = 0x46505853
	fpXStateMagic2     = 0x46505845
	fpXStateMagic2Size = 4

	xfeatureX87   = 1 << 0
	xfeatureSSE   = 1 << 1
	xfeatureYMM   = 1 << 2
	xfeaturePKRU  = 1 << 9
	xfeatureFPSSE = xfeatureX87 | xfeatureSSE

	// Initial values after FNINIT / a fresh exec.
	initFCW   = 0x37f
	initMXCSR = 0x1f80
	// initPKRU is Linux's default protection-key rights: only key 0 is
	// accessible. New programs and signal handlers start with it.
	initPKRU = 0x55555554
	// fallbackMXCSRMask is what the SDM says to assume when the saved
	// MXCSR_MASK is zero.
	fallbackMXCSRMask = 0xffbf
)

// xsaveComponent is where one extended state component lives in the
// standard format.
type xsaveComponent struct {
	offset, size int
}

// xsaveLayout describes the host's XSAVE format, read from the CPU.
type xsaveLayout struct {
	// xcr0 is the feature mask the host OS enabled, which is what user
	// space can use.
	xcr0 uint64
	// size is the standard-format size for xcr0's features.
	size int
	// components are the extended components (bits 2..62) in xcr0.
	components map[int]xsaveComponent
	// mxcsrMask is the CPU's MXCSR_MASK as FXSAVE reports it.
	mxcsrMask uint32
}

// cpuid executes CPUID with the given leaf and subleaf.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

// CPUID executes CPUID with the given leaf and subleaf.
func CPUID(leaf, sub uint32) (eax, ebx, ecx, edx uint32) { return cpuid(leaf, sub) }

// xgetbv0 reads XCR0. Only valid when CPUID reports OSXSAVE.
func xgetbv0() (eax, edx uint32)

// fxsave stores the legacy FP state in the 16-byte-aligned part of buf.
func fxsave(buf *[fxsaveSize + 16]byte)

// hostXSave reads the layout once. The Sentry runs on the same CPU and
// kernel as the application, so its XCR0 and CPUID answers are the
// application's.
var hostXSave = sync.OnceValue(func() xsaveLayout {
	l := xsaveLayout{xcr0: xfeatureFPSSE, size: fxsaveSize, components: map[int]xsaveComponent{}}
	var buf [fxsaveSize + 16]byte
	fxsave(&buf)
	off := (16 - int(uintptr(unsafe.Pointer(&buf[0]))%16)) % 16
	l.mxcsrMask = le.Uint32(buf[off+fxMXCSRMask:])
	if _, _, ecx, _ := cpuid(1, 0); ecx&(1<<27) == 0 {
		return l
	}
	lo, hi := xgetbv0()
	l.xcr0 = uint64(hi)<<32 | uint64(lo)
	_, ebx, _, _ := cpuid(0xd, 0)
	l.size = int(ebx)
	for i := 2; i < 63; i++ {
		if l.xcr0&(1<<i) == 0 {
			continue
		}
		size, off, _, _ := cpuid(0xd, uint32(i))
		l.components[i] = xsaveComponent{offset: int(off), size: int(size)}
	}
	return l
})

// HostXSaveSize is the size of the XSAVE area for the features the host
// enabled, which is what PTRACE_GETREGSET NT_X86_XSTATE returns (unless the
// host has dynamically enabled features such as AMX, which ptrace also
// includes). Platforms may use it as FPStateSize.
func HostXSaveSize() int { return hostXSave().size }

// fpXFeatures returns the user feature mask recorded in an FP state in the
// ptrace layout, or the host's when the state does not carry one.
func fpXFeatures(fp []byte) uint64 {
	if v := le.Uint64(fp[fxSWReserved:]); v != 0 {
		return v
	}
	return hostXSave().xcr0
}

// mxcsrMask is the set of MXCSR bits the CPU accepts; loading any other
// bit faults.
func mxcsrMask(fp []byte) uint32 {
	m := le.Uint32(fp[fxMXCSRMask:])
	if m == 0 {
		m = hostXSave().mxcsrMask
	}
	if m == 0 {
		m = fallbackMXCSRMask
	}
	return m
}

// newFPState returns a clean FP state of the given size.
func newFPState(size int) []byte {
	if size < XSaveMinSize {
		panic("arch: FP state smaller than an XSAVE area")
	}
	fp := make([]byte, size)
	initFPState(fp, hostXSave().xcr0, hostXSave().mxcsrMask, true)
	return fp
}

// resetFPState puts fp in the state Linux gives a signal handler: every
// user component at its initial value, PKRU at its default. The feature
// mask word and the CPU's MXCSR_MASK are kept.
func resetFPState(fp []byte) {
	initFPState(fp, fpXFeatures(fp), le.Uint32(fp[fxMXCSRMask:]), true)
}

// initFPState writes the clean state into fp. x87 and SSE are marked in use
// with their initial contents spelled out, because much software reads the
// legacy region without looking at XSTATE_BV; the other components are
// marked as in their initial state. PKRU gets Linux's default when
// defaultPKRU is set, and its architectural initial value (0) otherwise.
func initFPState(fp []byte, xcr0 uint64, mask uint32, defaultPKRU bool) {
	clear(fp)
	le.PutUint16(fp[fxFCW:], initFCW)
	le.PutUint32(fp[fxMXCSR:], initMXCSR)
	le.PutUint32(fp[fxMXCSRMask:], mask)
	le.PutUint64(fp[fxSWReserved:], xcr0)
	bv := uint64(xfeatureFPSSE)
	if defaultPKRU && xcr0&xfeaturePKRU != 0 {
		if c, ok := hostXSave().components[9]; ok && c.offset+4 <= len(fp) {
			le.PutUint32(fp[c.offset:], initPKRU)
			bv |= xfeaturePKRU
		}
	}
	le.PutUint64(fp[xsaveXStateBV:], bv)
}

// fpStateToFrame returns the FP state as Linux lays it out in a signal
// frame: the XSAVE area with _fpx_sw_bytes in the software-reserved bytes,
// x87 and SSE always marked in use (Linux does this so that programs that
// edit only the legacy region see their edits restored), then the second
// magic word.
func fpStateToFrame(fp []byte) []byte {
	size := len(fp)
	out := make([]byte, size+fpXStateMagic2Size)
	copy(out, fp)
	xfeatures := fpXFeatures(fp)
	clear(out[fxSWReserved:fxsaveSize])
	le.PutUint32(out[swMagic1:], fpXStateMagic1)
	le.PutUint32(out[swExtendedSize:], uint32(size+fpXStateMagic2Size))
	le.PutUint64(out[swXFeatures:], xfeatures)
	le.PutUint32(out[swXStateSize:], uint32(size))
	le.PutUint64(out[xsaveXStateBV:], le.Uint64(out[xsaveXStateBV:])|xfeatureFPSSE)
	le.PutUint32(out[size:], fpXStateMagic2)
	return out
}

// fpStateFromFrame reads the FP state a signal handler left at addr, as
// Linux's sigreturn does, and returns it in the ptrace layout with cur's
// size, feature mask and MXCSR_MASK.
//
// A null pointer means "clean state". If the software-reserved bytes do not
// describe a complete XSAVE frame (wrong magic, inconsistent sizes, missing
// second magic), only the legacy FXSAVE region is taken and every other
// component is reset, as Linux does for programs that build legacy frames.
// What would make XRSTOR/FXRSTOR fault on Linux (misalignment, a header
// with bits the CPU does not have, reserved MXCSR bits) or an unreadable
// area fails with ErrBadSignalFrame.
func fpStateFromFrame(cur []byte, mem Memory, addr uint64) ([]byte, error) {
	size := len(cur)
	xcr0 := fpXFeatures(cur)
	mask := mxcsrMask(cur)
	out := make([]byte, size)
	initFPState(out, xcr0, le.Uint32(cur[fxMXCSRMask:]), addr == 0)
	if addr == 0 {
		return out, nil
	}

	var legacy [fxsaveSize]byte
	if err := mem.CopyIn(uintptr(addr), legacy[:]); err != nil {
		return nil, ErrBadSignalFrame
	}
	magic1 := le.Uint32(legacy[swMagic1:])
	extended := le.Uint32(legacy[swExtendedSize:])
	xstateSize := le.Uint32(legacy[swXStateSize:])
	full := magic1 == fpXStateMagic1 &&
		xstateSize >= XSaveMinSize &&
		uint64(xstateSize) <= uint64(size) &&
		xstateSize <= extended
	if full {
		var m2 [4]byte
		if err := mem.CopyIn(uintptr(addr+uint64(xstateSize)), m2[:]); err != nil {
			return nil, ErrBadSignalFrame
		}
		full = le.Uint32(m2[:]) == fpXStateMagic2
	}

	if !full {
		// FXRSTOR of the legacy region; everything else initial.
		if addr%16 != 0 || le.Uint32(legacy[fxMXCSR:])&^mask != 0 {
			return nil, ErrBadSignalFrame
		}
		copy(out[:fxMXCSRMask], legacy[:fxMXCSRMask])
		copy(out[fxST0:fxXMMEnd], legacy[fxST0:fxXMMEnd])
		le.PutUint64(out[xsaveXStateBV:], xfeatureFPSSE)
		return out, nil
	}

	// XRSTOR with the features the frame claims, limited to the host's.
	if addr%64 != 0 {
		return nil, ErrBadSignalFrame
	}
	buf := make([]byte, xstateSize)
	if err := mem.CopyIn(uintptr(addr), buf); err != nil {
		return nil, ErrBadSignalFrame
	}
	rfbm := le.Uint64(buf[swXFeatures:]) & xcr0
	bv := le.Uint64(buf[xsaveXStateBV:])
	if bv&^xcr0 != 0 || !allZero(buf[xsaveXCompBV:xsaveXCompBV+16]) {
		return nil, ErrBadSignalFrame
	}
	if rfbm&(xfeatureSSE|xfeatureYMM) != 0 {
		mxcsr := le.Uint32(buf[fxMXCSR:])
		if mxcsr&^mask != 0 {
			return nil, ErrBadSignalFrame
		}
		le.PutUint32(out[fxMXCSR:], mxcsr)
	}
	load := bv & rfbm
	if load&xfeatureX87 != 0 {
		copy(out[:fxMXCSR], buf[:fxMXCSR])
		copy(out[fxST0:fxXMM0], buf[fxST0:fxXMM0])
	}
	if load&xfeatureSSE != 0 {
		copy(out[fxXMM0:fxXMMEnd], buf[fxXMM0:fxXMMEnd])
	}
	newBV := uint64(xfeatureFPSSE)
	for i, c := range hostXSave().components {
		if load&(1<<i) == 0 {
			continue
		}
		// A component past the end of what the frame claims to hold
		// is left initial rather than read beyond xstate_size.
		if c.offset+c.size > int(xstateSize) || c.offset+c.size > size {
			continue
		}
		copy(out[c.offset:c.offset+c.size], buf[c.offset:c.offset+c.size])
		newBV |= 1 << i
	}
	le.PutUint64(out[xsaveXStateBV:], newBV)
	return out, nil
}

func allZero(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}
