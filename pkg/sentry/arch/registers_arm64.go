package arch

const (
	// syscallInsnLen is the length of SVC #0.
	syscallInsnLen = 4

	// PSTATE bits.
	pstateModeMask = 0xf // M[3:0]; 0 is EL0t
	pstateMode32   = 1 << 4
	pstateF        = 1 << 6
	pstateI        = 1 << 7
	pstateA        = 1 << 8
	pstateD        = 1 << 9
	pstateSS       = 1 << 21
	pstateTCO      = 1 << 25
	pstateN        = 1 << 31
	pstateZ        = 1 << 30
	pstateC        = 1 << 29
	pstateV        = 1 << 28
	pstateNZCV     = pstateN | pstateZ | pstateC | pstateV

	// pstateRes0 are the bits Linux discards from a PSTATE user space
	// supplies: reserved, meaningless at EL0, IL (kept for the kernel)
	// and SS (handled by the kernel).
	pstateRes0 = 0xffffffff_00000000 | 3<<26 | 3<<22 | 0xff<<13 | 1<<5
)

// NewContext returns the state a thread starts with after execve: all
// registers zero, PSTATE EL0t with no flags, clean FP/SIMD state and TLS.
// fpStateSize is the platform's FPStateSize and must be at least
// FPStateSize. The caller sets the entry point and stack with SetIP and
// SetStack.
func NewContext(fpStateSize int) *Context {
	return &Context{FPState: newFPState(fpStateSize)}
}

// IP returns the program counter.
func (c *Context) IP() uintptr { return uintptr(c.Regs.Pc) }

// SetIP sets the program counter.
func (c *Context) SetIP(ip uintptr) { c.Regs.Pc = uint64(ip) }

// Stack returns the stack pointer.
func (c *Context) Stack() uintptr { return uintptr(c.Regs.Sp) }

// SetStack sets the stack pointer.
func (c *Context) SetStack(sp uintptr) { c.Regs.Sp = uint64(sp) }

// SyscallNo returns the number of the system call the thread trapped on
// (x8).
func (c *Context) SyscallNo() uintptr { return uintptr(c.Regs.Regs[8]) }

// SyscallArgs returns the six argument registers x0..x5. x0 is also the
// return register, so this is only meaningful before SetReturn; keep a
// SyscallState for anything needed later.
func (c *Context) SyscallArgs() SyscallArguments {
	var a SyscallArguments
	for i := range a {
		a[i].Value = uintptr(c.Regs.Regs[i])
	}
	return a
}

// SyscallState captures the trapped system call for RestartSyscall. Call it
// at the trap, before SetReturn overwrites x0.
func (c *Context) SyscallState() SyscallState {
	return SyscallState{Nr: c.SyscallNo(), Args: c.SyscallArgs()}
}

// SetReturn sets the system call's return value (x0).
func (c *Context) SetReturn(v uintptr) { c.Regs.Regs[0] = uint64(v) }

// Return returns the value SetReturn set.
func (c *Context) Return() uintptr { return uintptr(c.Regs.Regs[0]) }

// RestartSyscall makes the thread execute the system call s again when it
// resumes: the program counter goes back over the SVC instruction, x0 gets
// the first argument back (Linux's orig_x0) and x8 the number.
func (c *Context) RestartSyscall(s SyscallState) {
	c.Regs.Pc -= syscallInsnLen
	c.Regs.Regs[0] = uint64(s.Args[0].Value)
	c.Regs.Regs[8] = uint64(s.Nr)
}

// TLS returns the thread pointer, TPIDR_EL0 (kept in FPState; see
// FPStateSize).
func (c *Context) TLS() uintptr { return uintptr(le.Uint64(c.FPState[fpTPIDR:])) }

// SetTLS sets TPIDR_EL0. Any value is valid: it is a plain register the
// program can load with anything. It always reports true.
func (c *Context) SetTLS(addr uintptr) bool {
	le.PutUint64(c.FPState[fpTPIDR:], uint64(addr))
	return true
}
