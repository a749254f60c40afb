package kernel

import (
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func dur(d time.Duration) *time.Duration { return &d }

func TestSignalTimedWaitTakesPendingThreadFirst(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	task := newTestProcess(t, k, init)
	set := linux.MakeSignalSet(linux.SIGUSR1, linux.SIGUSR2)
	task.SetSignalMask(set)
	task.tg.SendGroupSignal(sig(linux.SIGUSR1))
	task.SendSignal(sig(linux.SIGUSR2))

	info, err := task.SignalTimedWait(set, dur(0))
	if err != nil || linux.Signal(info.Signo) != linux.SIGUSR2 {
		t.Fatalf("first wait = %v, %v; want the thread-directed SIGUSR2", info, err)
	}
	info, err = task.SignalTimedWait(set, dur(0))
	if err != nil || linux.Signal(info.Signo) != linux.SIGUSR1 {
		t.Fatalf("second wait = %v, %v; want the process-directed SIGUSR1", info, err)
	}
	if _, err := task.SignalTimedWait(set, dur(0)); err != linux.EAGAIN {
		t.Fatalf("poll with nothing pending = %v, want EAGAIN", err)
	}
	if task.SignalMask() != set {
		t.Errorf("mask changed to %#x", task.SignalMask())
	}
}

func TestSignalTimedWaitTimesOut(t *testing.T) {
	k := NewKernel(nil, nil)
	task := newTestProcess(t, k, nil)
	set := linux.MakeSignalSet(linux.SIGUSR1)
	task.SetSignalMask(set)
	start := time.Now()
	_, err := task.SignalTimedWait(set, dur(30*time.Millisecond))
	if err != linux.EAGAIN {
		t.Fatalf("got %v, want EAGAIN", err)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("returned after %v, before the timeout", el)
	}
	if task.SignalMask() != set {
		t.Errorf("mask not restored: %#x", task.SignalMask())
	}
}

func TestSignalTimedWaitWokenByBlockedSignal(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	task := newTestProcess(t, k, init)
	other := newTestThread(t, k, task)
	set := linux.MakeSignalSet(linux.SIGUSR1)
	// Both threads block SIGUSR1; only the waiter, which unblocks it for
	// the wait, can be chosen for the process-directed signal.
	task.SetSignalMask(set)
	other.SetSignalMask(set)
	go func() {
		time.Sleep(20 * time.Millisecond)
		task.tg.SendGroupSignal(sig(linux.SIGUSR1))
	}()
	info, err := task.SignalTimedWait(set, nil)
	if err != nil || linux.Signal(info.Signo) != linux.SIGUSR1 {
		t.Fatalf("got %v, %v; want SIGUSR1", info, err)
	}
	if task.SignalMask() != set {
		t.Errorf("mask not restored: %#x", task.SignalMask())
	}
	if task.PendingSignals() != 0 {
		t.Errorf("signal left pending: %#x", task.PendingSignals())
	}
}

func TestSignalTimedWaitInterruptedByOtherSignal(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	task := newTestProcess(t, k, init)
	if _, err := task.SetSignalAction(linux.SIGUSR2, &linux.SigAction{Handler: 0x1000}); err != nil {
		t.Fatal(err)
	}
	set := linux.MakeSignalSet(linux.SIGUSR1)
	task.SetSignalMask(set)
	go func() {
		time.Sleep(20 * time.Millisecond)
		task.SendSignal(sig(linux.SIGUSR2))
	}()
	if _, err := task.SignalTimedWait(set, dur(10*time.Second)); err != linux.EINTR {
		t.Fatalf("got %v, want EINTR", err)
	}
	if !task.PendingSignals().Has(linux.SIGUSR2) {
		t.Errorf("the interrupting signal must stay pending for delivery")
	}
}

func TestSignalSuspendSavesMask(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	task := newTestProcess(t, k, init)
	if _, err := task.SetSignalAction(linux.SIGUSR1, &linux.SigAction{Handler: 0x1000}); err != nil {
		t.Fatal(err)
	}
	old := linux.MakeSignalSet(linux.SIGUSR1, linux.SIGUSR2)
	task.SetSignalMask(old)
	task.SendSignal(sig(linux.SIGUSR2)) // blocked during the suspend too
	go func() {
		time.Sleep(20 * time.Millisecond)
		task.SendSignal(sig(linux.SIGUSR1))
	}()
	if err := task.SignalSuspend(linux.MakeSignalSet(linux.SIGUSR2)); err != linux.ERESTARTNOHAND {
		t.Fatalf("got %v, want ERESTARTNOHAND", err)
	}
	if !task.haveSavedMask || task.savedMask != old {
		t.Errorf("saved mask %#x (%v), want %#x", task.savedMask, task.haveSavedMask, old)
	}
	if task.SignalMask() != linux.MakeSignalSet(linux.SIGUSR2) {
		t.Errorf("mask during delivery %#x", task.SignalMask())
	}
}
