package seccomp

import (
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Go runtime facts the rules below rest on (Go 1.26, CGO_ENABLED=0,
// runtime/sys_linux_*.s and runtime/os_linux.go):
const (
	// goCloneFlags is runtime.cloneFlags: a new thread of this process,
	// never a new process. amd64 adds CLONE_SETTLS in assembly.
	goCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_SYSVSEM | unix.CLONE_THREAD
)

// GoRuntime returns what the Go runtime of a pure-Go (CGO_ENABLED=0)
// process calls after it has started, for a process whose getpid() is
// pid. Startup-only calls (arch_prctl, brk, mincore, opening /proc and
// cgroup files, sched_getaffinity at init) are left out: filters are
// installed long after.
//
// Restrictions, and why each is safe for the runtime:
//   - clone: only runtime.cloneFlags, with or without CLONE_SETTLS, so a
//     thread and never a process (no fork, no new namespaces).
//   - futex: FUTEX_WAIT_PRIVATE and FUTEX_WAKE_PRIVATE only.
//   - mmap: never PROT_EXEC, and no mprotect at all. The runtime maps
//     heap and stacks read-write; nothing of ours needs new executable
//     host memory once running.
//   - madvise: the advice the runtime's scavenger and huge-page code
//     give (DONTNEED, FREE, HUGEPAGE, NOHUGEPAGE, COLLAPSE).
//   - tgkill, kill: only to our own process (preemption with SIGURG,
//     re-raising a fatal signal, SIGQUIT dumps).
//
// Unrestricted: the signal calls, thread identity, sleeping and yielding,
// clocks, exits, getrandom, the netpoller's epoll/eventfd calls, read and
// write (netpoller wake-ups, panics on stderr), and pread64 and
// sched_getaffinity (the runtime re-reads its cgroup CPU limit file and
// CPU mask periodically to adjust GOMAXPROCS).
func GoRuntime(pid int) SyscallRules {
	self := Eq(uint64(pid))
	return SyscallRules{
		unix.SYS_FUTEX:  {{Args: [6]Match{1: In(linux.FUTEX_WAIT_PRIVATE, linux.FUTEX_WAKE_PRIVATE)}}},
		unix.SYS_CLONE:  {{Args: [6]Match{0: MaskedEq(^uint64(unix.CLONE_SETTLS), goCloneFlags)}}},
		unix.SYS_MMAP:   {{Args: [6]Match{2: NoneOf(linux.PROT_EXEC)}}},
		unix.SYS_MUNMAP: nil,
		unix.SYS_MADVISE: {{Args: [6]Match{2: In(linux.MADV_DONTNEED, linux.MADV_FREE,
			linux.MADV_HUGEPAGE, linux.MADV_NOHUGEPAGE, linux.MADV_COLLAPSE)}}},
		unix.SYS_RT_SIGACTION:      nil,
		unix.SYS_RT_SIGPROCMASK:    nil,
		unix.SYS_RT_SIGRETURN:      nil,
		unix.SYS_SIGALTSTACK:       nil,
		unix.SYS_GETTID:            nil,
		unix.SYS_GETPID:            nil,
		unix.SYS_TGKILL:            {{Args: [6]Match{0: self}}},
		unix.SYS_KILL:              {{Args: [6]Match{0: self}}},
		unix.SYS_SCHED_YIELD:       nil,
		unix.SYS_NANOSLEEP:         nil,
		unix.SYS_CLOCK_GETTIME:     nil,
		unix.SYS_EXIT:              nil,
		unix.SYS_EXIT_GROUP:        nil,
		unix.SYS_RESTART_SYSCALL:   nil,
		unix.SYS_GETRANDOM:         nil,
		unix.SYS_EPOLL_PWAIT:       nil,
		unix.SYS_EPOLL_CTL:         nil,
		unix.SYS_EPOLL_CREATE1:     nil,
		unix.SYS_EVENTFD2:          nil,
		unix.SYS_READ:              nil,
		unix.SYS_WRITE:             nil,
		unix.SYS_PREAD64:           nil,
		unix.SYS_SCHED_GETAFFINITY: nil,
	}
}
