package linux

// ptrace(2) requests common to amd64 and arm64.
const (
	PTRACE_TRACEME                = 0
	PTRACE_PEEKTEXT               = 1
	PTRACE_PEEKDATA               = 2
	PTRACE_PEEKUSR                = 3
	PTRACE_POKETEXT               = 4
	PTRACE_POKEDATA               = 5
	PTRACE_POKEUSR                = 6
	PTRACE_CONT                   = 7
	PTRACE_KILL                   = 8
	PTRACE_SINGLESTEP             = 9
	PTRACE_ATTACH                 = 16
	PTRACE_DETACH                 = 17
	PTRACE_SYSCALL                = 24
	PTRACE_SYSEMU                 = 31
	PTRACE_SYSEMU_SINGLESTEP      = 32
	PTRACE_SETOPTIONS             = 0x4200
	PTRACE_GETEVENTMSG            = 0x4201
	PTRACE_GETSIGINFO             = 0x4202
	PTRACE_SETSIGINFO             = 0x4203
	PTRACE_GETREGSET              = 0x4204
	PTRACE_SETREGSET              = 0x4205
	PTRACE_SEIZE                  = 0x4206
	PTRACE_INTERRUPT              = 0x4207
	PTRACE_LISTEN                 = 0x4208
	PTRACE_PEEKSIGINFO            = 0x4209
	PTRACE_GETSIGMASK             = 0x420a
	PTRACE_SETSIGMASK             = 0x420b
	PTRACE_SECCOMP_GET_FILTER     = 0x420c
	PTRACE_SECCOMP_GET_METADATA   = 0x420d
	PTRACE_GET_SYSCALL_INFO       = 0x420e
	PTRACE_GET_RSEQ_CONFIGURATION = 0x420f
)

// Event stops, reported in bits 16..23 of the wait status.
const (
	PTRACE_EVENT_FORK       = 1
	PTRACE_EVENT_VFORK      = 2
	PTRACE_EVENT_CLONE      = 3
	PTRACE_EVENT_EXEC       = 4
	PTRACE_EVENT_VFORK_DONE = 5
	PTRACE_EVENT_EXIT       = 6
	PTRACE_EVENT_SECCOMP    = 7
	PTRACE_EVENT_STOP       = 128
)

// Options for PTRACE_SETOPTIONS; option PTRACE_O_TRACEx enables
// PTRACE_EVENT_x, hence the shifts.
const (
	PTRACE_O_TRACESYSGOOD    = 1
	PTRACE_O_TRACEFORK       = 1 << PTRACE_EVENT_FORK
	PTRACE_O_TRACEVFORK      = 1 << PTRACE_EVENT_VFORK
	PTRACE_O_TRACECLONE      = 1 << PTRACE_EVENT_CLONE
	PTRACE_O_TRACEEXEC       = 1 << PTRACE_EVENT_EXEC
	PTRACE_O_TRACEVFORKDONE  = 1 << PTRACE_EVENT_VFORK_DONE
	PTRACE_O_TRACEEXIT       = 1 << PTRACE_EVENT_EXIT
	PTRACE_O_TRACESECCOMP    = 1 << PTRACE_EVENT_SECCOMP
	PTRACE_O_EXITKILL        = 1 << 20
	PTRACE_O_SUSPEND_SECCOMP = 1 << 21
	PTRACE_O_MASK            = 0x000000ff | PTRACE_O_EXITKILL | PTRACE_O_SUSPEND_SECCOMP
)

// ELF note types used as the regset argument of PTRACE_GETREGSET and in
// core dumps.
const (
	NT_PRSTATUS        = 1
	NT_PRFPREG         = 2
	NT_PRPSINFO        = 3
	NT_TASKSTRUCT      = 4
	NT_AUXV            = 6
	NT_SIGINFO         = 0x53494749
	NT_FILE            = 0x46494c45
	NT_X86_XSTATE      = 0x202
	NT_ARM_TLS         = 0x401
	NT_ARM_HW_BREAK    = 0x402
	NT_ARM_HW_WATCH    = 0x403
	NT_ARM_SYSTEM_CALL = 0x404
	NT_ARM_SVE         = 0x405
)
