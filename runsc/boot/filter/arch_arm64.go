package filter

import (
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/seccomp"
)

// ptraceRequests are the requests the ptrace platform makes on arm64,
// most frequent first; registers go through GETREGSET/SETREGSET, there
// is no GETREGS there.
var ptraceRequests = []uint64{
	unix.PTRACE_GETREGSET, unix.PTRACE_SETREGSET, unix.PTRACE_SYSEMU,
	unix.PTRACE_CONT, unix.PTRACE_GETSIGINFO, unix.PTRACE_DETACH, unix.PTRACE_GETEVENTMSG,
	unix.PTRACE_SEIZE, unix.PTRACE_INTERRUPT, unix.PTRACE_SETOPTIONS,
}

// archSentryRules are pkg/fdnotifier's arm64 calls: epoll_pwait (already
// the Go runtime's) and ppoll with a zero timeout for Readiness.
func archSentryRules() seccomp.SyscallRules {
	return seccomp.SyscallRules{
		unix.SYS_PPOLL: nil,
	}
}
