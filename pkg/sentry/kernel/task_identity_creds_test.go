package kernel

import (
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

const noID = linux.NoID

func rootCreds() *auth.Credentials { return auth.NewRootCredentials(auth.NewRootUserNamespace()) }

// mustCreds unwraps a credential change that must succeed; a failure
// panics, which fails the test with the stack.
func mustCreds(c *auth.Credentials, err error) *auth.Credentials {
	if err != nil {
		panic(err)
	}
	return c
}

func TestSetRESUIDCapabilityTransitions(t *testing.T) {
	c := rootCreds()
	// Effective UID leaves 0: effective set cleared, permitted kept.
	c = mustCreds(SetRESUIDCreds(c, UIDChange{noID, 1000, noID}))
	if c.EffectiveCaps != 0 || c.PermittedCaps != auth.AllCapabilities {
		t.Fatalf("euid 1000: eff %x prm %x", c.EffectiveCaps, c.PermittedCaps)
	}
	// And back: effective restored from permitted.
	c = mustCreds(SetRESUIDCreds(c, UIDChange{noID, 0, noID}))
	if c.EffectiveCaps != c.PermittedCaps {
		t.Fatalf("euid 0 again: eff %x", c.EffectiveCaps)
	}
	// All non-zero: both cleared.
	c = mustCreds(SetRESUIDCreds(c, UIDChange{1, 2, 3}))
	if c.EffectiveCaps != 0 || c.PermittedCaps != 0 || c.FSKUID != 2 {
		t.Fatalf("all non-zero: %+v", c)
	}
	// Unprivileged: permutations only.
	if _, err := SetRESUIDCreds(c, UIDChange{noID, 0, noID}); err != linux.EPERM {
		t.Fatalf("raise to 0: %v", err)
	}
	c = mustCreds(SetRESUIDCreds(c, UIDChange{3, 1, 2}))
	if c.RealKUID != 3 || c.EffectiveKUID != 1 || c.SavedKUID != 2 {
		t.Fatalf("permutation: %+v", c)
	}
}

func TestKeepCapsSurvivesSetuid(t *testing.T) {
	c := rootCreds()
	c.KeepCaps = true
	c = mustCreds(SetRESUIDCreds(c, UIDChange{5, 5, 5}))
	if c.PermittedCaps != auth.AllCapabilities || c.EffectiveCaps != 0 {
		t.Fatalf("keepcaps: eff %x prm %x", c.EffectiveCaps, c.PermittedCaps)
	}
}

func TestSetREUIDSavedFollows(t *testing.T) {
	c := mustCreds(SetRESUIDCreds(rootCreds(), UIDChange{100, 200, 300}))
	c = mustCreds(SetREUIDCreds(c, 200, 100))
	if c.RealKUID != 200 || c.EffectiveKUID != 100 || c.SavedKUID != 100 {
		t.Fatalf("setreuid(200,100): %d %d %d", c.RealKUID, c.EffectiveKUID, c.SavedKUID)
	}
	// The effective UID moving to the real one leaves the saved UID.
	c = mustCreds(SetREUIDCreds(c, noID, 200))
	if c.EffectiveKUID != 200 || c.SavedKUID != 100 {
		t.Fatalf("setreuid(-1, ruid): %d %d", c.EffectiveKUID, c.SavedKUID)
	}
	if _, err := SetREUIDCreds(c, noID, 999); err != linux.EPERM {
		t.Fatalf("got %v", err)
	}
}

func TestSetUIDUnprivileged(t *testing.T) {
	c := mustCreds(SetRESUIDCreds(rootCreds(), UIDChange{10, 20, 30}))
	n := mustCreds(SetUIDCreds(c, 30))
	if n.RealKUID != 10 || n.EffectiveKUID != 30 || n.SavedKUID != 30 {
		t.Fatalf("setuid(saved): %+v", n)
	}
	if _, err := SetUIDCreds(c, 20); err != linux.EPERM {
		t.Fatalf("setuid(effective) without CAP_SETUID: %v", err)
	}
	if _, err := SetUIDCreds(c, noID); err != linux.EINVAL {
		t.Fatalf("setuid(-1): %v", err)
	}
}

func TestSetFSUIDCaps(t *testing.T) {
	c := rootCreds()
	n, old := SetFSUIDCreds(c, 7)
	if old != 0 || n == nil || n.EffectiveCaps.Has(linux.CAP_DAC_OVERRIDE) || !n.EffectiveCaps.Has(linux.CAP_SETUID) {
		t.Fatalf("fsuid 7: old %d creds %+v", old, n)
	}
	n2, old := SetFSUIDCreds(n, 0)
	if old != 7 || !n2.EffectiveCaps.Has(linux.CAP_DAC_OVERRIDE) {
		t.Fatalf("fsuid back to 0: old %d", old)
	}
	u := mustCreds(SetRESUIDCreds(c, UIDChange{1, 1, 1}))
	if n, old := SetFSUIDCreds(u, 99); n != nil || old != 1 {
		t.Fatalf("unprivileged fsuid change allowed: %v %d", n, old)
	}
}

func TestSetCapsRules(t *testing.T) {
	c := rootCreds()
	sys := auth.CapabilitySetOf(linux.CAP_SYS_ADMIN)
	n := mustCreds(SetCapsCreds(c, CapSets{Effective: auth.AllCapabilities &^ sys, Permitted: auth.AllCapabilities &^ sys}))
	if _, err := SetCapsCreds(n, CapSets{Effective: 0, Permitted: auth.AllCapabilities}); err != linux.EPERM {
		t.Fatalf("permitted grew: %v", err)
	}
	if _, err := SetCapsCreds(n, CapSets{Effective: sys, Permitted: 0}); err != linux.EPERM {
		t.Fatalf("effective beyond permitted: %v", err)
	}
	u := mustCreds(SetRESUIDCreds(c, UIDChange{1, 1, 1}))
	if _, err := SetCapsCreds(u, CapSets{Inheritable: sys}); err != linux.EPERM {
		t.Fatalf("inheritable beyond permitted without CAP_SETPCAP: %v", err)
	}
}

func TestSetGroupsSortedAndChecked(t *testing.T) {
	n := mustCreds(SetGroupsCreds(rootCreds(), []uint32{3, 1, 2}))
	if len(n.ExtraKGIDs) != 3 || n.ExtraKGIDs[0] != 1 || n.ExtraKGIDs[2] != 3 {
		t.Fatalf("groups %v", n.ExtraKGIDs)
	}
	if _, err := SetGroupsCreds(rootCreds(), make([]uint32, linux.NGROUPS_MAX+1)); err != linux.EINVAL {
		t.Fatalf("too many: %v", err)
	}
	u := mustCreds(SetRESUIDCreds(rootCreds(), UIDChange{1, 1, 1}))
	if _, err := SetGroupsCreds(u, nil); err != linux.EPERM {
		t.Fatalf("unprivileged: %v", err)
	}
}

func TestCPUClockIDDecoding(t *testing.T) {
	// MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED) and the thread variant.
	mk := func(pid int32, kind int32, thread bool) int32 {
		c := (^pid)<<3 | kind
		if thread {
			c |= linux.CPUCLOCK_PERTHREAD_MASK
		}
		return c
	}
	for _, tc := range []struct {
		pid    int32
		kind   int32
		thread bool
	}{{0, linux.CPUCLOCK_SCHED, false}, {1234, linux.CPUCLOCK_VIRT, true}, {7, linux.CPUCLOCK_PROF, false}} {
		c := mk(tc.pid, tc.kind, tc.thread)
		if cpuClockPID(c) != ThreadID(tc.pid) || cpuClockKind(c) != tc.kind || cpuClockPerThread(c) != tc.thread {
			t.Errorf("clock %#x: pid %d kind %d thread %v", c, cpuClockPID(c), cpuClockKind(c), cpuClockPerThread(c))
		}
	}
}

func TestDefaultRLimits(t *testing.T) {
	l := defaultRLimits()
	if l[linux.RLIMIT_STACK].Cur != 8<<20 || l[linux.RLIMIT_STACK].Max != linux.RLimInfinity {
		t.Errorf("stack %+v", l[linux.RLIMIT_STACK])
	}
	if l[linux.RLIMIT_NOFILE].Cur != 1024 || l[linux.RLIMIT_NOFILE].Max != NROpen {
		t.Errorf("nofile %+v", l[linux.RLIMIT_NOFILE])
	}
	for i, r := range l {
		if r.Cur > r.Max {
			t.Errorf("limit %d: soft %d above hard %d", i, r.Cur, r.Max)
		}
	}
}

func TestHostCPUMask(t *testing.T) {
	if NumCPUs() < 1 || hostCPUMaskSize%8 != 0 || hostCPUMaskSize*8 < hostNrCPUIDs {
		t.Fatalf("mask size %d, nr %d, cpus %d", hostCPUMaskSize, hostNrCPUIDs, NumCPUs())
	}
	cpu, _ := HostCPU()
	if int(cpu) >= hostCPUMaskSize*8 || hostCPUMask[cpu/8]&(1<<(cpu%8)) == 0 {
		t.Errorf("running on CPU %d outside the mask", cpu)
	}
}
