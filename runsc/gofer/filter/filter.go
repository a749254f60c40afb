// Package filter is the gofer's seccomp allow-list: the host system calls
// `runsc gofer` may make while it serves files, after it has opened its
// exports and pivoted into the container's root. Anything else (socket,
// connect, execve, mount, ptrace, open by absolute path of anything
// outside the new root...) kills the gofer.
//
// The list is runsc/gofer's and pkg/lisafs's server calls plus the Go
// runtime's (seccomp.GoRuntime), checked against a trace of the gofer
// serving real workloads; docs/seccomp.md lists it.
package filter

import (
	"os"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/seccomp"
)

// Options select the rules for one gofer.
type Options struct {
	// PID is the gofer's pid as it sees itself (getpid()); 0 means this
	// process. The runtime's signals are restricted to it.
	PID int
}

// Rules returns the gofer's allow-list.
func Rules(opts Options) seccomp.RuleSet {
	pid := opts.PID
	if pid == 0 {
		pid = os.Getpid()
	}
	rules := seccomp.GoRuntime(pid).Merge(serverRules())
	return seccomp.AllowList(rules, hot...)
}

// Install confines this process, for the rest of its life, to the
// gofer's rules.
func Install(opts Options) error {
	p, err := seccomp.Compile(Rules(opts))
	if err != nil {
		return err
	}
	return seccomp.Install(p)
}

// hot are the gofer's most frequent calls when busy, most frequent
// first, as measured (docs/seccomp.md): the runtime parking and waking
// workers, the netpoller, the lisafs messages, and opening and closing
// handles.
var hot = []uintptr{
	unix.SYS_FUTEX, unix.SYS_EPOLL_PWAIT, unix.SYS_RECVMSG, unix.SYS_NANOSLEEP,
	unix.SYS_SENDMSG, unix.SYS_CLOSE, unix.SYS_OPENAT2, unix.SYS_STATX,
}

// serverRules are the calls of pkg/lisafs's server and runsc/gofer's
// handlers.
func serverRules() seccomp.SyscallRules {
	r := seccomp.SyscallRules{
		// lisafs: messages and donated descriptors.
		unix.SYS_RECVMSG: nil,
		unix.SYS_SENDMSG: nil,
		// Serve wraps the socket in a net.UnixConn: it checks the socket
		// type and asks for both addresses, once per connection.
		unix.SYS_GETSOCKOPT:  {{Args: [6]seccomp.Match{1: seccomp.Eq(unix.SOL_SOCKET), 2: seccomp.Eq(unix.SO_TYPE)}}},
		unix.SYS_GETSOCKNAME: nil,
		unix.SYS_GETPEERNAME: nil,

		// Walking and opening: openat2 with RESOLVE_BENEATH for client
		// names (openat is the fallback on kernels without openat2, and
		// reopens handles through /proc/self/fd).
		unix.SYS_OPENAT2:    nil,
		unix.SYS_OPENAT:     nil,
		unix.SYS_STATX:      nil,
		unix.SYS_FSTATFS:    nil,
		unix.SYS_READLINKAT: nil,
		unix.SYS_GETDENTS64: nil,
		unix.SYS_LSEEK:      nil,
		unix.SYS_CLOSE:      nil,
		// Handle duplication and net.FileConn's non-blocking setup.
		unix.SYS_FCNTL: {{Args: [6]seccomp.Match{1: seccomp.In(linux.F_DUPFD_CLOEXEC, linux.F_GETFL, linux.F_SETFL)}}},

		// Creating and removing.
		unix.SYS_MKDIRAT:   nil,
		unix.SYS_SYMLINKAT: nil,
		unix.SYS_LINKAT:    nil,
		unix.SYS_UNLINKAT:  nil,
		unix.SYS_RENAMEAT2: nil,

		// Attributes and data.
		unix.SYS_FCHMOD:    nil,
		unix.SYS_FCHMODAT:  nil, // fchmodat2's fallback
		unix.SYS_FCHMODAT2: nil,
		unix.SYS_FCHOWNAT:  nil,
		unix.SYS_UTIMENSAT: nil,
		unix.SYS_FTRUNCATE: nil,
		unix.SYS_FSYNC:     nil,
	}
	// mknodat: regular files, FIFOs and sockets only, as the server's
	// Mknod already insists: a device node in the container's files
	// would reach host hardware.
	for _, t := range []uint64{linux.S_IFREG, linux.S_IFIFO, linux.S_IFSOCK} {
		r.Add(unix.SYS_MKNODAT, seccomp.Rule{Args: [6]seccomp.Match{2: seccomp.MaskedEq(linux.S_IFMT, t), 3: seccomp.Eq(0)}})
	}
	return r
}
