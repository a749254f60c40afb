package systrap

import (
	"encoding/binary"
	"unsafe"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
)

var le = binary.LittleEndian

// maxUserBase bounds fs_base and gs_base: the handler loads them with
// wrfsbase/wrgsbase, which fault on a non-canonical address.
const maxUserBase = 1 << 47

// loadRegs writes the application registers r into the slot's sigcontext
// words (the ones the handler copies back: r8..eflags) and base words.
func (s *slot) loadRegs(r *linux.PtraceRegs) {
	g := (*[nGregs]uint64)(unsafe.Pointer(s.u64(offGregs)))
	g[gR8], g[gR9], g[gR10], g[gR11] = r.R8, r.R9, r.R10, r.R11
	g[gR12], g[gR13], g[gR14], g[gR15] = r.R12, r.R13, r.R14, r.R15
	g[gRDI], g[gRSI], g[gRBP], g[gRBX] = r.Rdi, r.Rsi, r.Rbp, r.Rbx
	g[gRDX], g[gRAX], g[gRCX], g[gRSP] = r.Rdx, r.Rax, r.Rcx, r.Rsp
	g[gRIP], g[gEFLAGS] = r.Rip, r.Eflags
	*s.u64(offFSBase) = r.FsBase
	*s.u64(offGSBase) = r.GsBase
}

// saveRegs reads the registers the handler saved into r. gsValid says
// whether the slot's gs base is the thread's (the handler reads it only
// with rdgsbase); otherwise r.GsBase is left alone.
func (s *slot) saveRegs(r *linux.PtraceRegs, gsValid bool) {
	g := (*[nGregs]uint64)(unsafe.Pointer(s.u64(offGregs)))
	r.R8, r.R9, r.R10, r.R11 = g[gR8], g[gR9], g[gR10], g[gR11]
	r.R12, r.R13, r.R14, r.R15 = g[gR12], g[gR13], g[gR14], g[gR15]
	r.Rdi, r.Rsi, r.Rbp, r.Rbx = g[gRDI], g[gRSI], g[gRBP], g[gRBX]
	r.Rdx, r.Rax, r.Rcx, r.Rsp = g[gRDX], g[gRAX], g[gRCX], g[gRSP]
	r.Rip, r.Eflags = g[gRIP], g[gEFLAGS]
	// sigcontext packs cs, gs, fs, ss as 16-bit words.
	sel := g[gCSGSFS]
	r.Cs, r.Gs, r.Fs, r.Ss = sel&0xffff, sel>>16&0xffff, sel>>32&0xffff, sel>>48&0xffff
	r.Ds, r.Es = 0, 0
	r.OrigRax = ^uint64(0)
	r.FsBase = *s.u64(offFSBase)
	if gsValid {
		r.GsBase = *s.u64(offGSBase)
	}
}

func (s *slot) greg(i int) uint64 { return *s.u64(offGregs + uintptr(i)*8) }

func (s *slot) siginfo() linux.SignalInfo {
	var info linux.SignalInfo
	info.UnmarshalBytes(s.bytes(offSiginfo, linux.SizeofSignalInfo))
	return info
}

// XSAVE layout facts (the standard format both the kernel's signal frame
// and arch.Context.FPState use; see pkg/sentry/arch/fpstate_amd64.go).
const (
	fxSWReserved  = 464
	fxMXCSR       = 24
	fxMXCSRMask   = 28
	xsaveXStateBV = 512
	xsaveHdrEnd   = 576
	swXStateSize  = fxSWReserved + 16
	swXFeatures   = fxSWReserved + 8
	fpXStateMagic = 0x46505853
)

// fpLayout is what the platform knows of the host's XSAVE format.
type fpLayout struct {
	size      int
	xfeatures uint64 // user features the kernel saves in signal frames
	mxcsrMask uint32
	// components are the extended components (bit >= 2): offset, size.
	components [][3]int // bit, offset, size
}

// newFPLayout reads the layout from a signal frame's FP area (as the
// handler copied it) and CPUID.
func newFPLayout(frame []byte) (fpLayout, bool) {
	if le.Uint32(frame[fxSWReserved:]) != fpXStateMagic {
		return fpLayout{}, false
	}
	l := fpLayout{
		size:      int(le.Uint32(frame[swXStateSize:])),
		xfeatures: le.Uint64(frame[swXFeatures:]),
		mxcsrMask: le.Uint32(frame[fxMXCSRMask:]),
	}
	if l.mxcsrMask == 0 {
		l.mxcsrMask = 0xffbf
	}
	for i := 2; i < 63; i++ {
		if l.xfeatures&(1<<i) == 0 {
			continue
		}
		size, off, _, _ := arch.CPUID(0xd, uint32(i))
		if int(off)+int(size) > l.size {
			return fpLayout{}, false
		}
		l.components = append(l.components, [3]int{i, int(off), int(size)})
	}
	return l, l.size >= xsaveHdrEnd && l.size == arch.HostXSaveSize() && l.size <= maxFPSize
}

// fromFrame converts the FP area the handler saved into the ptrace layout
// in dst: components the frame marks as initial are zeroed (the kernel's
// XSAVE may leave whatever was on the signal stack there), and the
// software-reserved bytes hold the feature mask rather than the frame's
// _fpx_sw_bytes.
func (l *fpLayout) fromFrame(dst, frame []byte) {
	copy(dst, frame[:l.size])
	bv := le.Uint64(dst[xsaveXStateBV:])
	for _, c := range l.components {
		if bv&(1<<c[0]) == 0 {
			clear(dst[c[1] : c[1]+c[2]])
		}
	}
	clear(dst[fxSWReserved:xsaveXStateBV])
	le.PutUint64(dst[fxSWReserved:], l.xfeatures)
}

// toFrame copies an FP state into the slot, made safe for the kernel's
// sigreturn XRSTOR (which would fail, and kill the stub, on reserved
// header bits, features the host lacks, or reserved MXCSR bits). The
// software-reserved bytes are not copied by the handler.
func (l *fpLayout) toFrame(frame, src []byte) {
	copy(frame[:l.size], src)
	le.PutUint64(frame[xsaveXStateBV:], le.Uint64(frame[xsaveXStateBV:])&l.xfeatures)
	clear(frame[xsaveXStateBV+8 : xsaveHdrEnd])
	le.PutUint32(frame[fxMXCSR:], le.Uint32(frame[fxMXCSR:])&l.mxcsrMask)
}
