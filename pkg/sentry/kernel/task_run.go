package kernel

import (
	"runtime"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// Start runs t's goroutine.
func (t *Task) Start() {
	go t.run()
}

// run is the task goroutine: it runs application code until the task
// exits. The loop's state between iterations is entirely in Task fields,
// so a checkpoint taken between iterations captures it.
func (t *Task) run() {
	// The ptrace platform traces from a fixed host thread, so by default
	// the task keeps one. A context that runs from any thread is spared
	// that: waking a goroutine bound to a thread costs the Go scheduler
	// extra host wake-ups (hand its P to that thread, park the waker's
	// thread), which on the pipe round trip benchmark was most of the
	// Sentry's futex traffic.
	if c, ok := t.pc.(anyThreadContext); !ok || !c.AnyThread() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	t.k.loadAvg.taskRunning()
	defer t.k.loadAvg.taskDone()

	for {
		t.waitWhilePaused()
		if status, exit := t.prepareToRun(); exit {
			t.exitThread(status)
			return
		}
		rs := t.rseq.Load() // RSEQ: lease a virtual CPU (task_rseq.go)
		if rs != nil && !t.rseqEnter(rs) {
			continue
		}
		t.AccountEnterApp()
		trap, err := t.pc.Switch(t.as, t.ac)
		t.AccountLeaveApp()
		if rs != nil { // RSEQ
			t.rseqLeave(rs)
		}
		switch err {
		case nil:
		case platform.ErrInterrupted:
			continue
		case platform.ErrContextDead:
			t.ExitGroup(linux.WaitStatusSignaled(linux.SIGKILL, false))
			continue
		default:
			log.Warningf("task %d: platform failure, killing the process: %v", t.ThreadID(), err)
			t.ExitGroup(linux.WaitStatusSignaled(linux.SIGKILL, false))
			continue
		}
		switch trap.Kind {
		case platform.TrapSyscall:
			if !trap.Patched {
				t.patchSyscallSite()
			}
			t.doSyscall()
		case platform.TrapFault:
			t.handleFault(trap)
		case platform.TrapSignal:
			if handled, syscall := t.patchedSiteTrap(&trap); handled {
				if syscall {
					t.doSyscall()
				}
				continue
			}
			info := trap.Info
			t.forceSignal(&info)
		}
	}
}

// anyThreadContext is implemented by a platform.Context whose Switch may
// be called from any host thread, each time a different one.
type anyThreadContext interface {
	AnyThread() bool
}

// prepareToRun does everything due before the task may run application
// code again: exit if killed, wait out a group stop, deliver signals.
// It reports whether the task must exit instead, with its status.
func (t *Task) prepareToRun() (linux.WaitStatus, bool) {
	for {
		if t.exitRequested {
			return t.exitRequestedStatus, true
		}
		tg := t.tg
		tg.signalMu.Lock()
		if t.killed || tg.exiting {
			ws := tg.exitStatus
			tg.signalMu.Unlock()
			return ws, true
		}
		traced := t.ptraceFlags.Load() != 0
		if tg.stopped && (!traced || t.ptrace.groupStopSeen != tg.stopCh) {
			ch := tg.stopCh
			if traced {
				// A tracee reports the group-stop to its tracer, and
				// runs on once the tracer restarts it.
				sig := tg.groupStopSig
				tg.signalMu.Unlock()
				t.ptraceGroupStop(sig, ch)
				continue
			}
			tg.signalMu.Unlock()
			// Only SIGCONT or SIGKILL end a stop; both close ch or kill.
			t.accountPark()
			select {
			case <-ch:
			case <-t.interruptCh:
			}
			t.accountUnpark()
			continue
		}
		if traced && t.ptraceFlags.Load()&ptraceInterrupt != 0 {
			tg.signalMu.Unlock()
			t.ptraceRunChecks()
			continue
		}
		info := t.dequeueSignalLocked()
		if info == nil {
			if t.haveSavedMask {
				t.mask = t.savedMask
				t.haveSavedMask = false
			}
			tg.signalMu.Unlock()
			t.resolveRestart(false, nil)
			return 0, false
		}
		tg.signalMu.Unlock()
		t.leaveTrampoline()
		if traced {
			// The signal-delivery-stop: the tracer may drop or change it.
			if info = t.ptraceSignalStop(info); info == nil {
				continue
			}
		}
		t.deliverSignal(info)
	}
}

// deliverSignal acts on one dequeued signal: run its handler, or its
// default action.
func (t *Task) deliverSignal(info *linux.SignalInfo) {
	sig := linux.Signal(info.Signo)
	act := t.tg.handlers.Get(sig)
	switch act.Handler {
	case linux.SIG_IGN:
		return
	case linux.SIG_DFL:
		t.defaultAction(sig)
		return
	}
	t.resolveRestart(true, &act)
	if rs := t.rseq.Load(); rs != nil { // RSEQ: abort before the frame is built
		t.rseqSignal(rs, sig)
	}
	if err := t.setupSignalFrame(info, &act); err != nil {
		// Linux kills a task whose handler frame cannot be written.
		log.Infof("task %d: cannot set up a frame for %v: %v", t.ThreadID(), sig, err)
		t.ExitGroup(linux.WaitStatusSignaled(linux.SIGSEGV, true))
		return
	}
	if act.Flags&linux.SA_RESETHAND != 0 {
		reset := act
		reset.Handler = linux.SIG_DFL
		reset.Flags &^= linux.SA_SIGINFO
		t.tg.handlers.set(sig, reset)
	}
}

// defaultAction runs SIG_DFL's action for sig.
func (t *Task) defaultAction(sig linux.Signal) {
	t.k.tasksMu.RLock()
	t.tg.signalMu.Lock()
	unkillable := t.tg.unkillableLocked()
	t.tg.signalMu.Unlock()
	t.k.tasksMu.RUnlock()
	if unkillable {
		// A signal init blocked while it had no handler is dropped now.
		return
	}
	switch sig.DefaultAction() {
	case linux.SignalActIgnore, linux.SignalActContinue:
		// The continue itself happened when the signal was sent.
	case linux.SignalActStop:
		t.groupStop(sig)
	case linux.SignalActCore:
		t.ExitGroup(linux.WaitStatusSignaled(sig, true))
	default:
		t.ExitGroup(linux.WaitStatusSignaled(sig, false))
	}
}

// groupStop stops every task of t's group until SIGCONT, and tells the
// parent.
func (t *Task) groupStop(sig linux.Signal) {
	k := t.k
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	tg := t.tg
	tg.signalMu.Lock()
	if tg.exiting || tg.stopped {
		tg.signalMu.Unlock()
		return
	}
	tg.stopped = true
	tg.stopCh = make(chan struct{})
	tg.stopReport = sig
	tg.groupStopSig = sig
	tg.continueReport = false
	for other := range tg.tasks {
		other.interrupt()
	}
	tg.signalMu.Unlock()

	if parent := tg.leader.parent; parent != nil {
		ptg := parent.tg
		if ptg.handlers.Get(linux.SIGCHLD).Flags&linux.SA_NOCLDSTOP == 0 {
			parent.sendSignalLocked(tg.childSignalInfoLocked(linux.CLD_STOPPED), true, false)
		}
		ptg.notifyChildEventLocked()
	}
}

// forceSignal delivers a synchronous signal the task raised itself (a
// fault, an illegal instruction): if it is blocked or ignored it cannot be
// deferred, so, as Linux's force_sig does, the disposition is reset and
// the signal unblocked, which kills the task unless a handler exists.
func (t *Task) forceSignal(info *linux.SignalInfo) {
	sig := linux.Signal(info.Signo)
	k := t.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	tg := t.tg
	tg.signalMu.Lock()
	act := tg.handlers.Get(sig)
	if t.mask.Has(sig) || act.Handler == linux.SIG_IGN {
		t.mask &^= sig.Mask()
		if act.Handler == linux.SIG_IGN {
			act.Handler = linux.SIG_DFL
			tg.handlers.set(sig, act)
		}
	}
	if act.Handler == linux.SIG_DFL {
		tg.lostUnkillable = true
	}
	tg.signalMu.Unlock()
	t.sendSignalLocked(info, false, true)
}
