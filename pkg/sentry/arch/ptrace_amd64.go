package arch

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Register access for ptrace(2) on amd64: the user area of PEEKUSER and
// POKEUSER (struct user), GETREGS/SETREGS with the checks Linux's putreg
// applies, the FP register sets and single-stepping with the trap flag.

// AuditArch is AUDIT_ARCH_X86_64, the arch of PTRACE_GET_SYSCALL_INFO.
const AuditArch = 0xc000003e

const (
	// userDebugRegOffset is offsetof(struct user, u_debugreg).
	userDebugRegOffset = 848
	// SizeofUser is sizeof(struct user): PEEKUSER and POKEUSER offsets
	// must be below it.
	SizeofUser = 912
	// userSelectorRPL is the privilege level a user selector must carry.
	userSelectorRPL = 3
	// user32CS is __USER32_CS, the compat code segment.
	user32CS = 0x23
	// SizeofFPRegs is sizeof(struct user_fpregs_struct), the FXSAVE area.
	SizeofFPRegs = fxsaveSize
)

// SingleStepSupported reports whether the platform can run one instruction
// at a time (the trap flag raises a debug exception the platforms report
// as SIGTRAP).
const SingleStepSupported = true

// SetSingleStep sets the trap flag so the thread traps after one
// instruction. It reports whether it set it (false when the program had
// set it itself, which the tracer must then leave alone).
func (c *Context) SetSingleStep() bool {
	if c.Regs.Eflags&eflagsTF != 0 {
		return false
	}
	c.Regs.Eflags |= eflagsTF
	return true
}

// ClearSingleStep clears the trap flag SetSingleStep set.
func (c *Context) ClearSingleStep() { c.Regs.Eflags &^= eflagsTF }

// SetSyscallEntryRegs makes the registers look as Linux's do at a
// syscall-entry stop: rax holds -ENOSYS, orig_rax the number.
func (c *Context) SetSyscallEntryRegs(nr uintptr) {
	c.Regs.OrigRax = uint64(nr)
	c.Regs.Rax = uint64(linux.ENOSYS.Return())
}

// SkipSyscallNo is the number a tracer sets at syscall entry to skip the
// call (-1).
const SkipSyscallNo = ^uintptr(0)

// PtraceRegs returns the general registers (PTRACE_GETREGS).
func (c *Context) PtraceRegs() linux.PtraceRegs { return c.Regs }

// SetPtraceRegs replaces the general registers (PTRACE_SETREGS), refusing
// with EIO what Linux's putreg refuses: selectors without user privilege,
// a code segment other than the user ones, bases outside user space. Only
// the user-modifiable eflags bits change.
func (c *Context) SetPtraceRegs(r *linux.PtraceRegs) error {
	n := c.Regs
	words, nw := regWords(r), regWords(&n)
	for i := range words {
		off := uintptr(i * 8)
		if err := putReg(&n, nw[i], off, *words[i]); err != nil {
			return err
		}
	}
	c.Regs = n
	return nil
}

// putReg stores v in the word of n at user-area offset off, with putreg's
// checks.
func putReg(n *linux.PtraceRegs, w *uint64, _ uintptr, v uint64) error {
	switch w {
	case &n.Cs:
		if v&userSelectorRPL != userSelectorRPL || (v != UserCS && v != user32CS) {
			return linux.EIO
		}
	case &n.Ss:
		if v&userSelectorRPL != userSelectorRPL {
			return linux.EIO
		}
	case &n.Ds, &n.Es, &n.Fs, &n.Gs:
		if v != 0 && v&userSelectorRPL != userSelectorRPL {
			return linux.EIO
		}
	case &n.FsBase, &n.GsBase:
		if v >= maxTLSAddr {
			return linux.EIO
		}
	case &n.Eflags:
		v = *w&^userEflagsMask | v&userEflagsMask
	}
	*w = v
	return nil
}

// PeekUser reads the word at off in struct user (PTRACE_PEEKUSER): a
// general register, 0 for the debug registers (no hardware breakpoints)
// and for the rest of the area, as Linux reads it. A misaligned or
// out-of-range offset is EIO.
func (c *Context) PeekUser(off uintptr) (uint64, error) {
	if off%8 != 0 || off >= SizeofUser {
		return 0, linux.EIO
	}
	if off < linux.SizeofPtraceRegs {
		return *regWords(&c.Regs)[off/8], nil
	}
	return 0, nil
}

// PokeUser writes the word at off in struct user (PTRACE_POKEUSER). A
// debug register may only be cleared: without hardware breakpoint support
// enabling one would silently do nothing, so that is EIO; the rest of the
// area outside the registers is EIO as in Linux.
func (c *Context) PokeUser(off uintptr, v uint64) error {
	if off%8 != 0 || off >= SizeofUser {
		return linux.EIO
	}
	if off < linux.SizeofPtraceRegs {
		n := c.Regs
		if err := putReg(&n, regWords(&n)[off/8], off, v); err != nil {
			return err
		}
		c.Regs = n
		return nil
	}
	if off >= userDebugRegOffset && v == 0 {
		return nil
	}
	return linux.EIO
}

// PtraceFPRegs returns struct user_fpregs_struct (PTRACE_GETFPREGS,
// NT_PRFPREG): the FXSAVE part of the XSAVE area.
func (c *Context) PtraceFPRegs() []byte {
	out := append([]byte(nil), c.FPState[:fxsaveSize]...)
	// The software-reserved bytes are the kernel's; Linux zeroes them.
	clear(out[fxSWReserved:fxsaveSize])
	return out
}

// SetPtraceFPRegs loads struct user_fpregs_struct (PTRACE_SETFPREGS). An
// MXCSR with bits the CPU lacks is EINVAL. x87 and SSE become in use.
func (c *Context) SetPtraceFPRegs(b []byte) error {
	if len(b) < fxsaveSize {
		return linux.EFAULT
	}
	if le.Uint32(b[fxMXCSR:])&^mxcsrMask(c.FPState) != 0 {
		return linux.EINVAL
	}
	mask := le.Uint32(c.FPState[fxMXCSRMask:])
	copy(c.FPState[:fxSWReserved], b[:fxSWReserved])
	le.PutUint32(c.FPState[fxMXCSRMask:], mask)
	le.PutUint64(c.FPState[xsaveXStateBV:], le.Uint64(c.FPState[xsaveXStateBV:])|xfeatureFPSSE)
	return nil
}

// PtraceRegset returns register set note (PTRACE_GETREGSET), or EINVAL
// for one the architecture does not have.
func (c *Context) PtraceRegset(note int) ([]byte, error) {
	switch note {
	case linux.NT_PRSTATUS:
		b := make([]byte, linux.SizeofPtraceRegs)
		c.Regs.MarshalBytes(b)
		return b, nil
	case linux.NT_PRFPREG:
		return c.PtraceFPRegs(), nil
	case linux.NT_X86_XSTATE:
		return append([]byte(nil), c.FPState...), nil
	}
	return nil, linux.EINVAL
}

// SetPtraceRegset loads register set note (PTRACE_SETREGSET) from b. The
// XSAVE set must be given whole, with a header naming only features the
// thread has, as Linux requires.
func (c *Context) SetPtraceRegset(note int, b []byte) error {
	switch note {
	case linux.NT_PRSTATUS:
		if len(b) < linux.SizeofPtraceRegs {
			return linux.EINVAL
		}
		var r linux.PtraceRegs
		r.UnmarshalBytes(b)
		return c.SetPtraceRegs(&r)
	case linux.NT_PRFPREG:
		return c.SetPtraceFPRegs(b)
	case linux.NT_X86_XSTATE:
		if len(b) != len(c.FPState) {
			return linux.EFAULT
		}
		xcr0 := fpXFeatures(c.FPState)
		if le.Uint64(b[xsaveXStateBV:])&^xcr0 != 0 || le.Uint32(b[fxMXCSR:])&^mxcsrMask(c.FPState) != 0 {
			return linux.EINVAL
		}
		for _, x := range b[xsaveXStateBV+16 : XSaveMinSize] {
			if x != 0 {
				return linux.EINVAL
			}
		}
		mask := le.Uint32(c.FPState[fxMXCSRMask:])
		copy(c.FPState, b)
		le.PutUint32(c.FPState[fxMXCSRMask:], mask)
		clear(c.FPState[fxSWReserved:fxsaveSize])
		le.PutUint64(c.FPState[fxSWReserved:], xcr0)
		return nil
	}
	return linux.EINVAL
}

// ArchPrctlBase returns the FS (fs true) or GS base, for
// PTRACE_ARCH_PRCTL.
func (c *Context) ArchPrctlBase(fs bool) uint64 {
	if fs {
		return c.Regs.FsBase
	}
	return c.Regs.GsBase
}

// SetArchPrctlBase sets the FS or GS base for PTRACE_ARCH_PRCTL; a
// non-user address is EPERM as for arch_prctl.
func (c *Context) SetArchPrctlBase(fs bool, v uint64) error {
	if v >= maxTLSAddr {
		return linux.EPERM
	}
	if fs {
		c.Regs.FsBase, c.Regs.Fs = v, 0
	} else {
		c.Regs.GsBase, c.Regs.Gs = v, 0
	}
	return nil
}

// regWords returns pointers to r's words in struct user_regs_struct
// order, so offset/8 indexes them.
func regWords(r *linux.PtraceRegs) [27]*uint64 {
	return [27]*uint64{&r.R15, &r.R14, &r.R13, &r.R12, &r.Rbp, &r.Rbx, &r.R11, &r.R10,
		&r.R9, &r.R8, &r.Rax, &r.Rcx, &r.Rdx, &r.Rsi, &r.Rdi, &r.OrigRax, &r.Rip,
		&r.Cs, &r.Eflags, &r.Rsp, &r.Ss, &r.FsBase, &r.GsBase, &r.Ds, &r.Es, &r.Fs, &r.Gs}
}
