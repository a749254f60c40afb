package linux

// amd64-only ptrace(2) requests.
const (
	PTRACE_GETREGS         = 12
	PTRACE_SETREGS         = 13
	PTRACE_GETFPREGS       = 14
	PTRACE_SETFPREGS       = 15
	PTRACE_GETFPXREGS      = 18
	PTRACE_SETFPXREGS      = 19
	PTRACE_OLDSETOPTIONS   = 21
	PTRACE_GET_THREAD_AREA = 25
	PTRACE_SET_THREAD_AREA = 26
	PTRACE_ARCH_PRCTL      = 30
	PTRACE_SINGLEBLOCK     = 33
)

// PtraceRegs is struct user_regs_struct for amd64: the general registers
// in the order the kernel's pt_regs saves them on entry (callee-saved
// first), then the segment state. PTRACE_GETREGS and NT_PRSTATUS use it,
// and it is what the ptrace platform moves between the Sentry and stubs.
type PtraceRegs struct {
	R15     uint64
	R14     uint64
	R13     uint64
	R12     uint64
	Rbp     uint64
	Rbx     uint64
	R11     uint64
	R10     uint64
	R9      uint64
	R8      uint64
	Rax     uint64
	Rcx     uint64
	Rdx     uint64
	Rsi     uint64
	Rdi     uint64
	OrigRax uint64
	Rip     uint64
	Cs      uint64
	Eflags  uint64
	Rsp     uint64
	Ss      uint64
	FsBase  uint64
	GsBase  uint64
	Ds      uint64
	Es      uint64
	Fs      uint64
	Gs      uint64
}

// SizeofPtraceRegs is sizeof(struct user_regs_struct) on amd64.
const SizeofPtraceRegs = 27 * 8

func (r *PtraceRegs) words() [27]*uint64 {
	return [27]*uint64{&r.R15, &r.R14, &r.R13, &r.R12, &r.Rbp, &r.Rbx, &r.R11, &r.R10,
		&r.R9, &r.R8, &r.Rax, &r.Rcx, &r.Rdx, &r.Rsi, &r.Rdi, &r.OrigRax, &r.Rip,
		&r.Cs, &r.Eflags, &r.Rsp, &r.Ss, &r.FsBase, &r.GsBase, &r.Ds, &r.Es, &r.Fs, &r.Gs}
}

// SizeBytes implements marshal.Marshallable.
func (*PtraceRegs) SizeBytes() int { return SizeofPtraceRegs }

// MarshalBytes implements marshal.Marshallable.
func (r *PtraceRegs) MarshalBytes(dst []byte) []byte {
	_ = dst[SizeofPtraceRegs-1]
	for i, w := range r.words() {
		le.PutUint64(dst[8*i:], *w)
	}
	return dst[SizeofPtraceRegs:]
}

// UnmarshalBytes implements marshal.Marshallable.
func (r *PtraceRegs) UnmarshalBytes(src []byte) []byte {
	_ = src[SizeofPtraceRegs-1]
	for i, w := range r.words() {
		*w = le.Uint64(src[8*i:])
	}
	return src[SizeofPtraceRegs:]
}

// PC returns the instruction pointer.
func (r *PtraceRegs) PC() uint64 { return r.Rip }

// SP returns the stack pointer.
func (r *PtraceRegs) SP() uint64 { return r.Rsp }
