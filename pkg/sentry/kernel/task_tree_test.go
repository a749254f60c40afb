package kernel

import (
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// newTestProcess creates a process (not started) whose parent is parent,
// or the sandbox's first process when parent is nil.
func newTestProcess(t *testing.T, k *Kernel, parent *Task) *Task {
	t.Helper()
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	task, err := k.newTaskLocked(&taskConfig{
		parent:     parent,
		handlers:   NewSignalHandlers(),
		exitSignal: linux.SIGCHLD,
		pidns:      k.rootPIDNS,
	})
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func newTestThread(t *testing.T, k *Kernel, leader *Task) *Task {
	t.Helper()
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	task, err := k.newTaskLocked(&taskConfig{parent: leader.parent, tg: leader.tg})
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func sig(s linux.Signal) *linux.SignalInfo {
	return &linux.SignalInfo{Signo: int32(s), Code: linux.SI_USER}
}

func TestIDsAndInit(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	child := newTestProcess(t, k, init)
	thread := newTestThread(t, k, child)
	if init.ThreadID() != 1 || init.tg.ID() != 1 {
		t.Errorf("first process has TID %d TGID %d, want 1", init.ThreadID(), init.tg.ID())
	}
	if child.ThreadID() != 2 || thread.ThreadID() != 3 || thread.tg.ID() != 2 {
		t.Errorf("child TID %d, thread TID %d TGID %d", child.ThreadID(), thread.ThreadID(), thread.tg.ID())
	}
	if !init.tg.isInitLocked() || child.tg.isInitLocked() {
		t.Errorf("init detection wrong")
	}
}

func TestInitIgnoresDefaultSignals(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	for _, s := range []linux.Signal{linux.SIGTERM, linux.SIGKILL, linux.SIGINT} {
		if err := init.tg.SendGroupSignal(sig(s)); err != nil {
			t.Fatal(err)
		}
	}
	if init.PendingSignals() != 0 || init.tg.exiting {
		t.Errorf("init took signals it has no handler for: pending %#x exiting %v", init.PendingSignals(), init.tg.exiting)
	}
	// With a handler, init gets the signal.
	if _, err := init.SetSignalAction(linux.SIGTERM, &linux.SigAction{Handler: 0x1000}); err != nil {
		t.Fatal(err)
	}
	init.tg.SendGroupSignal(sig(linux.SIGTERM))
	if !init.PendingSignals().Has(linux.SIGTERM) {
		t.Errorf("init with a handler did not get SIGTERM")
	}
}

func TestSignalQueueing(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	p := newTestProcess(t, k, init)
	p.SetSignalMask(linux.MakeSignalSet(linux.SIGUSR1, linux.SIGRTMIN))
	for range 3 {
		p.SendSignal(sig(linux.SIGUSR1))
		p.SendSignal(sig(linux.SIGRTMIN))
	}
	p.tg.signalMu.Lock()
	defer p.tg.signalMu.Unlock()
	if n := len(p.pending.queues[linux.SIGUSR1]); n != 1 {
		t.Errorf("standard signal queued %d times, want 1", n)
	}
	if n := len(p.pending.queues[linux.SIGRTMIN]); n != 3 {
		t.Errorf("real-time signal queued %d times, want 3", n)
	}
	if info := p.dequeueSignalLocked(); info != nil {
		t.Errorf("dequeued blocked signal %d", info.Signo)
	}
	p.mask = 0
	if info := p.dequeueSignalLocked(); info == nil || info.Signo != int32(linux.SIGUSR1) {
		t.Errorf("first deliverable = %v, want SIGUSR1 (lowest number)", info)
	}
}

func TestIgnoredSignalsAreDropped(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	p := newTestProcess(t, k, init)
	p.SendSignal(sig(linux.SIGCHLD)) // default action: ignore
	p.SetSignalAction(linux.SIGUSR2, &linux.SigAction{Handler: linux.SIG_IGN})
	p.SendSignal(sig(linux.SIGUSR2))
	if got := p.PendingSignals(); got != 0 {
		t.Errorf("ignored signals pending: %#x", got)
	}
	// Blocked signals are kept even when ignored, and setting SIG_IGN
	// discards a pending one.
	p.SetSignalMask(linux.SIGUSR2.Mask())
	p.SendSignal(sig(linux.SIGUSR2))
	if !p.PendingSignals().Has(linux.SIGUSR2) {
		t.Fatalf("blocked ignored signal dropped")
	}
	p.SetSignalAction(linux.SIGUSR2, &linux.SigAction{Handler: linux.SIG_IGN})
	if p.PendingSignals().Has(linux.SIGUSR2) {
		t.Errorf("SIG_IGN did not discard the pending signal")
	}
}

func TestContinueDiscardsStop(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	p := newTestProcess(t, k, init)
	p.SetSignalMask(linux.MakeSignalSet(linux.SIGTSTP, linux.SIGCONT))
	p.tg.SendGroupSignal(sig(linux.SIGTSTP))
	p.tg.SendGroupSignal(sig(linux.SIGCONT))
	got := p.PendingSignals()
	if got.Has(linux.SIGTSTP) || !got.Has(linux.SIGCONT) {
		t.Errorf("pending after TSTP then CONT = %#x", got)
	}
}

func TestSigactionRejectsKillAndStop(t *testing.T) {
	k := NewKernel(nil, nil)
	p := newTestProcess(t, k, nil)
	for _, s := range []linux.Signal{linux.SIGKILL, linux.SIGSTOP} {
		if _, err := p.SetSignalAction(s, &linux.SigAction{Handler: linux.SIG_IGN}); err != linux.EINVAL {
			t.Errorf("sigaction(%v) = %v, want EINVAL", s, err)
		}
	}
	if _, err := p.SetSignalAction(65, nil); err != linux.EINVAL {
		t.Errorf("sigaction(65) = %v, want EINVAL", err)
	}
	p.SetSignalMask(^linux.SignalSet(0))
	if m := p.SignalMask(); m.Has(linux.SIGKILL) || m.Has(linux.SIGSTOP) {
		t.Errorf("SIGKILL/SIGSTOP blockable: %#x", m)
	}
}

func TestExitAndWait(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	if _, err := init.Wait(WaitOptions{Events: linux.WEXITED}); err != linux.ECHILD {
		t.Fatalf("wait with no children = %v, want ECHILD", err)
	}
	init.SetSignalAction(linux.SIGCHLD, &linux.SigAction{Handler: 0x1000})
	child := newTestProcess(t, k, init)
	res, err := init.Wait(WaitOptions{Events: linux.WEXITED, Flags: linux.WNOHANG})
	if res != nil || err != nil {
		t.Fatalf("WNOHANG on a running child = %v, %v", res, err)
	}

	done := make(chan *WaitResult)
	go func() {
		res, err := init.Wait(WaitOptions{Events: linux.WEXITED})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	time.Sleep(10 * time.Millisecond)
	child.exitThread(linux.WaitStatusExit(42))
	res = <-done
	if res == nil || res.PID != 2 || !res.Status.Exited() || res.Status.ExitStatus() != 42 || res.Code != linux.CLD_EXITED {
		t.Fatalf("wait result = %+v", res)
	}
	if !init.PendingSignals().Has(linux.SIGCHLD) {
		t.Errorf("parent with a SIGCHLD handler did not get SIGCHLD")
	}
	if _, err := init.Wait(WaitOptions{Events: linux.WEXITED}); err != linux.ECHILD {
		t.Errorf("second wait = %v, want ECHILD (child reaped)", err)
	}
	k.tasksMu.RLock()
	_, stillThere := k.rootPIDNS.tasks[2]
	k.tasksMu.RUnlock()
	if stillThere {
		t.Errorf("reaped child's PID still allocated")
	}
}

func TestWaitNoWaitAndSelection(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	a := newTestProcess(t, k, init)
	b := newTestProcess(t, k, init)
	b.exitThread(linux.WaitStatusExit(7))
	// Waiting for a specific running child does not report the other.
	if res, err := init.Wait(WaitOptions{PID: a.tg.ID(), Events: linux.WEXITED, Flags: linux.WNOHANG}); res != nil || err != nil {
		t.Errorf("wait for running child = %+v, %v", res, err)
	}
	for range 2 {
		res, err := init.Wait(WaitOptions{Events: linux.WEXITED, Flags: linux.WNOWAIT})
		if err != nil || res == nil || res.Status.ExitStatus() != 7 {
			t.Fatalf("WNOWAIT = %+v, %v", res, err)
		}
	}
	res, err := init.Wait(WaitOptions{Events: linux.WEXITED})
	if err != nil || res.Status.ExitStatus() != 7 {
		t.Fatalf("wait = %+v, %v", res, err)
	}
}

func TestAutoreapWhenSIGCHLDIgnored(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	init.SetSignalAction(linux.SIGCHLD, &linux.SigAction{Handler: linux.SIG_IGN})
	child := newTestProcess(t, k, init)
	child.exitThread(linux.WaitStatusExit(0))
	if _, err := init.Wait(WaitOptions{Events: linux.WEXITED, Flags: linux.WNOHANG}); err != linux.ECHILD {
		t.Errorf("wait after autoreap = %v, want ECHILD", err)
	}
}

func TestOrphansReparentToInit(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	mid := newTestProcess(t, k, init)
	grandchild := newTestProcess(t, k, mid)
	mid.exitThread(linux.WaitStatusExit(0))
	if grandchild.parent != init {
		t.Fatalf("orphan's parent is %v, want init", grandchild.parent)
	}
	grandchild.exitThread(linux.WaitStatusExit(3))
	seen := map[int]bool{}
	for range 2 {
		res, err := init.Wait(WaitOptions{Events: linux.WEXITED, Flags: linux.WNOHANG})
		if err != nil || res == nil {
			t.Fatalf("wait = %+v, %v", res, err)
		}
		seen[res.Status.ExitStatus()] = true
	}
	if !seen[0] || !seen[3] {
		t.Errorf("init reaped statuses %v, want 0 and 3", seen)
	}
}

func TestThreadExitStatusAndGroupKill(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	p := newTestProcess(t, k, init)
	thread := newTestThread(t, k, p)
	// A thread exiting alone does not end the process.
	thread.exitThread(linux.WaitStatusExit(9))
	if p.tg.zombie {
		t.Fatalf("process became a zombie when a non-last thread exited")
	}
	thread2 := newTestThread(t, k, p)
	thread2.ExitGroup(linux.WaitStatusSignaled(linux.SIGTERM, false))
	if !p.killed || !thread2.killed {
		t.Fatalf("exit_group did not kill every thread")
	}
	thread2.exitThread(0)
	p.exitThread(0)
	res, err := init.Wait(WaitOptions{Events: linux.WEXITED})
	if err != nil || !res.Status.Signaled() || res.Status.Signal() != linux.SIGTERM || res.Code != linux.CLD_KILLED {
		t.Fatalf("wait = %+v, %v", res, err)
	}
	select {
	case <-k.AllTasksExited():
		t.Errorf("kernel reports all tasks gone while init lives")
	default:
	}
}

func TestWaitInterruptedBySignal(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	newTestProcess(t, k, init)
	init.SetSignalAction(linux.SIGUSR1, &linux.SigAction{Handler: 0x1000})
	errc := make(chan error)
	go func() {
		_, err := init.Wait(WaitOptions{Events: linux.WEXITED})
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	init.tg.SendGroupSignal(sig(linux.SIGUSR1))
	select {
	case err := <-errc:
		if err != ErrInterrupted {
			t.Errorf("wait returned %v, want ErrInterrupted", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait was not interrupted by a signal")
	}
}

func TestSigaltstack(t *testing.T) {
	k := NewKernel(nil, nil)
	p := newTestProcess(t, k, nil)
	if err := p.SetSigAltStack(0, linux.SignalStack{Addr: 0x10000, Size: 100}); err != linux.ENOMEM {
		t.Errorf("tiny altstack = %v, want ENOMEM", err)
	}
	if err := p.SetSigAltStack(0, linux.SignalStack{Addr: 0x10000, Size: 0x4000}); err != nil {
		t.Fatal(err)
	}
	if got := p.SigAltStack(0x12000); got.Flags&linux.SS_ONSTACK == 0 {
		t.Errorf("sp inside the stack not reported SS_ONSTACK: %+v", got)
	}
	if err := p.SetSigAltStack(0x12000, linux.SignalStack{Flags: linux.SS_DISABLE}); err != linux.EPERM {
		t.Errorf("changing the altstack while on it = %v, want EPERM", err)
	}
}

func TestInitQueuesBlockedSignals(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	init.SetSignalMask(linux.SIGUSR1.Mask())
	init.SendSignal(sig(linux.SIGUSR1))
	if !init.PendingSignals().Has(linux.SIGUSR1) {
		t.Fatalf("init dropped a blocked signal; Linux queues it")
	}
	// From outside the namespace, SIGKILL gets through; SIGTERM does not.
	k.SignalRootProcess(linux.SIGTERM)
	if init.tg.exiting || init.PendingSignals().Has(linux.SIGTERM) {
		t.Errorf("external SIGTERM reached init without a handler")
	}
	k.SignalRootProcess(linux.SIGKILL)
	if !init.tg.exiting {
		t.Errorf("external SIGKILL did not kill init")
	}
}
