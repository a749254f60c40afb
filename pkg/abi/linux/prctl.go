package linux

// prctl(2) options.
const (
	PR_SET_PDEATHSIG             = 1
	PR_GET_PDEATHSIG             = 2
	PR_GET_DUMPABLE              = 3
	PR_SET_DUMPABLE              = 4
	PR_GET_UNALIGN               = 5
	PR_SET_UNALIGN               = 6
	PR_GET_KEEPCAPS              = 7
	PR_SET_KEEPCAPS              = 8
	PR_GET_FPEMU                 = 9
	PR_SET_FPEMU                 = 10
	PR_GET_FPEXC                 = 11
	PR_SET_FPEXC                 = 12
	PR_GET_TIMING                = 13
	PR_SET_TIMING                = 14
	PR_SET_NAME                  = 15
	PR_GET_NAME                  = 16
	PR_GET_ENDIAN                = 19
	PR_SET_ENDIAN                = 20
	PR_GET_SECCOMP               = 21
	PR_SET_SECCOMP               = 22
	PR_CAPBSET_READ              = 23
	PR_CAPBSET_DROP              = 24
	PR_GET_TSC                   = 25
	PR_SET_TSC                   = 26
	PR_GET_SECUREBITS            = 27
	PR_SET_SECUREBITS            = 28
	PR_SET_TIMERSLACK            = 29
	PR_GET_TIMERSLACK            = 30
	PR_TASK_PERF_EVENTS_DISABLE  = 31
	PR_TASK_PERF_EVENTS_ENABLE   = 32
	PR_MCE_KILL                  = 33
	PR_MCE_KILL_GET              = 34
	PR_SET_MM                    = 35
	PR_SET_CHILD_SUBREAPER       = 36
	PR_GET_CHILD_SUBREAPER       = 37
	PR_SET_NO_NEW_PRIVS          = 38
	PR_GET_NO_NEW_PRIVS          = 39
	PR_GET_TID_ADDRESS           = 40
	PR_SET_THP_DISABLE           = 41
	PR_GET_THP_DISABLE           = 42
	PR_MPX_ENABLE_MANAGEMENT     = 43
	PR_MPX_DISABLE_MANAGEMENT    = 44
	PR_SET_FP_MODE               = 45
	PR_GET_FP_MODE               = 46
	PR_CAP_AMBIENT               = 47
	PR_SVE_SET_VL                = 50
	PR_SVE_GET_VL                = 51
	PR_GET_SPECULATION_CTRL      = 52
	PR_SET_SPECULATION_CTRL      = 53
	PR_PAC_RESET_KEYS            = 54
	PR_SET_TAGGED_ADDR_CTRL      = 55
	PR_GET_TAGGED_ADDR_CTRL      = 56
	PR_SET_IO_FLUSHER            = 57
	PR_GET_IO_FLUSHER            = 58
	PR_SET_SYSCALL_USER_DISPATCH = 59
	PR_PAC_SET_ENABLED_KEYS      = 60
	PR_PAC_GET_ENABLED_KEYS      = 61
	PR_SCHED_CORE                = 62
	PR_SME_SET_VL                = 63
	PR_SME_GET_VL                = 64
	PR_SET_MDWE                  = 65
	PR_GET_MDWE                  = 66
	PR_SET_MEMORY_MERGE          = 67
	PR_GET_MEMORY_MERGE          = 68

	// PR_SET_PTRACER is "Yama" in ASCII, far from the other options
	// because it came from an out-of-tree security module.
	PR_SET_PTRACER = 0x59616d61
	// PR_SET_VMA is "SVMA" in ASCII.
	PR_SET_VMA = 0x53564d41
	// PR_GET_AUXV is "AUXV" in ASCII.
	PR_GET_AUXV = 0x41555856
)

// PR_SET_PTRACER_ANY lets any process ptrace the caller.
const PR_SET_PTRACER_ANY = ^uint64(0)

// Sub-options of PR_SET_MM.
const (
	PR_SET_MM_START_CODE  = 1
	PR_SET_MM_END_CODE    = 2
	PR_SET_MM_START_DATA  = 3
	PR_SET_MM_END_DATA    = 4
	PR_SET_MM_START_STACK = 5
	PR_SET_MM_START_BRK   = 6
	PR_SET_MM_BRK         = 7
	PR_SET_MM_ARG_START   = 8
	PR_SET_MM_ARG_END     = 9
	PR_SET_MM_ENV_START   = 10
	PR_SET_MM_ENV_END     = 11
	PR_SET_MM_AUXV        = 12
	PR_SET_MM_EXE_FILE    = 13
	PR_SET_MM_MAP         = 14
	PR_SET_MM_MAP_SIZE    = 15
)

// Sub-options of PR_CAP_AMBIENT.
const (
	PR_CAP_AMBIENT_IS_SET    = 1
	PR_CAP_AMBIENT_RAISE     = 2
	PR_CAP_AMBIENT_LOWER     = 3
	PR_CAP_AMBIENT_CLEAR_ALL = 4
)

// Values of PR_SET_TSC.
const (
	PR_TSC_ENABLE  = 1
	PR_TSC_SIGSEGV = 2
)

// Sub-option of PR_SET_VMA.
const PR_SET_VMA_ANON_NAME = 0

// Speculation-control values (PR_GET/SET_SPECULATION_CTRL).
const (
	PR_SPEC_STORE_BYPASS    = 0
	PR_SPEC_INDIRECT_BRANCH = 1
	PR_SPEC_L1D_FLUSH       = 2
	PR_SPEC_NOT_AFFECTED    = 0
	PR_SPEC_PRCTL           = 1 << 0
	PR_SPEC_ENABLE          = 1 << 1
	PR_SPEC_DISABLE         = 1 << 2
	PR_SPEC_FORCE_DISABLE   = 1 << 3
	PR_SPEC_DISABLE_NOEXEC  = 1 << 4
)

// Dumpability values (PR_SET_DUMPABLE and /proc/sys/fs/suid_dumpable).
const (
	SUID_DUMP_DISABLE = 0
	SUID_DUMP_USER    = 1
	SUID_DUMP_ROOT    = 2
)

// TaskCommLen is the size of a task's comm name (PR_SET_NAME,
// /proc/[pid]/comm) including the NUL.
const TaskCommLen = 16
