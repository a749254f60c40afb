package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// The parent's side of vfork: it sleeps until the child execs or exits.
//
// Linux sleeps there killably (wait_for_vfork_done): ordinary signals stay
// pending and are delivered once clone returns; only a fatal one ends the
// wait. Task.Block cannot be used for this: it returns at once while any
// unblocked signal is pending, so a signal that arrived during the wait (a
// child signalling its parent, Go's SIGURG preemption of the thread) made
// the wait spin forever without ever seeing the child finish.

// waitVforkChild blocks t until done is closed (the vfork child exec'd or
// exited) or a signal that will kill t is pending. It reports whether the
// child finished, which is when ptrace's VFORK_DONE stop is due.
func (t *Task) waitVforkChild(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
	}
	t.accountPark()
	defer t.accountUnpark()
	for {
		// interruptCh is buffered: a kill or signal sent after this check
		// leaves a wake-up there for the select below.
		if t.vforkWaitKilled() {
			return false
		}
		select {
		case <-done:
			return true
		case <-t.interruptCh:
		}
	}
}

// vforkWaitKilled reports whether t is being killed, or has a pending
// signal whose delivery will kill its group without a core dump. Linux
// turns such a signal into a group kill when it is sent (complete_signal),
// which is what ends a killable sleep; here the wait ends and the signal
// kills t as clone returns. A traced task's tracer sees signals first, so
// only a real kill counts then, as on Linux.
func (t *Task) vforkWaitKilled() bool {
	k := t.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	tg := t.tg
	tg.signalMu.Lock()
	defer tg.signalMu.Unlock()
	if t.killed || tg.exiting {
		return true
	}
	if t.ptraceFlags.Load() != 0 || tg.unkillableLocked() {
		return false
	}
	ready := (t.pending.set | tg.pending.set) &^ t.mask
	for sig := linux.Signal(1); sig <= linux.NumSignals; sig++ {
		if ready&sig.Mask() == 0 {
			continue
		}
		if tg.handlers.Get(sig).Handler == linux.SIG_DFL && sig.DefaultAction() == linux.SignalActTerm {
			return true
		}
	}
	return false
}
