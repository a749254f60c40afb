package filter

import (
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/seccomp"
)

// systrapRules are pkg/sentry/platform/systrap's RuntimeSyscalls with
// their arguments narrowed to what the platform passes (its sys_amd64.go).
func systrapRules(pid int) seccomp.SyscallRules {
	return seccomp.SyscallRules{
		// Slot hand-off: shared (not private) waits and wakes on the state
		// words both the Sentry and the stubs map.
		unix.SYS_FUTEX: {{Args: [6]seccomp.Match{1: seccomp.In(linux.FUTEX_WAIT, linux.FUTEX_WAKE)}}},
		// Interrupt: the kick signal to one stub thread; signal 0 checks
		// a stub thread is alive.
		unix.SYS_TGKILL: {{Args: [6]seccomp.Match{0: onePID, 2: seccomp.In(uint64(linux.SIGCHLD), 0)}}},
		// getcpu(2) answers with the host CPU the task runs on.
		unix.SYS_GETCPU: nil,
		// Stub liveness, without reaping.
		unix.SYS_WAITID: {{Args: [6]seccomp.Match{0: seccomp.Eq(linux.P_PID), 1: onePID}}},
		// Release: kill and reap a stub process.
		unix.SYS_KILL:   {{Args: [6]seccomp.Match{0: onePID, 1: seccomp.Eq(uint64(linux.SIGKILL))}}},
		unix.SYS_WAIT4:  {{Args: [6]seccomp.Match{0: onePID}}},
		unix.SYS_GETPID: nil,
	}
}

// systrapHot lists the calls a busy sandbox makes most under systrap: the
// hand-off's futex calls, then the Sentry's CPU clock accounting.
var systrapHot = []uintptr{unix.SYS_FUTEX, unix.SYS_CLOCK_GETTIME, unix.SYS_FALLOCATE}
