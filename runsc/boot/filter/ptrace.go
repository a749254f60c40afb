package filter

import (
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/seccomp"
)

// onePID matches a pid argument naming one process: not 0 (our process
// group), -1 (every process we may signal) or a negative process group.
// Go passes pids sign-extended, so those are all above 0x7fffffff.
var onePID = seccomp.Range(1, 0x7fffffff)

// ptraceRules are pkg/sentry/platform/ptrace's RuntimeSyscalls with their
// arguments narrowed to what the platform passes (see its sys.go).
//
// What remains open: PTRACE_SEIZE and kill(SIGKILL) name a pid, and the
// filter cannot tell a stub from any other process of the same user; the
// sandbox's own PID namespace is what bounds them.
func ptraceRules(pid int) seccomp.SyscallRules {
	return seccomp.SyscallRules{
		unix.SYS_PTRACE: {{Args: [6]seccomp.Match{0: seccomp.In(ptraceRequests...)}}},
		// __WALL on one tid: never wait(-1) or a process group, which
		// would steal stops meant for other tracer threads (see the
		// package's caveats).
		unix.SYS_WAIT4: {{Args: [6]seccomp.Match{0: onePID, 2: seccomp.Eq(linux.WALL)}}},
		// Interrupt: SIGSTOP to a stub thread. (Signals to ourselves
		// are the Go runtime's rule.)
		unix.SYS_TGKILL: {{Args: [6]seccomp.Match{0: onePID, 2: seccomp.Eq(uint64(linux.SIGSTOP))}}},
		// Release: SIGKILL to a stub process.
		unix.SYS_KILL:   {{Args: [6]seccomp.Match{0: onePID, 1: seccomp.Eq(uint64(linux.SIGKILL))}}},
		unix.SYS_GETTID: nil,
		unix.SYS_GETPID: nil,
		// CPU pinning of stub threads to their tracer's CPU.
		unix.SYS_GETCPU:            nil,
		unix.SYS_SCHED_SETAFFINITY: nil,
	}
}

// ptraceHot lists the calls a busy sandbox makes most, most frequent first, as
// measured under the ptrace platform (docs/seccomp.md): each stop of an
// application thread costs several ptrace calls, a wait4, a getcpu and
// the SIGCHLD handler's rt_sigreturn; clock_gettime is the Sentry's CPU
// clock accounting; fallocate punches freed pages out of the memory file.
var ptraceHot = []uintptr{
	unix.SYS_PTRACE, unix.SYS_CLOCK_GETTIME, unix.SYS_WAIT4, unix.SYS_RT_SIGRETURN,
	unix.SYS_GETTID, unix.SYS_GETCPU, unix.SYS_FALLOCATE, unix.SYS_FUTEX,
}
