package kernel

import "sync"

// pauseState freezes the sandbox for `runsc pause`, as the cgroup freezer
// freezes a runc container: no task runs application code until Unpause.
// Tasks blocked in the kernel stay blocked, and park on their way back to
// the application; timers keep running and queue their signals.
type pauseState struct {
	// mu guards resumed.
	mu sync.Mutex
	// resumed is nil while the kernel runs, and while it is paused a
	// channel that Unpause closes.
	resumed chan struct{}
}

// Pause stops every task from running application code, kicking out
// those that are in it now. Pausing a paused kernel does nothing.
func (k *Kernel) Pause() {
	k.pause.mu.Lock()
	if k.pause.resumed == nil {
		k.pause.resumed = make(chan struct{})
	}
	k.pause.mu.Unlock()
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	for t := range k.rootPIDNS.tids {
		// Only out of application code: a task blocked in a syscall is
		// not woken, which would be visible to it as an interruption.
		if t.pc != nil {
			t.pc.Interrupt()
		}
	}
}

// Unpause lets the tasks run again.
func (k *Kernel) Unpause() {
	k.pause.mu.Lock()
	defer k.pause.mu.Unlock()
	if k.pause.resumed != nil {
		close(k.pause.resumed)
		k.pause.resumed = nil
	}
}

// Paused reports whether the kernel is paused.
func (k *Kernel) Paused() bool {
	k.pause.mu.Lock()
	defer k.pause.mu.Unlock()
	return k.pause.resumed != nil
}

// waitWhilePaused parks t while the kernel is paused. A task that is being
// killed is let through, so that killing a paused container ends it, as
// SIGKILL ends frozen tasks.
func (t *Task) waitWhilePaused() {
	for {
		t.k.pause.mu.Lock()
		ch := t.k.pause.resumed
		t.k.pause.mu.Unlock()
		if ch == nil {
			return
		}
		t.tg.signalMu.Lock()
		dying := t.killed || t.tg.exiting || t.exitRequested
		t.tg.signalMu.Unlock()
		if dying {
			return
		}
		t.accountPark()
		select {
		case <-ch:
		case <-t.interruptCh:
			// A signal or kill: look again (a kill gets through).
		}
		t.accountUnpark()
	}
}
