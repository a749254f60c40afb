package arch

import (
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Layout of the arm64 rt_sigframe.
//
//	struct rt_sigframe { siginfo_t info; struct ucontext uc; };
//	struct ucontext { u64 uc_flags; ucontext *uc_link; stack_t uc_stack;
//	                  sigset_t uc_sigmask; u8 __unused[120];
//	                  struct sigcontext uc_mcontext; };   // 16-aligned
//	struct sigcontext { u64 fault_address; u64 regs[31]; u64 sp, pc, pstate;
//	                    u8 __reserved[4096]; };          // 16-aligned
//
// __reserved holds a list of records, each starting with
// struct _aarch64_ctx { u32 magic; u32 size; }, 16-byte aligned, ended by
// a record with magic and size 0. A frame record {fp, lr} sits right
// above the frame so unwinders can walk through the signal.
const (
	scFaultAddress = 0
	scRegs         = 8
	scSP           = scRegs + 31*8
	scPC           = scSP + 8
	scPstate       = scPC + 8
	scReserved     = 288
	// SigcontextReservedSize is sizeof(sigcontext.__reserved).
	SigcontextReservedSize = 4096
	sizeofSigcontext       = scReserved + SigcontextReservedSize

	ucFlags    = 0
	ucLink     = 8
	ucStack    = 16
	ucSigmask  = 40
	ucMcontext = 176
	// SizeofUcontext is the kernel's struct ucontext.
	SizeofUcontext = ucMcontext + sizeofSigcontext

	frInfo = 0
	frUC   = linux.SizeofSignalInfo
	// SizeofRtSigframe is sizeof(struct rt_sigframe).
	SizeofRtSigframe = frUC + SizeofUcontext

	sizeofFrameRecord = 16

	// Records in __reserved.
	ctxHeaderSize = 8
	fpsimdMagic   = 0x46508001
	// SizeofFPSIMDContext is sizeof(struct fpsimd_context): header, fpsr,
	// fpcr, then the 32 V registers.
	SizeofFPSIMDContext = 528
	fpctxFPSR           = 8
	fpctxFPCR           = 12
	fpctxVregs          = 16
	esrMagic            = 0x45535201
	sizeofESRContext    = 16
)

// SignalSetup builds a Linux arm64 signal frame for d on the thread's stack
// and points the thread at the handler, as Linux's setup_rt_frame does.
//
// The frame goes below the current stack pointer, or at the top of the
// alternate stack for SA_ONSTACK when the thread is not already on it (arm64
// has no red zone). A frame record {x29, x30} sits 16-byte aligned at the
// top, the frame below it, and the handler is entered with sp at the frame,
// x0 = signo, x1 = &info and x2 = &uc (with SA_SIGINFO), x29 = the frame
// record, x30 = sa_restorer, or d.Trampoline (the vDSO's sigreturn
// trampoline) when the action has no SA_RESTORER, and PSTATE.TCO clear. The
// FP/SIMD registers are saved in an fpsimd_context record and left as they
// are for the handler, as Linux does.
//
// On error ctx is unchanged and the kernel must force SIGSEGV.
func SignalSetup(ctx *Context, mem Memory, d *SignalDelivery) (frameAddr uintptr, err error) {
	restorer := d.Trampoline
	if d.Action.Flags&linux.SA_RESTORER != 0 {
		restorer = d.Action.Restorer
	}
	if restorer == 0 {
		return 0, ErrNoRestorer
	}
	r := &ctx.Regs
	top, _ := signalFrameStack(d.AltStack, d.Action.Flags, r.Sp)
	record := (top - sizeofFrameRecord) &^ 15
	sp := record - SizeofRtSigframe

	// Everything from uc to the end of the frame record.
	var buf [SizeofUcontext + sizeofFrameRecord]byte
	uc := buf[:SizeofUcontext]
	le.PutUint64(uc[ucFlags:], 0)
	le.PutUint64(uc[ucLink:], 0)
	alt := d.AltStack
	alt.MarshalBytes(uc[ucStack:])
	le.PutUint64(uc[ucSigmask:], uint64(d.OldMask))
	sc := uc[ucMcontext:]
	le.PutUint64(sc[scFaultAddress:], d.Fault.Addr)
	for i, v := range r.Regs {
		le.PutUint64(sc[scRegs+8*i:], v)
	}
	le.PutUint64(sc[scSP:], r.Sp)
	le.PutUint64(sc[scPC:], r.Pc)
	le.PutUint64(sc[scPstate:], r.Pstate)
	recs := sc[scReserved:]
	off := putFPSIMDContext(recs, ctx.FPState)
	if d.Fault.Code != 0 {
		le.PutUint32(recs[off:], esrMagic)
		le.PutUint32(recs[off+4:], sizeofESRContext)
		le.PutUint64(recs[off+8:], d.Fault.Code)
		off += sizeofESRContext
	}
	// The terminator is already zero.
	le.PutUint64(buf[SizeofUcontext:], r.Regs[29])
	le.PutUint64(buf[SizeofUcontext+8:], r.Regs[30])

	if err := mem.CopyOut(uintptr(sp+frUC), buf[:]); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrSignalFrameFault, err)
	}
	if d.Action.Flags&linux.SA_SIGINFO != 0 {
		var info [linux.SizeofSignalInfo]byte
		si := d.Info
		si.MarshalBytes(info[:])
		if err := mem.CopyOut(uintptr(sp+frInfo), info[:]); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrSignalFrameFault, err)
		}
	}

	r.Regs[0] = uint64(d.Info.Signo)
	if d.Action.Flags&linux.SA_SIGINFO != 0 {
		r.Regs[1] = sp + frInfo
		r.Regs[2] = sp + frUC
	}
	r.Sp = sp
	r.Regs[29] = record
	r.Regs[30] = restorer
	r.Pc = d.Action.Handler
	r.Pstate &^= pstateTCO
	return uintptr(sp), nil
}

// putFPSIMDContext writes the fpsimd_context record at the start of recs
// and returns its size.
func putFPSIMDContext(recs []byte, fp []byte) int {
	le.PutUint32(recs[0:], fpsimdMagic)
	le.PutUint32(recs[4:], SizeofFPSIMDContext)
	copy(recs[fpctxFPSR:fpctxFPSR+4], fp[fpsimdFPSR:])
	copy(recs[fpctxFPCR:fpctxFPCR+4], fp[fpsimdFPCR:])
	copy(recs[fpctxVregs:SizeofFPSIMDContext], fp[fpsimdVregs:fpsimdVregs+512])
	return SizeofFPSIMDContext
}

// SignalRestore undoes SignalSetup for rt_sigreturn, as Linux does: the
// frame is at sp, which must be 16-byte aligned; registers, the mask and the
// FP/SIMD state come back from it. PSTATE must describe AArch64 EL0 with
// interrupts unmasked (its reserved bits are dropped), and the records must
// be well formed with exactly one fpsimd_context of the right size. Records
// for SVE, SME and the other optional extensions are refused, as Linux does
// on CPUs without them; an extra_context record is refused too (Linux
// would follow it; our frames never contain one).
//
// It returns the mask to install and the frame's uc_stack, which the kernel
// applies like sigaltstack(2) at the restored stack pointer, ignoring every
// error but a fault. The kernel must not then set a syscall return value:
// x0 is the restored register. On error ctx is unchanged and the kernel
// forces SIGSEGV; see ErrBadSignalFrame for when the mask is still valid.
func SignalRestore(ctx *Context, mem Memory) (oldMask linux.SignalSet, altStack linux.SignalStack, err error) {
	sp := ctx.Regs.Sp
	if sp&15 != 0 {
		return 0, linux.SignalStack{}, fmt.Errorf("%w: misaligned stack pointer %#x", ErrSignalFrameFault, sp)
	}
	uc := make([]byte, SizeofUcontext)
	if err := mem.CopyIn(uintptr(sp+frUC), uc); err != nil {
		return 0, linux.SignalStack{}, fmt.Errorf("%w: %v", ErrSignalFrameFault, err)
	}
	oldMask = linux.SignalSet(le.Uint64(uc[ucSigmask:]))
	altStack.UnmarshalBytes(uc[ucStack:])

	sc := uc[ucMcontext:]
	r := ctx.Regs
	for i := range r.Regs {
		r.Regs[i] = le.Uint64(sc[scRegs+8*i:])
	}
	r.Sp = le.Uint64(sc[scSP:])
	r.Pc = le.Uint64(sc[scPC:])
	r.Pstate = le.Uint64(sc[scPstate:]) &^ (pstateRes0 | pstateSS)
	if r.Pstate&(pstateModeMask|pstateMode32|pstateD|pstateA|pstateI|pstateF) != 0 {
		return oldMask, altStack, fmt.Errorf("%w: pstate %#x", ErrBadSignalFrame, le.Uint64(sc[scPstate:]))
	}

	fpsimd, err := findFPSIMDContext(sc[scReserved:])
	if err != nil {
		return oldMask, altStack, err
	}
	ctx.Regs = r
	copy(ctx.FPState[fpsimdFPSR:fpsimdFPSR+4], fpsimd[fpctxFPSR:])
	copy(ctx.FPState[fpsimdFPCR:fpsimdFPCR+4], fpsimd[fpctxFPCR:])
	copy(ctx.FPState[fpsimdVregs:fpsimdVregs+512], fpsimd[fpctxVregs:SizeofFPSIMDContext])
	return oldMask, altStack, nil
}

// findFPSIMDContext walks the records in sigcontext.__reserved as Linux's
// parse_user_sigframe does and returns the fpsimd_context.
func findFPSIMDContext(recs []byte) ([]byte, error) {
	var fpsimd []byte
	off := 0
	for {
		if len(recs)-off < ctxHeaderSize || off%16 != 0 {
			return nil, fmt.Errorf("%w: record list overruns at %d", ErrBadSignalFrame, off)
		}
		magic := le.Uint32(recs[off:])
		size := int(le.Uint32(recs[off+4:]))
		if size > len(recs)-off {
			return nil, fmt.Errorf("%w: record %#x of size %d overruns", ErrBadSignalFrame, magic, size)
		}
		switch magic {
		case 0:
			if size != 0 {
				return nil, fmt.Errorf("%w: terminator of size %d", ErrBadSignalFrame, size)
			}
			if fpsimd == nil {
				return nil, fmt.Errorf("%w: no fpsimd_context", ErrBadSignalFrame)
			}
			return fpsimd, nil
		case fpsimdMagic:
			if fpsimd != nil || size != SizeofFPSIMDContext {
				return nil, fmt.Errorf("%w: duplicate or malformed fpsimd_context", ErrBadSignalFrame)
			}
			fpsimd = recs[off : off+size]
		case esrMagic:
			// Information for the handler only.
		default:
			return nil, fmt.Errorf("%w: unsupported record %#x", ErrBadSignalFrame, magic)
		}
		if size < ctxHeaderSize {
			return nil, fmt.Errorf("%w: record of size %d", ErrBadSignalFrame, size)
		}
		off += size
	}
}
