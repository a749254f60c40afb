package arch

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Register access for ptrace(2) on arm64: the register sets of
// PTRACE_GETREGSET/SETREGSET (NT_PRSTATUS is struct user_pt_regs,
// NT_PRFPREG struct user_fpsimd_state, NT_ARM_TLS the thread pointer).
// arm64 has no PEEKUSER user area and no GETREGS; single-stepping needs
// the debug state the platforms do not load, so it is not offered.

// AuditArch is AUDIT_ARCH_AARCH64, the arch of PTRACE_GET_SYSCALL_INFO.
const AuditArch = 0xc00000b7

// SizeofUser is 0: arm64 has no PEEKUSER user area.
const SizeofUser = 0

// SizeofFPRegs is sizeof(struct user_fpsimd_state).
const SizeofFPRegs = FPSIMDStateSize

// SingleStepSupported is false: see the file comment.
const SingleStepSupported = false

// SetSingleStep is not available on arm64; it reports false.
func (c *Context) SetSingleStep() bool { return false }

// ClearSingleStep does nothing on arm64.
func (c *Context) ClearSingleStep() {}

// SetSyscallEntryRegs makes the registers look as Linux's do at a
// syscall-entry stop: x8 holds the number, x0 the first argument.
func (c *Context) SetSyscallEntryRegs(nr uintptr) { c.Regs.Regs[8] = uint64(nr) }

// SkipSyscallNo is the number a tracer sets at syscall entry to skip the
// call (-1).
const SkipSyscallNo = ^uintptr(0)

// PtraceRegs returns the general registers.
func (c *Context) PtraceRegs() linux.PtraceRegs { return c.Regs }

// SetPtraceRegs replaces the general registers; PSTATE keeps EL0 and
// drops the bits user space may not set, as Linux's valid_user_regs does.
func (c *Context) SetPtraceRegs(r *linux.PtraceRegs) error {
	n := *r
	n.Pstate &^= pstateRes0 | pstateModeMask | pstateMode32 | pstateSS | pstateF | pstateI | pstateA | pstateD
	c.Regs = n
	return nil
}

// PeekUser is EIO: arm64 has no user area.
func (c *Context) PeekUser(uintptr) (uint64, error) { return 0, linux.EIO }

// PokeUser is EIO: arm64 has no user area.
func (c *Context) PokeUser(uintptr, uint64) error { return linux.EIO }

// PtraceFPRegs returns struct user_fpsimd_state.
func (c *Context) PtraceFPRegs() []byte {
	return append([]byte(nil), c.FPState[:FPSIMDStateSize]...)
}

// SetPtraceFPRegs loads struct user_fpsimd_state.
func (c *Context) SetPtraceFPRegs(b []byte) error {
	if len(b) < FPSIMDStateSize {
		return linux.EFAULT
	}
	copy(c.FPState[:FPSIMDStateSize], b)
	return nil
}

// PtraceRegset returns register set note, or EINVAL.
func (c *Context) PtraceRegset(note int) ([]byte, error) {
	switch note {
	case linux.NT_PRSTATUS:
		b := make([]byte, linux.SizeofPtraceRegs)
		c.Regs.MarshalBytes(b)
		return b, nil
	case linux.NT_PRFPREG:
		return c.PtraceFPRegs(), nil
	case linux.NT_ARM_TLS:
		return append([]byte(nil), c.FPState[fpTPIDR:fpTPIDR+8]...), nil
	}
	return nil, linux.EINVAL
}

// SetPtraceRegset loads register set note from b.
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
	case linux.NT_ARM_TLS:
		if len(b) < 8 {
			return linux.EINVAL
		}
		copy(c.FPState[fpTPIDR:fpTPIDR+8], b)
		return nil
	}
	return linux.EINVAL
}
