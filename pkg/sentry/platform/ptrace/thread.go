package ptrace

import (
	"fmt"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform/stub"
	"golang.org/x/sys/unix"
)

// thread is one stub thread, traced by exactly one Sentry OS thread. Every
// ptrace request on it must come from that OS thread.
type thread struct {
	tgid, tid int32 // immutable

	// mu is held by the tracer while it uses the thread. Only one OS
	// thread ever does, so it is never contended; it makes the hand-over
	// of the fields below between goroutines that successively run on
	// that OS thread visible to the race detector.
	mu sync.Mutex

	// cpu is the CPU the thread is pinned to, -1 if none.
	cpu int32

	// fp is the FP state the thread currently holds, when known, so that
	// Switch can skip reloading an unchanged one.
	fp []byte
}

// Options set on every traced stub thread. EXITKILL: a stub thread must
// never run application code untraced, so it dies if its tracer does.
const appThreadOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_EXITKILL

// errStub wraps failures of the platform's own machinery.
func errStub(what string, tid int32, err error) error {
	return fmt.Errorf("ptrace: %s (stub thread %d): %w", what, tid, err)
}

// waitStop waits for tid to stop and returns the status. A thread that
// exited instead is reported as platform.ErrContextDead.
func waitStop(tid int32) (unix.WaitStatus, error) {
	st, err := wait4(tid)
	if err != nil {
		return 0, errStub("wait4", tid, err)
	}
	if !st.Stopped() {
		return st, errStub("wait4", tid, errDied(st))
	}
	return st, nil
}

// errDied describes a wait status that is not a stop.
type errDied unix.WaitStatus

func (e errDied) Error() string {
	st := unix.WaitStatus(e)
	switch {
	case st.Exited():
		return fmt.Sprintf("exited with status %d", st.ExitStatus())
	case st.Signaled():
		return fmt.Sprintf("killed by signal %d", st.Signal())
	}
	return fmt.Sprintf("unexpected wait status %#x", uint32(st))
}

// seize attaches the calling OS thread to the untraced stub thread tid
// (which is parked at stub Idle) and stops it.
func seize(tid int32, options int) error {
	if err := ptrace(unix.PTRACE_SEIZE, tid, 0, uintptr(options)); err != nil {
		return errStub("PTRACE_SEIZE", tid, err)
	}
	if err := ptrace(unix.PTRACE_INTERRUPT, tid, 0, 0); err != nil {
		return errStub("PTRACE_INTERRUPT", tid, err)
	}
	for {
		st, err := waitStop(tid)
		if err != nil {
			return err
		}
		if st.TrapCause() == unix.PTRACE_EVENT_STOP {
			return nil
		}
		// A signal-delivery stop can come first (SIGSTOP, or a fault
		// forced through the blocked mask); discard it and wait for the
		// interrupt.
		if err := ptrace(unix.PTRACE_CONT, tid, 0, 0); err != nil {
			return errStub("PTRACE_CONT", tid, err)
		}
	}
}

// park sends a stopped stub thread back to stub Idle and detaches from it.
func park(tid int32, base *linux.PtraceRegs) error {
	regs := *base
	parkRegs(&regs, stub.Layout().Idle)
	if err := setRegs(tid, &regs); err != nil {
		return errStub("set registers", tid, err)
	}
	if err := ptrace(unix.PTRACE_DETACH, tid, 0, 0); err != nil {
		return errStub("PTRACE_DETACH", tid, err)
	}
	return nil
}

// inject makes the stopped thread tid run the stub routine regs points at
// until it traps at trapPC, and returns the system call result found there.
// If event is not 0, the ptrace event stop of that kind that the routine
// causes is consumed on the way and its message returned.
func inject(tid int32, regs *linux.PtraceRegs, trapPC uintptr, event int) (ret, msg uint64, err error) {
	if err := setRegs(tid, regs); err != nil {
		return 0, 0, errStub("set registers", tid, err)
	}
	return runToTrap(tid, trapPC, event)
}

// runToTrap resumes the stopped thread tid, as inject does, without
// changing its registers.
func runToTrap(tid int32, trapPC uintptr, event int) (ret, msg uint64, err error) {
	for {
		if err := ptrace(unix.PTRACE_CONT, tid, 0, 0); err != nil {
			return 0, 0, errStub("PTRACE_CONT", tid, err)
		}
		st, err := waitStop(tid)
		if err != nil {
			return 0, 0, err
		}
		cause := st.TrapCause()
		switch {
		case event != 0 && cause == event:
			if msg, err = getEventMsg(tid); err != nil {
				return 0, 0, errStub("PTRACE_GETEVENTMSG", tid, err)
			}
		case cause == 0 && st.StopSignal() == unix.SIGTRAP:
			var r linux.PtraceRegs
			if err := getRegs(tid, &r); err != nil {
				return 0, 0, errStub("get registers", tid, err)
			}
			if regsPC(&r) != trapPC {
				return 0, 0, errStub("injected call", tid, fmt.Errorf("trapped at %#x, want %#x", regsPC(&r), trapPC))
			}
			return syscallResult(&r), msg, nil
		case cause > 0 || st.StopSignal() == unix.SIGSTOP:
			// An event stop, or a pending Interrupt meant for a context
			// that last ran here: discard it.
		default:
			return 0, 0, errStub("injected call", tid, fmt.Errorf("stopped by signal %d", st.StopSignal()))
		}
	}
}

// syscall runs one system call in the stopped thread t.
func (p *Platform) syscall(t *thread, nr uintptr, args ...uintptr) (uint64, error) {
	regs := p.stubRegs
	syscallRegs(&regs, stub.Layout().Syscall, nr, args...)
	ret, _, err := inject(t.tid, &regs, stub.Layout().SyscallTrap, 0)
	return ret, err
}

// errnoOf returns the error a raw system call result encodes, if any.
func errnoOf(ret uint64) error {
	if r := int64(ret); r < 0 && r >= -4095 {
		return unix.Errno(-r)
	}
	return nil
}
