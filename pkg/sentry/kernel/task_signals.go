package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// unblockableSignals can never be blocked, caught or ignored.
var unblockableSignals = linux.MakeSignalSet(linux.SIGKILL, linux.SIGSTOP)

// stopSignals start a group stop when their default action runs, and are
// discarded by SIGCONT.
var stopSignals = linux.MakeSignalSet(linux.SIGSTOP, linux.SIGTSTP, linux.SIGTTIN, linux.SIGTTOU)

// SendSignal sends a thread-directed signal to t (tkill, tgkill, faults).
func (t *Task) SendSignal(info *linux.SignalInfo) error {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return t.sendSignalLocked(info, false, false)
}

// SendGroupSignal sends a process-directed signal to tg (kill).
func (tg *ThreadGroup) SendGroupSignal(info *linux.SignalInfo) error {
	tg.k.tasksMu.RLock()
	defer tg.k.tasksMu.RUnlock()
	if tg.leader == nil {
		return linux.ESRCH
	}
	return tg.leader.sendSignalLocked(info, true, false)
}

// sendSignalLocked queues info for t (group false) or t's thread group
// (group true) and wakes a task that can take it. forced marks a signal
// from outside the sandbox's PID namespace or raised by the task itself
// (a fault). Requires tasksMu held.
func (t *Task) sendSignalLocked(info *linux.SignalInfo, group, forced bool) error {
	sig := linux.Signal(info.Signo)
	if sig == 0 {
		// Signal 0 only checks that the target exists.
		return nil
	}
	if !sig.IsValid() {
		return linux.EINVAL
	}
	tg := t.tg
	tg.signalMu.Lock()
	defer tg.signalMu.Unlock()
	if tg.exiting || (!group && t.exitState != taskRunning) {
		// Signals to an exiting task are discarded, as Linux does once
		// PF_EXITING is set; the group's exit status is already decided.
		return nil
	}

	// Init of a PID namespace ignores signals it has no handler for
	// (SIGNAL_UNKILLABLE), so a container's PID 1 cannot be killed by its
	// own processes, even with SIGKILL. A blocked signal is still queued
	// (the handler may change) and dropped at delivery if still SIG_DFL.
	// From outside the namespace (forced), SIGKILL and SIGSTOP get through.
	if tg.unkillableLocked() && !t.mask.Has(sig) && tg.handlers.Get(sig).Handler == linux.SIG_DFL &&
		!(forced && unblockableSignals.Has(sig)) {
		return nil
	}

	// SIGCONT and stop signals cancel each other at generation time, so a
	// pending stop cannot follow a later SIGCONT.
	if sig == linux.SIGCONT {
		tg.discardLocked(stopSignals)
		tg.continueLocked()
	} else if stopSignals.Has(sig) {
		tg.discardLocked(linux.SIGCONT.Mask())
	}

	if sig == linux.SIGKILL {
		tg.killLocked(linux.WaitStatusSignaled(linux.SIGKILL, false))
		return nil
	}

	// A blocked signal is queued even if ignored: the handler may change
	// before it is unblocked; so is one that sigtimedwait unblocked to
	// wait for it. A tracer sees even ignored signals (Linux's
	// sig_ignored).
	if !t.mask.Has(sig) && !t.waitMask.Has(sig) && tg.handlers.isIgnored(sig) && t.ptraceFlags.Load() == 0 {
		return nil
	}

	q := &t.pending
	if group {
		q = &tg.pending
	}
	if !q.enqueue(info) {
		return nil
	}
	tg.notifySignalQueuedLocked()
	if group {
		tg.wakeOneForSignalLocked(sig, t)
	} else if !t.mask.Has(sig) {
		t.interrupt()
	}
	return nil
}

// wakeOneForSignalLocked interrupts a task of tg that does not block sig,
// preferring prefer, so the signal is delivered promptly. Requires
// signalMu and tasksMu.
func (tg *ThreadGroup) wakeOneForSignalLocked(sig linux.Signal, prefer *Task) {
	if !prefer.mask.Has(sig) && prefer.exitState == taskRunning {
		prefer.interrupt()
		return
	}
	for t := range tg.tasks {
		if !t.mask.Has(sig) && t.exitState == taskRunning {
			t.interrupt()
			return
		}
	}
}

// discardLocked drops pending instances of set from the group and every
// member. Requires signalMu and tasksMu.
func (tg *ThreadGroup) discardLocked(set linux.SignalSet) {
	tg.pending.discard(set)
	for t := range tg.tasks {
		t.pending.discard(set)
	}
}

// killLocked starts the group's exit with status ws: every member is
// marked killed and interrupted. Requires signalMu and tasksMu.
func (tg *ThreadGroup) killLocked(ws linux.WaitStatus) {
	if !tg.exiting {
		tg.exiting = true
		tg.exitStatus = ws
	}
	tg.continueLocked()
	for t := range tg.tasks {
		t.killed = true
		t.interrupt()
	}
}

// continueLocked ends a group stop. Requires signalMu.
func (tg *ThreadGroup) continueLocked() {
	if !tg.stopped {
		return
	}
	tg.stopped = false
	close(tg.stopCh)
	tg.stopCh = nil
	tg.continueReport = true
	tg.stopReport = 0
}

// SignalMask returns t's blocked set.
func (t *Task) SignalMask() linux.SignalSet {
	t.tg.signalMu.Lock()
	defer t.tg.signalMu.Unlock()
	return t.mask
}

// SetSignalMask replaces t's blocked set (SIGKILL and SIGSTOP silently
// stay unblocked). A signal that becomes unblocked is delivered before the
// task returns to the application. Only the task goroutine may call it.
func (t *Task) SetSignalMask(mask linux.SignalSet) {
	t.tg.signalMu.Lock()
	defer t.tg.signalMu.Unlock()
	t.mask = mask &^ unblockableSignals
}

// SetSavedSignalMask makes the next return to the application restore
// mask after any signal handler has been set up, for sigsuspend-like
// calls that swap the mask only while they wait.
func (t *Task) SetSavedSignalMask(mask linux.SignalSet) {
	t.tg.signalMu.Lock()
	defer t.tg.signalMu.Unlock()
	t.savedMask = mask
	t.haveSavedMask = true
}

// PendingSignals returns the signals pending for t or its group.
func (t *Task) PendingSignals() linux.SignalSet {
	t.tg.signalMu.Lock()
	defer t.tg.signalMu.Unlock()
	return t.pending.set | t.tg.pending.set
}

// SignalHandlers returns the disposition table t uses.
func (t *Task) SignalHandlers() *SignalHandlers { return t.tg.handlers }

// SetSignalAction implements rt_sigaction's update: it returns the old
// action. Changing SIGKILL or SIGSTOP is EINVAL.
func (t *Task) SetSignalAction(sig linux.Signal, act *linux.SigAction) (linux.SigAction, error) {
	if !sig.IsValid() {
		return linux.SigAction{}, linux.EINVAL
	}
	if act == nil {
		return t.tg.handlers.Get(sig), nil
	}
	if unblockableSignals.Has(sig) {
		return linux.SigAction{}, linux.EINVAL
	}
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	tg := t.tg
	tg.signalMu.Lock()
	defer tg.signalMu.Unlock()
	old := tg.handlers.set(sig, *act)
	// POSIX: setting a pending signal to be ignored discards it.
	if tg.handlers.isIgnored(sig) {
		tg.discardLocked(sig.Mask())
	}
	return old, nil
}

// dequeueSignalLocked takes the next deliverable signal for t, thread
// queue first. Requires signalMu.
func (t *Task) dequeueSignalLocked() *linux.SignalInfo {
	if info := t.pending.dequeue(t.mask); info != nil {
		return info
	}
	return t.tg.pending.dequeue(t.mask)
}

// SigAltStack returns t's alternate signal stack, with SS_ONSTACK set if
// sp is on it.
func (t *Task) SigAltStack(sp uint64) linux.SignalStack {
	s := t.altStack
	if s.Flags&linux.SS_DISABLE == 0 && s.Contains(sp) {
		s.Flags |= linux.SS_ONSTACK
	}
	return s
}

// SetSigAltStack implements sigaltstack's update. It is EPERM while
// running on the current alternate stack, ENOMEM for a stack below
// MINSIGSTKSZ.
func (t *Task) SetSigAltStack(sp uint64, s linux.SignalStack) error {
	if t.SigAltStack(sp).Flags&linux.SS_ONSTACK != 0 {
		return linux.EPERM
	}
	mode := uint32(s.Flags) &^ linux.SS_FLAG_BITS
	switch mode {
	case linux.SS_DISABLE:
		t.altStack = linux.SignalStack{Flags: linux.SS_DISABLE}
		return nil
	case 0, linux.SS_ONSTACK:
		if s.Size < linux.MINSIGSTKSZ {
			return linux.ENOMEM
		}
		s.Flags = int32(uint32(s.Flags) & linux.SS_FLAG_BITS)
		t.altStack = s
		return nil
	}
	return linux.EINVAL
}

// interrupt wakes t from Block and forces it out of application code so
// it notices new signals or a kill. Safe to call with any lock held.
func (t *Task) interrupt() {
	select {
	case t.interruptCh <- struct{}{}:
	default:
	}
	if t.pc != nil {
		t.pc.Interrupt()
	}
}

// unkillableLocked reports whether tg still has init's protection against
// signals it does not handle. Linux drops it when init takes a fault it
// cannot handle, so a crashing init dies. Requires signalMu and tasksMu.
func (tg *ThreadGroup) unkillableLocked() bool {
	return tg.isInitLocked() && !tg.lostUnkillable
}
