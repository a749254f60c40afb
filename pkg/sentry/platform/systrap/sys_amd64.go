package systrap

import (
	"syscall"
	"time"
	"unsafe"

	"appkernel.dev/appkernel/pkg/sentry/hostcpu"
	"golang.org/x/sys/unix"
)

// Host calls made at run time; every one is in RuntimeSyscalls.

// futexWait sleeps while *addr == val, at most d. The futex is shared (not
// FUTEX_PRIVATE): the stub waits on and wakes the same word through its own
// mapping. It goes through Syscall so the Go scheduler can run other
// goroutines meanwhile.
func futexWait(addr *uint32, val uint32, d time.Duration) syscall.Errno {
	ts := unix.NsecToTimespec(int64(d))
	_, _, e := syscall.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), 0 /* FUTEX_WAIT */, uintptr(val),
		uintptr(unsafe.Pointer(&ts)), 0, 0)
	return e
}

func futexWake(addr *uint32) {
	syscall.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), 1 /* FUTEX_WAKE */, 1, 0, 0, 0)
}

func tgkill(tgid, tid int32, sig unix.Signal) syscall.Errno {
	_, _, e := syscall.RawSyscall(unix.SYS_TGKILL, uintptr(tgid), uintptr(tid), uintptr(sig))
	return e
}

// processExited reports whether the stub process pid has exited (is a
// zombie or already reaped), without reaping it.
func processExited(pid int32) bool {
	var info unix.Siginfo
	_, _, e := syscall.RawSyscall6(unix.SYS_WAITID, unix.P_PID, uintptr(pid), uintptr(unsafe.Pointer(&info)),
		unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, 0, 0)
	if e != 0 {
		return true // ECHILD: reaped
	}
	// si_pid is at offset 16 of siginfo; zero while the child runs.
	return *(*int32)(unsafe.Add(unsafe.Pointer(&info), 16)) != 0
}

// reap kills the stub process pid and waits for it.
func reap(pid int32) {
	unix.Kill(int(pid), unix.SIGKILL)
	for {
		var st unix.WaitStatus
		_, err := unix.Wait4(int(pid), &st, unix.WALL, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// pause executes the PAUSE instruction: a spin-loop hint.
func pause()

// cpuAux returns the calling thread's CPU as RDTSCP reports it, as the
// stub compares it (TSC_AUX's low 12 bits). Only with flagCPU.
func cpuAux() uint32 { return hostcpu.TSCAux() & 0xfff }

// RuntimeSyscalls lists the host system calls the systrap platform makes
// after New returns (NewAddressSpace, NewContext, Switch, Interrupt,
// MapFile, Unmap, Release), for the Sentry's seccomp allow-list. Go
// runtime needs are not included. New itself also needs memfd_create,
// write, fcntl, clone/fork, execve, ptrace, wait4, openat (/proc), ftruncate
// and mmap.
var RuntimeSyscalls = []string{
	"futex",     // FUTEX_WAIT / FUTEX_WAKE (shared) on slot state words
	"tgkill",    // Interrupt: kick signal to one stub thread
	"waitid",    // liveness: P_PID, WEXITED|WNOHANG|WNOWAIT
	"kill",      // Release: SIGKILL to a stub process
	"wait4",     // Release: reap a stub process
	"fallocate", // PUNCH_HOLE|KEEP_SIZE: scrub a released slot
	"getpid",    // parent check for new stub processes
}
