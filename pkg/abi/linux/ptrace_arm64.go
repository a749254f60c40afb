package linux

// arm64-only ptrace(2) requests. arm64 has no PTRACE_GETREGS: registers
// move with PTRACE_GETREGSET and NT_PRSTATUS.
const (
	PTRACE_PEEKMTETAGS = 33
	PTRACE_POKEMTETAGS = 34
)

// PtraceRegs is struct user_pt_regs for arm64 (NT_PRSTATUS): x0..x30, sp,
// pc and pstate.
type PtraceRegs struct {
	Regs   [31]uint64
	Sp     uint64
	Pc     uint64
	Pstate uint64
}

// SizeofPtraceRegs is sizeof(struct user_pt_regs).
const SizeofPtraceRegs = 34 * 8

// SizeBytes implements marshal.Marshallable.
func (*PtraceRegs) SizeBytes() int { return SizeofPtraceRegs }

// MarshalBytes implements marshal.Marshallable.
func (r *PtraceRegs) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofPtraceRegs-1]
	for i, v := range r.Regs {
		le.PutUint64(dst[8*i:], v)
	}
	le.PutUint64(dst[248:], r.Sp)
	le.PutUint64(dst[256:], r.Pc)
	le.PutUint64(dst[264:], r.Pstate)
	return dst[SizeofPtraceRegs:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (r *PtraceRegs) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofPtraceRegs-1]
	for i := range r.Regs {
		r.Regs[i] = le.Uint64(src[8*i:])
	}
	r.Sp = le.Uint64(src[248:])
	r.Pc = le.Uint64(src[256:])
	r.Pstate = le.Uint64(src[264:])
	return src[SizeofPtraceRegs:]
}

// PC returns the program counter.
func (r *PtraceRegs) PC() uint64 { return r.Pc }

// SP returns the stack pointer.
func (r *PtraceRegs) SP() uint64 { return r.Sp }
