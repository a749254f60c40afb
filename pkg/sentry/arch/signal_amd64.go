package arch

import (
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Layout of the x86-64 rt_sigframe. The frame sits at the handler's stack
// pointer; fpstate follows it, 64-byte aligned, above.
//
//	struct rt_sigframe { char *pretcode; struct ucontext uc; siginfo_t info; };
//	struct ucontext { u64 uc_flags; ucontext *uc_link; stack_t uc_stack;
//	                  struct sigcontext uc_mcontext; sigset_t uc_sigmask; };
const (
	// struct sigcontext (64-bit).
	scR8      = 0
	scR9      = 8
	scR10     = 16
	scR11     = 24
	scR12     = 32
	scR13     = 40
	scR14     = 48
	scR15     = 56
	scRDI     = 64
	scRSI     = 72
	scRBP     = 80
	scRBX     = 88
	scRDX     = 96
	scRAX     = 104
	scRCX     = 112
	scRSP     = 120
	scRIP     = 128
	scEFLAGS  = 136
	scCS      = 144
	scGS      = 146
	scFS      = 148
	scSS      = 150
	scErr     = 152
	scTrapno  = 160
	scOldmask = 168
	scCR2     = 176
	scFPState = 184
	// sizeofSigcontext includes reserved1[8].
	sizeofSigcontext = 256

	// struct ucontext.
	ucFlags    = 0
	ucLink     = 8
	ucStack    = 16
	ucMcontext = 40
	ucSigmask  = ucMcontext + sizeofSigcontext
	// SizeofUcontext is the kernel's struct ucontext (glibc's ucontext_t
	// is larger: its sigset and FP save area follow).
	SizeofUcontext = ucSigmask + linux.SignalSetSize

	// struct rt_sigframe.
	frPretcode = 0
	frUC       = 8
	frInfo     = frUC + SizeofUcontext
	// SizeofRtSigframe excludes the FP state that follows.
	SizeofRtSigframe = frInfo + linux.SizeofSignalInfo

	// uc_flags bits.
	ucFPXState         = 0x1
	ucSigcontextSS     = 0x2
	ucStrictRestoreSS  = 0x4
	signalFrameUCFlags = ucFPXState | ucSigcontextSS | ucStrictRestoreSS

	// redZone is the area below the stack pointer that the System V ABI
	// lets leaf functions use without moving the stack pointer.
	redZone = 128
)

// SignalSetup builds a Linux x86-64 signal frame for d on the thread's
// stack and points the thread at the handler, as Linux's setup_rt_frame
// and handle_signal do.
//
// The frame goes below the 128-byte red zone, or at the top of the
// alternate stack when the action has SA_ONSTACK and the thread is not
// already on it. The FP state is stored 64-byte aligned above the frame,
// and the frame is placed so the handler starts with rsp ≡ 8 (mod 16), as
// right after a call. The handler is entered with rdi = signo, rsi = &info,
// rdx = &uc, rax = 0, the return address sa_restorer at [rsp], DF, RF and
// TF clear, 64-bit user segments and a clean FP state.
//
// On error ctx is unchanged and the kernel must force SIGSEGV.
func SignalSetup(ctx *Context, mem Memory, d *SignalDelivery) (frameAddr uintptr, err error) {
	if d.Action.Flags&linux.SA_RESTORER == 0 {
		return 0, ErrNoRestorer
	}
	r := &ctx.Regs
	nested := OnSignalStack(d.AltStack, r.Rsp)
	sp, entering := signalFrameStack(d.AltStack, d.Action.Flags, r.Rsp-redZone)

	fpFrame := fpStateToFrame(ctx.FPState)
	fpAddr := (sp - uint64(len(fpFrame))) &^ 63
	sp = (fpAddr-SizeofRtSigframe)&^15 - 8
	if (nested || entering) && !d.AltStack.Contains(sp) {
		return 0, ErrSignalStackOverflow
	}

	var f [SizeofRtSigframe]byte
	le.PutUint64(f[frPretcode:], d.Action.Restorer)
	uc := f[frUC:frInfo]
	le.PutUint64(uc[ucFlags:], signalFrameUCFlags)
	le.PutUint64(uc[ucLink:], 0)
	alt := d.AltStack
	alt.MarshalBytes(uc[ucStack:])
	sc := uc[ucMcontext:ucSigmask]
	for _, g := range sigcontextGPRs(r) {
		le.PutUint64(sc[g.off:], *g.reg)
	}
	le.PutUint16(sc[scCS:], uint16(r.Cs))
	le.PutUint16(sc[scSS:], uint16(r.Ss))
	le.PutUint64(sc[scErr:], d.Fault.Code)
	le.PutUint64(sc[scTrapno:], d.Fault.Trap)
	le.PutUint64(sc[scOldmask:], uint64(d.OldMask))
	le.PutUint64(sc[scCR2:], d.Fault.Addr)
	le.PutUint64(sc[scFPState:], fpAddr)
	le.PutUint64(uc[ucSigmask:], uint64(d.OldMask))
	// Without SA_SIGINFO Linux leaves the info area as it was.
	frameLen := frInfo
	if d.Action.Flags&linux.SA_SIGINFO != 0 {
		info := d.Info
		info.MarshalBytes(f[frInfo:])
		frameLen = SizeofRtSigframe
	}

	if err := mem.CopyOut(uintptr(fpAddr), fpFrame); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrSignalFrameFault, err)
	}
	if err := mem.CopyOut(uintptr(sp), f[:frameLen]); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrSignalFrameFault, err)
	}

	r.Rdi = uint64(d.Info.Signo)
	r.Rsi = sp + frInfo
	r.Rdx = sp + frUC
	r.Rax = 0
	r.Rip = d.Action.Handler
	r.Rsp = sp
	r.Cs = UserCS
	r.Ss = UserSS
	r.Eflags &^= eflagsDF | eflagsRF | eflagsTF
	resetFPState(ctx.FPState)
	return uintptr(sp), nil
}

// SignalRestore undoes SignalSetup for rt_sigreturn, as Linux does: the
// frame is at rsp-8 (the handler's return popped pretcode), and registers,
// the signal mask and FP state come back from it, sanitized. Only the
// user-modifiable EFLAGS bits are taken, CS and SS get RPL 3 and must be the
// 64-bit user selectors (Linux would fault on the return to user space
// with anything else, and 32-bit code is not supported), orig_rax becomes -1
// so no syscall restart follows, and the FP state is validated as XRSTOR
// would.
//
// It returns the mask to install and the frame's uc_stack, which the kernel
// applies like sigaltstack(2) at the restored stack pointer, ignoring
// every error but a fault. The kernel must not then set a syscall return
// value: rax is the restored register. On error ctx is unchanged and the kernel forces
// SIGSEGV; see ErrBadSignalFrame for when the mask is still valid. (Linux
// would have loaded some registers before failing; the SIGSEGV frame then
// shows the sigreturn's registers here.)
func SignalRestore(ctx *Context, mem Memory) (oldMask linux.SignalSet, altStack linux.SignalStack, err error) {
	frame := ctx.Regs.Rsp - 8
	var uc [SizeofUcontext]byte
	if err := mem.CopyIn(uintptr(frame+frUC), uc[:]); err != nil {
		return 0, linux.SignalStack{}, fmt.Errorf("%w: %v", ErrSignalFrameFault, err)
	}
	oldMask = linux.SignalSet(le.Uint64(uc[ucSigmask:]))
	altStack.UnmarshalBytes(uc[ucStack:])
	ucFlagsVal := le.Uint64(uc[ucFlags:])

	sc := uc[ucMcontext:ucSigmask]
	r := ctx.Regs
	for _, g := range sigcontextGPRs(&r) {
		*g.reg = le.Uint64(sc[g.off:])
	}
	r.Eflags = ctx.Regs.Eflags&^userEflagsMask | le.Uint64(sc[scEFLAGS:])&userEflagsMask
	r.OrigRax = ^uint64(0)
	r.Cs = uint64(le.Uint16(sc[scCS:]) | 3)
	r.Ss = uint64(le.Uint16(sc[scSS:]) | 3)
	if r.Cs != UserCS {
		return oldMask, altStack, fmt.Errorf("%w: code segment %#x", ErrBadSignalFrame, r.Cs)
	}
	if r.Ss != UserSS {
		// Without UC_STRICT_RESTORE_SS (frames from old programs such
		// as DOSEMU, or hand-made ones), Linux replaces an unusable SS
		// with the user data segment instead of faulting.
		if ucFlagsVal&ucStrictRestoreSS != 0 {
			return oldMask, altStack, fmt.Errorf("%w: stack segment %#x", ErrBadSignalFrame, r.Ss)
		}
		r.Ss = UserSS
	}

	fp, err := fpStateFromFrame(ctx.FPState, mem, le.Uint64(sc[scFPState:]))
	if err != nil {
		return oldMask, altStack, err
	}
	ctx.Regs = r
	copy(ctx.FPState, fp)
	return oldMask, altStack, nil
}

type sigcontextGPR struct {
	off int
	reg *uint64
}

// sigcontextGPRs pairs the general registers with their sigcontext slots
// (eflags included; it is sanitized separately on restore).
func sigcontextGPRs(r *linux.PtraceRegs) [18]sigcontextGPR {
	return [18]sigcontextGPR{
		{scR8, &r.R8}, {scR9, &r.R9}, {scR10, &r.R10}, {scR11, &r.R11},
		{scR12, &r.R12}, {scR13, &r.R13}, {scR14, &r.R14}, {scR15, &r.R15},
		{scRDI, &r.Rdi}, {scRSI, &r.Rsi}, {scRBP, &r.Rbp}, {scRBX, &r.Rbx},
		{scRDX, &r.Rdx}, {scRAX, &r.Rax}, {scRCX, &r.Rcx}, {scRSP, &r.Rsp},
		{scRIP, &r.Rip}, {scEFLAGS, &r.Eflags},
	}
}
