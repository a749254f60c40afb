package ptrace

import (
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Thin wrappers over the host calls the platform makes at run time. Every
// one of them is in RuntimeSyscalls; keep the two in step.
//
// Calls that return at once use RawSyscall (no scheduler hand-off); wait4
// may block for as long as the application runs, so it goes through
// Syscall and lets the Go scheduler give the P away.

func ptrace(req int, tid int32, addr, data uintptr) error {
	if _, _, e := syscall.RawSyscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0); e != 0 {
		return e
	}
	return nil
}

// wait4 waits for a state change of tid (a thread or process), retrying
// on EINTR. __WALL because stub threads are clones without an exit
// signal.
func wait4(tid int32) (unix.WaitStatus, error) {
	for {
		var st unix.WaitStatus
		_, _, e := syscall.Syscall6(unix.SYS_WAIT4, uintptr(tid), uintptr(unsafe.Pointer(&st)), unix.WALL, 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return st, nil
	}
}

func getRegset(tid int32, nt int, buf []byte) (int, error) {
	iov := unix.Iovec{Base: &buf[0], Len: uint64(len(buf))}
	err := ptrace(unix.PTRACE_GETREGSET, tid, uintptr(nt), uintptr(unsafe.Pointer(&iov)))
	runtime.KeepAlive(buf)
	return int(iov.Len), err
}

func setRegset(tid int32, nt int, buf []byte) error {
	iov := unix.Iovec{Base: &buf[0], Len: uint64(len(buf))}
	err := ptrace(unix.PTRACE_SETREGSET, tid, uintptr(nt), uintptr(unsafe.Pointer(&iov)))
	runtime.KeepAlive(buf)
	return err
}

func getEventMsg(tid int32) (uint64, error) {
	var msg uint64
	err := ptrace(unix.PTRACE_GETEVENTMSG, tid, 0, uintptr(unsafe.Pointer(&msg)))
	return msg, err
}

func getSiginfo(tid int32, buf *[128]byte) error {
	return ptrace(unix.PTRACE_GETSIGINFO, tid, 0, uintptr(unsafe.Pointer(buf)))
}

func tgkill(tgid, tid int32, sig unix.Signal) error {
	if _, _, e := syscall.RawSyscall(unix.SYS_TGKILL, uintptr(tgid), uintptr(tid), uintptr(sig)); e != 0 {
		return e
	}
	return nil
}

func gettid() int32 {
	tid, _, _ := syscall.RawSyscall(unix.SYS_GETTID, 0, 0, 0)
	return int32(tid)
}

// getcpu returns the CPU the calling thread is running on.
func getcpu() int32 {
	var cpu uint32
	if _, _, e := syscall.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0); e != 0 {
		return -1
	}
	return int32(cpu)
}

// pinTo restricts thread tid to cpu.
func pinTo(tid, cpu int32) error {
	var set unix.CPUSet
	set.Set(int(cpu))
	if _, _, e := syscall.RawSyscall(unix.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(set), uintptr(unsafe.Pointer(&set))); e != 0 {
		return e
	}
	return nil
}

// RuntimeSyscalls lists the host system calls the ptrace platform makes
// after New returns (NewAddressSpace, Switch, Interrupt, MapFile, Unmap,
// Release, on any of the Sentry's threads), for the Sentry's seccomp
// allow-list. Go runtime needs (futex, mmap, sigaltstack, ...) are not
// included. New itself also needs memfd_create, write, fcntl, close,
// clone/fork and execve (through the Go runtime's fork-exec).
var RuntimeSyscalls = []string{
	"ptrace",            // SEIZE, INTERRUPT, DETACH, CONT, SYSEMU, SETOPTIONS, GET/SETREGS(ET), GETSIGINFO, GETEVENTMSG
	"wait4",             // __WALL on a single pid
	"tgkill",            // Interrupt: SIGSTOP to one stub thread
	"kill",              // Release: SIGKILL to a stub process
	"gettid",            // which stub thread this Sentry thread traces
	"getpid",            // parent check in cloned stub processes
	"getcpu",            // CPU pinning
	"sched_setaffinity", // CPU pinning of stub threads
}
