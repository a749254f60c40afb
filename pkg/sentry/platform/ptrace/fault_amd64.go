package ptrace

import (
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/platform/stub"
	"golang.org/x/sys/unix"
)

// ptrace reports a page fault's address but not the x86 page-fault error
// code that says whether it was a read, a write or an instruction fetch.
// Without it the memory manager has to guess from its own state, and the
// guess is wrong whenever several threads fault on one page at once: the
// fault handled second finds the page already mapped with everything its
// VMA allows, concludes that the access must have been one the VMA
// forbids, and the thread gets SIGSEGV (SEGV_ACCERR) for a plain read. Go
// programs, whose garbage collector workers touch fresh heap metadata
// from several threads at once, die of this within seconds.
//
// The host does keep the error code (in the faulting thread's
// thread_struct until its next fault) and writes it into the sigcontext of
// the signal frame it builds for a handler. So stub processes carry a
// SIGSEGV handler (stub.Addrs.FaultHandler) that loads uc_mcontext.err
// and .trapno from its frame into registers and traps. At a fault's
// signal-delivery stop the tracer points the thread's stack at a scratch
// area of its own and resumes it with the SIGSEGV. The application's
// registers and FP state were saved before; the next Switch reloads both.
// It costs one more stop per SIGSEGV, and nothing per system call.

// The trap number of a page fault, and error code bits (Intel SDM vol. 3,
// 4.7).
const (
	trapPageFault = 14
	pfWrite       = 1 << 1
	pfInstr       = 1 << 4
)

// Scratch areas for fault frames, one per stub thread, above the stub
// image. A frame takes the 128-byte red zone, the XSAVE area (about 11 KiB
// at most with AMX) and under 1 KiB of ucontext and siginfo.
const (
	scratchBase  = stub.End
	scratchSize  = 64 << 10
	scratchSlots = 1 << 16 // 4 GiB of the 20 GiB above the stub
)

// faultProbe reports whether stub processes carry the fault handler.
func faultProbe() bool { return stub.Layout().FaultHandler != 0 }

// installFaultHandler installs the stub's SIGSEGV handler in the stopped
// stub thread tid (its process, and so every process cloned from it) and
// unblocks SIGSEGV, which must be deliverable: the host resets the action
// of a fault signal that is blocked to SIG_DFL.
func installFaultHandler(tid int32, base *linux.PtraceRegs) error {
	a := stub.Layout()
	for _, c := range []struct {
		name string
		nr   uintptr
		args []uintptr
	}{
		{"rt_sigaction", unix.SYS_RT_SIGACTION, []uintptr{uintptr(unix.SIGSEGV), a.FaultAction, 0, 8}},
		{"rt_sigprocmask", unix.SYS_RT_SIGPROCMASK, []uintptr{unix.SIG_SETMASK, a.FaultMask, 0, 8}},
	} {
		regs := *base
		syscallRegs(&regs, a.Syscall, c.nr, c.args...)
		ret, _, err := inject(tid, &regs, a.SyscallTrap, 0)
		if err != nil {
			return err
		}
		if e := errnoOf(ret); e != nil {
			return errStub(c.name, tid, e)
		}
	}
	return nil
}

// faultAccess finds the access of the page fault whose SIGSEGV
// signal-delivery stop t is in; r holds t's registers there. It reports
// NoAccess if t has no scratch area or the signal did not come from a page
// fault. It leaves t stopped in the handler, with its FP state reset.
func faultAccess(t *thread, r *linux.PtraceRegs) (platform.AccessType, error) {
	if t.scratch == 0 {
		return platform.NoAccess, nil
	}
	regs := *r
	regs.Rsp = uint64(t.scratch + scratchSize)
	if err := setRegs(t.tid, &regs); err != nil {
		return platform.NoAccess, errStub("set registers", t.tid, err)
	}
	// The host replaced the FP state with the handler's initial one.
	t.fp = t.fp[:0]
	sig := uintptr(unix.SIGSEGV)
	for {
		if err := ptrace(unix.PTRACE_CONT, t.tid, 0, sig); err != nil {
			return platform.NoAccess, errStub("PTRACE_CONT", t.tid, err)
		}
		sig = 0
		st, err := waitStop(t.tid)
		if err != nil {
			return platform.NoAccess, err
		}
		if eventOf(st) != 0 || st.StopSignal() == interruptSignal {
			// An event stop, or an Interrupt: c.interrupted stays
			// set, so the next Switch returns ErrInterrupted.
			continue
		}
		if st.StopSignal() != unix.SIGTRAP {
			return platform.NoAccess, errStub("fault probe", t.tid, fmt.Errorf("stopped by signal %d", st.StopSignal()))
		}
		break
	}
	if err := getRegs(t.tid, &regs); err != nil {
		return platform.NoAccess, errStub("get registers", t.tid, err)
	}
	// The kernel passes the ucontext's address in rdx.
	uc := uintptr(regs.Rdx)
	if regsPC(&regs) != stub.Layout().FaultTrap || uc < t.scratch || uc >= t.scratch+scratchSize {
		return platform.NoAccess, errStub("fault probe", t.tid, fmt.Errorf("trapped at %#x with frame %#x", regsPC(&regs), uc))
	}
	code, trapno := stub.FaultRegs(&regs)
	if trapno != trapPageFault {
		return platform.NoAccess, nil
	}
	switch {
	case code&pfInstr != 0:
		return platform.AccessType{Execute: true}, nil
	case code&pfWrite != 0:
		return platform.AccessType{Write: true}, nil
	}
	return platform.Read, nil
}
