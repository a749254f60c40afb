package kernel

import (
	"errors"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// MemoryManager returns t's address space.
func (t *Task) MemoryManager() *mm.MemoryManager { return t.mm }

// CopyIn reads len(dst) bytes of application memory at addr.
func (t *Task) CopyIn(addr uintptr, dst []byte) (int, error) { return t.mm.CopyIn(addr, dst) }

// CopyOut writes src to application memory at addr.
func (t *Task) CopyOut(addr uintptr, src []byte) (int, error) { return t.mm.CopyOut(addr, src) }

// taskMemory adapts the memory manager to arch.Memory: signal frames are
// all-or-nothing.
type taskMemory struct{ mm *mm.MemoryManager }

func (m taskMemory) CopyIn(addr uintptr, dst []byte) error {
	_, err := m.mm.CopyIn(addr, dst)
	return err
}

func (m taskMemory) CopyOut(addr uintptr, src []byte) error {
	_, err := m.mm.CopyOut(addr, src)
	return err
}

// handleFault resolves a page fault, or turns it into the signal the
// memory manager says the application gets.
// maxFaultRetries bounds how often handleFault runs an instruction again
// after faults of unknown access on a page that was mapped when looked at.
const maxFaultRetries = 8

func (t *Task) handleFault(trap platform.Trap) {
	defer recordFault(faultStart())
	err := t.mm.HandleFault(trap.Addr, trap.Access)
	if err == mm.ErrFullyMapped {
		// Run the instruction again: another thread may have mapped
		// the page after this fault (mm.ErrFullyMapped). A few times,
		// since a thread that unmaps and maps it over and over (munmap,
		// MADV_DONTNEED) can make that happen again; a fault that
		// repeats past that is a real one.
		if t.retriedFault != trap.Addr {
			t.retriedFault, t.faultRetries = trap.Addr, 0
		}
		if t.faultRetries < maxFaultRetries {
			t.faultRetries++
			return
		}
		err = &mm.FaultError{Addr: trap.Addr, Signal: linux.SIGSEGV, Code: linux.SEGV_ACCERR}
	}
	t.retriedFault = 0
	if err == nil {
		return
	}
	var fe *mm.FaultError
	if !errors.As(err, &fe) {
		// Out of memory: Linux's OOM path ends in SIGKILL for the task.
		log.Warningf("task %d: fault at %#x: %v", t.ThreadID(), trap.Addr, err)
		t.ExitGroup(linux.WaitStatusSignaled(linux.SIGKILL, false))
		return
	}
	t.lastFault = arch.FaultContext{Addr: uint64(fe.Addr), Code: faultErrorCode(trap.Access), Trap: pageFaultTrap}
	info := &linux.SignalInfo{Signo: int32(fe.Signal), Code: fe.Code}
	info.SetAddr(uint64(fe.Addr))
	t.forceSignal(info)
}

// setupSignalFrame writes the frame for a handler of info and points the
// registers at the handler.
func (t *Task) setupSignalFrame(info *linux.SignalInfo, act *linux.SigAction) error {
	sig := linux.Signal(info.Signo)
	tg := t.tg
	tg.signalMu.Lock()
	oldMask := t.mask
	if t.haveSavedMask {
		oldMask = t.savedMask
		t.haveSavedMask = false
	}
	tg.signalMu.Unlock()

	d := &arch.SignalDelivery{
		Info:     *info,
		Action:   *act,
		AltStack: t.altStack,
		OldMask:  oldMask,
	}
	if linux.MakeSignalSet(linux.SIGSEGV, linux.SIGBUS, linux.SIGILL, linux.SIGFPE, linux.SIGTRAP).Has(sig) {
		d.Fault = t.lastFault
	}
	if _, err := arch.SignalSetup(t.ac, taskMemory{t.mm}, d); err != nil {
		return err
	}
	if uint32(t.altStack.Flags)&linux.SS_AUTODISARM != 0 {
		t.altStack = linux.SignalStack{Flags: linux.SS_DISABLE}
	}

	newMask := oldMask | act.Mask
	if act.Flags&linux.SA_NODEFER == 0 {
		newMask |= sig.Mask()
	}
	tg.signalMu.Lock()
	t.mask = newMask &^ unblockableSignals
	tg.signalMu.Unlock()
	return nil
}

// SignalReturn implements rt_sigreturn: it restores the registers, mask
// and alternate stack saved in the frame at the stack pointer. A bad frame
// kills the task with SIGSEGV, as on Linux.
func (t *Task) SignalReturn() error {
	mask, alt, err := arch.SignalRestore(t.ac, taskMemory{t.mm})
	if err != nil && !errors.Is(err, arch.ErrBadSignalFrame) {
		t.forceSignal(&linux.SignalInfo{Signo: int32(linux.SIGSEGV), Code: linux.SI_KERNEL})
		return errNoReturnValue
	}
	t.SetSignalMask(mask)
	// uc_stack is applied like sigaltstack(2), and its errors ignored.
	_ = t.SetSigAltStack(uint64(t.ac.Stack()), alt)
	if err != nil {
		t.forceSignal(&linux.SignalInfo{Signo: int32(linux.SIGSEGV), Code: linux.SI_KERNEL})
	}
	return errNoReturnValue
}
