package boot

import (
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// ExitAs ends the sandbox process the way the container's first process
// ended. Engines reap the sandbox process in place of the container's
// init (runc's pid file names the init itself), so a container killed by
// signal S must show up to wait4 as a process killed by S, not as an exit
// code: the process kills itself with S after restoring S's default
// action. A sandbox that is PID 1 of its own namespace cannot: the kernel
// does not let init kill itself, so it exits with 128+S, which engines
// report alike. It never returns.
func ExitAs(ws linux.WaitStatus) {
	if ws.Signaled() {
		killSelf(syscall.Signal(ws.Signal()))
	}
	os.Exit(ExitCode(ws))
}

// killSelf dies by sig when sig's default action terminates; it returns
// when it does not (the caller then exits with 128+sig).
func killSelf(sig syscall.Signal) {
	// The Sentry's memory is no business of a core file.
	unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	// Go's own handlers (os/signal, and the runtime's for SIGSEGV, SIGQUIT
	// and others) would catch the signal: replace them with SIG_DFL. The
	// kernel's sigaction is four words on amd64 and arm64; all zero is
	// SIG_DFL with no flags and an empty mask.
	signal.Reset(sig)
	// SIGKILL's action cannot change (EINVAL), and needs no change.
	var act [4]uint64
	if sig != syscall.SIGKILL {
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0); e != 0 {
			return
		}
	}
	runtime.LockOSThread()
	var set unix.Sigset_t
	set.Val[(sig-1)/64] |= 1 << ((uint(sig) - 1) % 64)
	unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
	unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
	// A fatal signal takes the whole process before this returns; give
	// the kernel a moment in case delivery waits for a reschedule.
	time.Sleep(100 * time.Millisecond)
}
