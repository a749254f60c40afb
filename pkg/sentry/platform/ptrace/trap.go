package ptrace

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"golang.org/x/sys/unix"
)

// sysemuStop is the stop signal of a syscall stop under
// PTRACE_O_TRACESYSGOOD.
const sysemuStop = unix.SIGTRAP | 0x80

// eventOf returns the PTRACE_EVENT_* of a stop status, 0 for none.
func eventOf(st unix.WaitStatus) int { return int(uint32(st)>>16) & 0xff }

// classify turns the signal that stopped an application thread into a
// trap, or reports false if the signal was not raised by the thread itself
// (sent by another process, or asynchronous) and should be dropped: the
// host never delivers signals to the application, the Sentry does.
func classify(info *linux.SignalInfo, pc uintptr) (platform.Trap, bool) {
	if info.Code <= 0 {
		// SI_USER, SI_TKILL, SI_QUEUE...: sent, not raised.
		return platform.Trap{}, false
	}
	sig := linux.Signal(info.Signo)
	switch {
	case sig == linux.SIGSEGV && (info.Code == linux.SEGV_MAPERR || info.Code == linux.SEGV_ACCERR),
		sig == linux.SIGBUS && info.Code == linux.BUS_ADRERR:
		t := platform.Trap{Kind: platform.TrapFault, Addr: uintptr(info.Addr()), Info: *info}
		// With the page unmapped, a fault at the PC can only be the
		// fetch of the instruction itself. Anything else is unknown:
		// ptrace does not expose the page-fault error code.
		if info.Code == linux.SEGV_MAPERR && t.Addr == pc {
			t.Access = platform.AccessType{Execute: true}
		}
		return t, true
	case sig == linux.SIGSEGV, sig == linux.SIGBUS, sig == linux.SIGILL, sig == linux.SIGFPE,
		sig == linux.SIGTRAP, sig == linux.SIGSYS:
		return platform.Trap{Kind: platform.TrapSignal, Info: *info}, true
	}
	return platform.Trap{}, false
}
