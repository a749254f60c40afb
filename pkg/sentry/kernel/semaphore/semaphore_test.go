package semaphore

import (
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

func newSet(t *testing.T, n int32) (*Registry, *Set) {
	t.Helper()
	r := NewRegistry()
	creds := auth.NewRootCredentials(auth.NewRootUserNamespace())
	id, err := r.Get(creds, linux.IPC_PRIVATE, n, 0600)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := r.ids.Lookup(id)
	return r, s
}

func TestTryAllOrNothing(t *testing.T) {
	_, s := newSet(t, 2)
	s.sems[0].val = 1
	ops := []linux.Sembuf{{Num: 0, Op: -1}, {Num: 1, Op: -1}}
	if i, err := s.tryLocked(ops, nil, 1); err != nil || i != 1 {
		t.Fatalf("tryLocked = %d, %v; want the second op to block", i, err)
	}
	if s.sems[0].val != 1 {
		t.Fatalf("a blocked array changed a value: %d", s.sems[0].val)
	}
	// In order: +1 then -2 on the same semaphore succeeds from 1.
	ops = []linux.Sembuf{{Num: 0, Op: 1}, {Num: 0, Op: -2}}
	if i, err := s.tryLocked(ops, nil, 1); err != nil || i != -1 {
		t.Fatalf("tryLocked = %d, %v", i, err)
	}
	if s.sems[0].val != 0 {
		t.Fatalf("value %d, want 0", s.sems[0].val)
	}
	ops = []linux.Sembuf{{Num: 0, Op: linux.SEMVMX}, {Num: 0, Op: 1}}
	if _, err := s.tryLocked(ops, nil, 1); err != linux.ERANGE {
		t.Fatalf("overflow: %v, want ERANGE", err)
	}
}

func TestUndoExit(t *testing.T) {
	r, s := newSet(t, 1)
	ul := NewUndoList()
	ops := []linux.Sembuf{{Num: 0, Op: 3, Flg: linux.SEM_UNDO}}
	r.mu.Lock()
	if _, err := s.tryLocked(ops, ul, 1); err != nil {
		t.Fatal(err)
	}
	r.mu.Unlock()
	if s.sems[0].val != 3 || s.undos[ul][0] != -3 {
		t.Fatalf("val %d adj %d", s.sems[0].val, s.undos[ul][0])
	}
	s.sems[0].val = 1 // someone else took two
	ul.Exit(42)
	if s.sems[0].val != 0 || s.sems[0].pid != 42 {
		t.Fatalf("after exit: val %d pid %d; want 0 (clamped), 42", s.sems[0].val, s.sems[0].pid)
	}
}
