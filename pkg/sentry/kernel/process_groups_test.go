package kernel

import (
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func TestSessionsAndProcessGroups(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	a := newTestProcess(t, k, init)
	b := newTestProcess(t, k, init)
	grandchild := newTestProcess(t, k, a)
	aID, bID := a.tg.ID(), b.tg.ID()

	// init leads its session: neither setsid nor setpgid may move it.
	if _, err := init.CreateSession(); err != linux.EPERM {
		t.Errorf("setsid by a session leader = %v, want EPERM", err)
	}
	if err := init.SetProcessGroup(0, 0); err != linux.EPERM {
		t.Errorf("setpgid of a session leader = %v, want EPERM", err)
	}
	// a makes its own group, then b joins it (same session).
	if err := a.SetProcessGroup(0, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.SetProcessGroup(0, aID); err != nil {
		t.Fatalf("joining a group of the session: %v", err)
	}
	if got := b.ProcessGroupIDOf(b.tg); got != aID {
		t.Errorf("b's group = %d, want %d", got, aID)
	}
	// a leads a group now, so it cannot start a session; b can.
	if _, err := a.CreateSession(); err != linux.EPERM {
		t.Errorf("setsid by a group leader = %v, want EPERM", err)
	}
	sid, err := b.CreateSession()
	if err != nil || sid != bID || b.SessionIDOf(b.tg) != bID || b.ProcessGroupIDOf(b.tg) != bID {
		t.Fatalf("setsid = %d, %v; sid %d pgid %d", sid, err, b.SessionIDOf(b.tg), b.ProcessGroupIDOf(b.tg))
	}
	// Groups of another session cannot be joined.
	if err := a.SetProcessGroup(0, bID); err != linux.EPERM {
		t.Errorf("joining another session's group = %v, want EPERM", err)
	}
	// Only oneself and one's children can be moved.
	if err := a.SetProcessGroup(bID, 0); err != linux.ESRCH {
		t.Errorf("moving a non-child = %v, want ESRCH", err)
	}
	if err := a.SetProcessGroup(grandchild.tg.ID(), 0); err != nil {
		t.Errorf("moving a child: %v", err)
	}
	if err := a.SetProcessGroup(0, -1); err != linux.EINVAL {
		t.Errorf("negative pgid = %v, want EINVAL", err)
	}
	if err := a.SetProcessGroup(0, 9999); err != linux.EPERM {
		t.Errorf("unknown pgid = %v, want EPERM", err)
	}
	if got := a.ParentThreadGroupID(); got != init.tg.ID() {
		t.Errorf("getppid = %d, want %d", got, init.tg.ID())
	}
	if got := init.ParentThreadGroupID(); got != 0 {
		t.Errorf("getppid of the first process = %d, want 0", got)
	}
}

func TestSignalProcessGroupAndAll(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	a := newTestProcess(t, k, init)
	b := newTestProcess(t, k, init)
	c := newTestProcess(t, k, init)
	for _, p := range []*Task{a, b, c} {
		// Caught, so the signals stay pending where they land.
		if _, err := p.SetSignalAction(linux.SIGUSR1, &linux.SigAction{Handler: 0x1000}); err != nil {
			t.Fatal(err)
		}
	}
	a.SetProcessGroup(0, 0)
	b.SetProcessGroup(0, a.tg.ID())

	if err := c.SignalProcessGroup(a.tg.ID(), sig(linux.SIGUSR1)); err != nil {
		t.Fatal(err)
	}
	if !a.PendingSignals().Has(linux.SIGUSR1) || !b.PendingSignals().Has(linux.SIGUSR1) || c.PendingSignals() != 0 {
		t.Errorf("group signal reached a=%#x b=%#x c=%#x", a.PendingSignals(), b.PendingSignals(), c.PendingSignals())
	}
	if err := c.SignalProcessGroup(4242, sig(linux.SIGUSR1)); err != linux.ESRCH {
		t.Errorf("empty group = %v, want ESRCH", err)
	}
	if err := c.SignalProcessGroup(a.tg.ID(), sig(linux.Signal(99))); err != linux.EINVAL {
		t.Errorf("bad signal to a group = %v, want EINVAL", err)
	}

	// kill(-1): everyone but init and the sender.
	if err := a.SignalAllProcesses(&linux.SignalInfo{Signo: int32(linux.SIGUSR1), Code: linux.SI_USER}); err != nil {
		t.Fatal(err)
	}
	if !c.PendingSignals().Has(linux.SIGUSR1) || init.PendingSignals() != 0 {
		t.Errorf("kill(-1) reached c=%#x init=%#x", c.PendingSignals(), init.PendingSignals())
	}
	if err := a.SignalThread(b.tg.ID(), a.ThreadID(), sig(linux.SIGUSR1)); err != linux.ESRCH {
		t.Errorf("tgkill with the wrong tgid = %v, want ESRCH", err)
	}
	if err := a.SignalProcess(4242, sig(linux.Signal(99))); err != linux.ESRCH {
		t.Errorf("missing target must be ESRCH before EINVAL, got %v", err)
	}
}

func TestAttrsInheritAndParentDeath(t *testing.T) {
	k := NewKernel(nil, nil)
	init := newTestProcess(t, k, nil)
	parent := newTestProcess(t, k, init)
	parent.SetName("a-very-long-process-name")
	if got := parent.Name(); got != "a-very-long-pro" {
		t.Errorf("name = %q, want it cut to 15 bytes", got)
	}
	parent.SetNoNewPrivs()
	parent.tg.SetDumpable(linux.SUID_DUMP_DISABLE)
	parent.SetRobustList(0x1000)
	parent.SetParentDeathSignal(linux.SIGTERM)

	child := newTestProcess(t, k, parent)
	parent.InheritAttrs(child, 0)
	if child.Name() != parent.Name() || !child.NoNewPrivs() || child.tg.Dumpable() != linux.SUID_DUMP_DISABLE {
		t.Errorf("child got name %q nnp %v dumpable %d", child.Name(), child.NoNewPrivs(), child.tg.Dumpable())
	}
	if child.RobustList() != 0 || child.ParentDeathSignal() != 0 {
		t.Errorf("robust list and pdeathsig must not be inherited")
	}
	if err := child.SetParentDeathSignal(linux.Signal(99)); err != linux.EINVAL {
		t.Errorf("bad pdeathsig = %v", err)
	}
	child.SetParentDeathSignal(linux.SIGUSR1)
	if _, err := child.SetSignalAction(linux.SIGUSR1, &linux.SigAction{Handler: 0x1000}); err != nil {
		t.Fatal(err)
	}
	k.tasksMu.RLock()
	parent.signalParentDeathLocked()
	k.tasksMu.RUnlock()
	if !child.PendingSignals().Has(linux.SIGUSR1) {
		t.Errorf("parent-death signal not sent")
	}
}
