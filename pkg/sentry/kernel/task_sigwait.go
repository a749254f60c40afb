package kernel

import (
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// SignalTimedWait implements rt_sigtimedwait(2): it dequeues the
// lowest-numbered pending signal in set, from t's own queue first and then
// its thread group's, without running any handler. While it waits, the
// signals of set are removed from t's mask so that their arrival wakes t
// (and so that a process-directed one may pick t); the mask is restored
// before it returns, under the same lock hold as the last dequeue attempt,
// so a signal of set is either taken here or left pending with the mask
// already back.
//
// A nil timeout waits forever; a zero one only polls. It returns EAGAIN
// when the timeout passes, and EINTR when a signal outside set (or a kill)
// interrupts the wait, as Linux does: the call is never restarted.
func (t *Task) SignalTimedWait(set linux.SignalSet, timeout *time.Duration) (*linux.SignalInfo, error) {
	// SIGKILL and SIGSTOP can never be waited for.
	set &^= unblockableSignals
	tg := t.tg

	tg.signalMu.Lock()
	if info := t.dequeueFromSetLocked(set); info != nil {
		tg.signalMu.Unlock()
		return info, nil
	}
	if timeout != nil && *timeout <= 0 {
		tg.signalMu.Unlock()
		return nil, linux.EAGAIN
	}
	realMask := t.mask
	t.mask &^= set
	t.waitMask = realMask
	tg.signalMu.Unlock()

	var deadline time.Time
	if timeout != nil {
		deadline = time.Now().Add(*timeout)
	}
	for {
		var err error
		if timeout != nil {
			err = t.BlockWithDeadline(nil, deadline)
		} else {
			err = t.Block(nil)
		}

		tg.signalMu.Lock()
		info := t.dequeueFromSetLocked(set)
		other := t.killed || tg.exiting || (t.pending.set|tg.pending.set)&^t.mask != 0 || t.ptraceInterruptPending()
		done := info != nil || other || ErrTimedOut(err)
		if done {
			t.mask = realMask
			t.waitMask = 0
		}
		tg.signalMu.Unlock()

		switch {
		case info != nil:
			return info, nil
		case other:
			// A deliverable signal outside set, a kill, or a
			// PTRACE_INTERRUPT.
			return nil, linux.EINTR
		case ErrTimedOut(err):
			return nil, linux.EAGAIN
		}
		// A stale wake-up (for example a process-directed signal another
		// thread took first): keep waiting.
	}
}

// DequeueSignalFromSet takes the lowest pending signal of set for t
// without waiting, whether or not it is blocked, or returns nil (for
// signalfd reads and sigwait-like polling).
func (t *Task) DequeueSignalFromSet(set linux.SignalSet) *linux.SignalInfo {
	t.tg.signalMu.Lock()
	defer t.tg.signalMu.Unlock()
	return t.dequeueFromSetLocked(set)
}

// dequeueFromSetLocked takes the lowest pending signal of set, thread
// queue first, as Linux's dequeue_signal does. Requires tg.signalMu.
func (t *Task) dequeueFromSetLocked(set linux.SignalSet) *linux.SignalInfo {
	if info := t.pending.dequeue(^set); info != nil {
		return info
	}
	return t.tg.pending.dequeue(^set)
}

// SignalSuspend implements rt_sigsuspend(2): it installs mask until a
// signal that mask does not block is pending (or t is killed), arranges
// for the original mask to come back once that signal's handler has been
// set up, and returns ERESTARTNOHAND, so the call ends with EINTR when a
// handler runs and starts again otherwise, as on Linux.
func (t *Task) SignalSuspend(mask linux.SignalSet) error {
	tg := t.tg
	tg.signalMu.Lock()
	t.savedMask = t.mask
	t.haveSavedMask = true
	t.mask = mask &^ unblockableSignals
	tg.signalMu.Unlock()
	t.waitForSignal()
	return linux.ERESTARTNOHAND
}

// Pause implements pause(2): it sleeps until a signal is deliverable or t
// is killed and returns ERESTARTNOHAND.
func (t *Task) Pause() error {
	t.waitForSignal()
	return linux.ERESTARTNOHAND
}

// waitForSignal blocks until a signal t does not block is pending or t must
// exit. Block can also return for a wake-up meant for another reason (a
// process-directed signal that a sibling thread took first), so the
// condition is checked again each time, like Linux's loop around
// schedule().
func (t *Task) waitForSignal() {
	tg := t.tg
	for {
		t.Block(nil)
		tg.signalMu.Lock()
		ready := t.killed || tg.exiting || (t.pending.set|tg.pending.set)&^t.mask != 0 || t.ptraceInterruptPending()
		tg.signalMu.Unlock()
		if ready {
			return
		}
	}
}
