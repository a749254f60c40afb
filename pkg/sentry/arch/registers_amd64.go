package arch

// Segment selectors and flags of a 64-bit user thread on x86-64 Linux.
const (
	// UserCS is __USER_CS, the 64-bit user code segment.
	UserCS = 0x33
	// UserSS is __USER_DS, the user data/stack segment.
	UserSS = 0x2b

	eflagsCF = 1 << 0
	// eflagsFixed is bit 1, which always reads as 1.
	eflagsFixed = 1 << 1
	eflagsPF    = 1 << 2
	eflagsAF    = 1 << 4
	eflagsZF    = 1 << 6
	eflagsSF    = 1 << 7
	eflagsTF    = 1 << 8
	eflagsIF    = 1 << 9
	eflagsDF    = 1 << 10
	eflagsOF    = 1 << 11
	eflagsRF    = 1 << 16
	eflagsAC    = 1 << 18

	// InitialEflags is what a new program starts with: interrupts
	// enabled and the always-one bit.
	InitialEflags = eflagsIF | eflagsFixed

	// userEflagsMask is Linux's FIX_EFLAGS: the flags a program may set
	// through rt_sigreturn (and ptrace). Everything else (IF, IOPL, NT,
	// VM, ...) keeps the kernel's value.
	userEflagsMask = eflagsAC | eflagsOF | eflagsDF | eflagsTF | eflagsSF |
		eflagsZF | eflagsAF | eflagsPF | eflagsCF | eflagsRF

	// syscallInsnLen is the length of the SYSCALL instruction (0f 05).
	syscallInsnLen = 2

	// maxTLSAddr is TASK_SIZE_MAX with 4-level paging: arch_prctl
	// refuses an FS base at or above it, and ptrace refuses to load one.
	maxTLSAddr = 1<<47 - 4096
)

// NewContext returns the state a thread starts with after execve: 64-bit
// user segments, interrupts enabled, every general register zero and a
// clean FP state. fpStateSize is the platform's FPStateSize, the size of the
// host's XSAVE area; it must be at least the legacy area plus the XSAVE
// header (576 bytes), since Linux on x86-64 only uses XSAVE frames when the
// CPU has XSAVE, and a host without it cannot run the ptrace layout at all.
// The caller sets the entry point and stack with SetIP and SetStack.
func NewContext(fpStateSize int) *Context {
	c := &Context{FPState: newFPState(fpStateSize)}
	c.Regs.Cs = UserCS
	c.Regs.Ss = UserSS
	c.Regs.Eflags = InitialEflags
	return c
}

// IP returns the instruction pointer.
func (c *Context) IP() uintptr { return uintptr(c.Regs.Rip) }

// SetIP sets the instruction pointer.
func (c *Context) SetIP(ip uintptr) { c.Regs.Rip = uint64(ip) }

// Stack returns the stack pointer.
func (c *Context) Stack() uintptr { return uintptr(c.Regs.Rsp) }

// SetStack sets the stack pointer.
func (c *Context) SetStack(sp uintptr) { c.Regs.Rsp = uint64(sp) }

// SyscallNo returns the number of the system call the thread trapped on.
// The platform reports it in orig_rax, as ptrace does (rax itself already
// holds -ENOSYS under PTRACE_SYSEMU).
func (c *Context) SyscallNo() uintptr { return uintptr(c.Regs.OrigRax) }

// SyscallArgs returns the six argument registers, rdi rsi rdx r10 r8 r9.
func (c *Context) SyscallArgs() SyscallArguments {
	return SyscallArguments{
		{uintptr(c.Regs.Rdi)}, {uintptr(c.Regs.Rsi)}, {uintptr(c.Regs.Rdx)},
		{uintptr(c.Regs.R10)}, {uintptr(c.Regs.R8)}, {uintptr(c.Regs.R9)},
	}
}

// SyscallState captures the trapped system call for RestartSyscall.
func (c *Context) SyscallState() SyscallState {
	return SyscallState{Nr: c.SyscallNo(), Args: c.SyscallArgs()}
}

// SetReturn sets the system call's return value (rax). Errors are the
// negated errno, as the raw syscall ABI has them.
func (c *Context) SetReturn(v uintptr) { c.Regs.Rax = uint64(v) }

// Return returns the value SetReturn set.
func (c *Context) Return() uintptr { return uintptr(c.Regs.Rax) }

// RestartSyscall makes the thread execute the system call s again when it
// resumes: the instruction pointer goes back over the SYSCALL instruction
// and rax gets the number back. The argument registers need no repair: the
// kernel never changes them on x86-64.
func (c *Context) RestartSyscall(s SyscallState) {
	c.Regs.Rip -= syscallInsnLen
	c.Regs.Rax = uint64(s.Nr)
	c.Regs.OrigRax = uint64(s.Nr)
}

// TLS returns the thread pointer: the FS base.
func (c *Context) TLS() uintptr { return uintptr(c.Regs.FsBase) }

// SetTLS sets the FS base and, as arch_prctl(ARCH_SET_FS) does, a null FS
// selector so the base is what counts. It reports false, changing nothing,
// for an address user space cannot have (arch_prctl returns EPERM then).
func (c *Context) SetTLS(addr uintptr) bool {
	if addr >= maxTLSAddr {
		return false
	}
	c.Regs.FsBase = uint64(addr)
	c.Regs.Fs = 0
	return true
}
