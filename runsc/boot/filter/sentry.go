package filter

import (
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/seccomp"
)

// sentryRules are the host calls of the Sentry's own packages at run
// time, whatever the platform. Each group names the package doc that
// lists them; keep the two in step.
func sentryRules(pid int) seccomp.SyscallRules {
	self := seccomp.Eq(uint64(pid))
	r := seccomp.SyscallRules{
		// pkg/sentry/fsimpl/host: the container's stdio and other
		// donated host fds. read/write are also the log's and the
		// netpoller's, pread64/pwrite64/fsync/fdatasync also the gofer
		// fs's donated fds.
		unix.SYS_READ:      nil,
		unix.SYS_WRITE:     nil,
		unix.SYS_PREAD64:   nil,
		unix.SYS_PWRITE64:  nil,
		unix.SYS_LSEEK:     nil,
		unix.SYS_FSTAT:     nil,
		unix.SYS_FTRUNCATE: nil, // also pgalloc: growing the memory file
		unix.SYS_FCHMOD:    nil,
		unix.SYS_FSYNC:     nil,
		unix.SYS_FDATASYNC: nil,
		unix.SYS_CLOSE:     nil,
		// Only on the fd itself (path NULL), never on a path.
		unix.SYS_UTIMENSAT: {{Args: [6]seccomp.Match{1: seccomp.Eq(0)}}},
		// NewFD and release: the status flags (O_NONBLOCK, O_APPEND).
		// F_DUPFD_CLOEXEC: net.FileConn's dup of a pod container's gofer
		// socket (pkg/lisafs), which arrives after the filter is in place.
		unix.SYS_FCNTL: {{Args: [6]seccomp.Match{1: seccomp.In(linux.F_SETFL, linux.F_GETFL, unix.F_DUPFD_CLOEXEC)}}},
		// Terminal requests passed through, and FIONREAD (= TIOCINQ).
		unix.SYS_IOCTL: {{Args: [6]seccomp.Match{1: seccomp.In(
			linux.FIONREAD, linux.TCGETS, linux.TCSETS, linux.TCSETSW, linux.TCSETSF,
			linux.TIOCGWINSZ, linux.TIOCSWINSZ, linux.TIOCOUTQ, linux.TCFLSH, linux.TCXONC)}}},
		// Finding descriptors that share a host open file: both pids
		// are ours, and only KCMP_FILE.
		unix.SYS_KCMP: {{Args: [6]seccomp.Match{0: self, 1: self, 2: seccomp.Eq(kcmpFile)}}},

		// pkg/fdnotifier (epoll_ctl, epoll_create1 and eventfd2 are
		// the Go runtime's too; the wait and poll are per arch).
		unix.SYS_EPOLL_CTL:     nil,
		unix.SYS_EPOLL_CREATE1: nil,
		unix.SYS_EVENTFD2:      nil,

		// pkg/sentry/fsimpl/gofer: donated fds (AT_EMPTY_PATH statx),
		// fallocate on behalf of the application (any mode) and, in
		// pkg/sentry/pgalloc, punching holes in the memory file.
		unix.SYS_STATX:     nil,
		unix.SYS_FALLOCATE: nil,
		// pkg/lisafs client over the gofer socket.
		unix.SYS_SENDMSG: nil,
		unix.SYS_RECVMSG: nil,

		// pkg/sentry/kernel: membarrier(2) for the application,
		// sysinfo(2) and clock_getres(2) values, thread CPU clocks.
		unix.SYS_MEMBARRIER:   {{Args: [6]seccomp.Match{0: seccomp.Eq(linux.MEMBARRIER_CMD_GLOBAL), 1: seccomp.Eq(0)}}},
		unix.SYS_SYSINFO:      nil,
		unix.SYS_CLOCK_GETRES: nil,

		// runsc/boot's control server (runsc start/kill/wait talk to
		// the running sandbox): accepting on the listener it already
		// holds (net: accept4, getsockname), checking the peer's uid
		// (SO_PEERCRED against geteuid).
		unix.SYS_ACCEPT4:     nil,
		unix.SYS_GETSOCKNAME: nil,
		// SO_TYPE and getpeername: pkg/lisafs (through net.FileConn)
		// looks at the socket of a pod container's gofer, which arrives
		// after the filter is in place.
		unix.SYS_GETSOCKOPT:  {{Args: [6]seccomp.Match{1: seccomp.Eq(unix.SOL_SOCKET), 2: seccomp.In(unix.SO_PEERCRED, unix.SO_TYPE)}}},
		unix.SYS_GETPEERNAME: nil,
		unix.SYS_GETEUID:     nil,
		// runsc/boot's ExitAs: no core file when dying by the
		// container's signal (setrlimit is prlimit64 on ourselves,
		// RLIMIT_CORE only, without reading the old value).
		unix.SYS_PRLIMIT64: {{Args: [6]seccomp.Match{0: seccomp.Eq(0), 1: seccomp.Eq(unix.RLIMIT_CORE), 3: seccomp.Eq(0)}}},
	}
	return r.Merge(archSentryRules())
}

// kcmpFile is KCMP_FILE from linux/kcmp.h.
const kcmpFile = 0

// profilerRules are the Go CPU profiler's timers (runtime/pprof), for
// Options.Debug. Its SIGPROF goes through tgkill to ourselves, which the
// runtime rules already allow.
func profilerRules() seccomp.SyscallRules {
	return seccomp.SyscallRules{
		unix.SYS_SETITIMER:     nil,
		unix.SYS_TIMER_CREATE:  nil,
		unix.SYS_TIMER_SETTIME: nil,
		unix.SYS_TIMER_DELETE:  nil,
	}
}
