package filter

import (
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/seccomp"
)

// ptraceRequests are the requests the ptrace platform makes on amd64,
// most frequent first (each Switch: GETREGS, SETREGS, SYSEMU; GETREGSET
// for the FP state).
var ptraceRequests = []uint64{
	unix.PTRACE_GETREGS, unix.PTRACE_SETREGS, unix.PTRACE_SYSEMU, unix.PTRACE_GETREGSET,
	unix.PTRACE_CONT, unix.PTRACE_GETSIGINFO, unix.PTRACE_DETACH, unix.PTRACE_GETEVENTMSG,
	unix.PTRACE_SEIZE, unix.PTRACE_INTERRUPT, unix.PTRACE_SETREGSET, unix.PTRACE_SETOPTIONS,
}

// archSentryRules are pkg/fdnotifier's amd64 calls: epoll_wait for its
// goroutine, and for Readiness a zero-timeout poll, which x/sys/unix's
// Poll makes as ppoll on every Linux architecture.
func archSentryRules() seccomp.SyscallRules {
	return seccomp.SyscallRules{
		unix.SYS_EPOLL_WAIT: nil,
		unix.SYS_PPOLL:      nil,
	}
}
