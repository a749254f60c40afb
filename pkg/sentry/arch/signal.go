package arch

import (
	"errors"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Memory is the part of an application address space that signal delivery
// needs: the frame is written to and read back from the task's stack. The
// memory manager implements it; keeping it an interface here keeps this
// package free of any dependency on mm.
type Memory interface {
	// CopyIn reads len(dst) bytes at addr. It fails (with any error) if
	// any byte is not readable by the application.
	CopyIn(addr uintptr, dst []byte) error
	// CopyOut writes src at addr. It fails if any byte is not writable by
	// the application.
	CopyOut(addr uintptr, src []byte) error
}

// FaultContext is the hardware detail of the last fault that Linux copies
// into a signal frame for the handler. It is zero for signals that no fault
// caused. Linux keeps these per thread and never clears them, so a frame for
// kill(2) may show a stale fault; the kernel may do the same or pass zero.
type FaultContext struct {
	// Addr is the faulting address: sigcontext.cr2 on amd64,
	// sigcontext.fault_address on arm64.
	Addr uint64
	// Code is the page-fault error code (sigcontext.err) on amd64 and the
	// ESR_EL1 value (an esr_context record) on arm64. Programs read it to
	// tell a write fault from a read fault.
	Code uint64
	// Trap is the x86 trap number (sigcontext.trapno; 14 for a page
	// fault). arm64 has no such field.
	Trap uint64
}

// SignalDelivery is what the kernel decided about one signal it is about to
// deliver to a handler.
type SignalDelivery struct {
	// Info is the siginfo passed to the handler. It is copied into the
	// frame only when the action has SA_SIGINFO, as Linux does.
	Info linux.SignalInfo
	// Action is the signal's disposition; Handler must be a real handler
	// (not SIG_DFL or SIG_IGN).
	Action linux.SigAction
	// AltStack is the thread's sigaltstack exactly as stored by
	// sigaltstack(2) (Flags as the program gave them, SS_DISABLE with
	// Size 0 when there is none). It is recorded in uc_stack verbatim,
	// and whether the thread is on it is derived from the stack pointer.
	// After a successful SignalSetup the kernel must disarm it if Flags
	// has SS_AUTODISARM, as Linux does when the signal is delivered.
	AltStack linux.SignalStack
	// OldMask is the signal mask to restore when the handler returns
	// (uc_sigmask): the mask in force before delivery, or the one saved
	// by sigsuspend/pselect.
	OldMask linux.SignalSet
	// Fault is recorded for the handler; zero unless a fault raised the
	// signal.
	Fault FaultContext
	// Trampoline is where the handler returns to when the action has no
	// SA_RESTORER: on arm64 the vDSO's rt_sigreturn trampoline
	// (__kernel_rt_sigreturn), which the loader knows. amd64 has no
	// fallback and ignores it.
	Trampoline uint64
}

// Errors of SignalSetup and SignalRestore. Linux answers each of them by
// forcing SIGSEGV on the task, and so should the kernel.
var (
	// ErrNoRestorer: the handler would have nowhere to return to: no
	// SA_RESTORER on amd64, which requires it, or neither SA_RESTORER nor
	// a trampoline on arm64.
	ErrNoRestorer = errors.New("arch: signal action has no SA_RESTORER")
	// ErrSignalStackOverflow: the frame would not fit on the alternate
	// signal stack the thread is on or is switching to.
	ErrSignalStackOverflow = errors.New("arch: signal frame overflows the alternate signal stack")
	// ErrSignalFrameFault: the frame could not be written (SignalSetup)
	// or could not be located or read (SignalRestore). On this error
	// SignalRestore's mask is not valid.
	ErrSignalFrameFault = errors.New("arch: signal frame not accessible")
	// ErrBadSignalFrame: SignalRestore read the frame but Linux would
	// refuse it (bad segment selector or processor state, corrupt or
	// unreadable FP state). The returned mask is valid: Linux installs it
	// before it validates the rest, so the kernel should too before it
	// forces SIGSEGV.
	ErrBadSignalFrame = errors.New("arch: invalid signal frame")
)
