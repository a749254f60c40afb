package futex

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func TestPIOwnership(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	const t1, t2, t3 = 101, 102, 103

	if err := e.m.TryLockPI(e.mm, a, true, t1, nil); err != nil || e.get(a) != t1 {
		t.Fatalf("TryLockPI on a free lock: %v, word %d", err, e.get(a))
	}
	if err := e.m.TryLockPI(e.mm, a, true, t1, nil); err != linux.EDEADLK {
		t.Errorf("TryLockPI of an owned lock by its owner: %v", err)
	}
	if err := e.m.LockPI(e.mm, newBlocker(), a, true, t1, nil, time.Time{}); err != linux.EDEADLK {
		t.Errorf("LockPI by the owner: %v", err)
	}
	if err := e.m.TryLockPI(e.mm, a, true, t2, nil); err != linux.EAGAIN {
		t.Errorf("TryLockPI of a held lock: %v", err)
	}
	if err := e.m.UnlockPI(e.mm, a, true, t2); err != linux.EPERM {
		t.Errorf("UnlockPI by a non-owner: %v", err)
	}
	dead := func(tid int32) bool { return tid != t1 }
	if err := e.m.TryLockPI(e.mm, a, true, t2, dead); err != linux.ESRCH {
		t.Errorf("lock held by a thread that does not exist: %v", err)
	}

	// t2 and t3 queue up; the word says there are waiters.
	l2 := async(func() error { return e.m.LockPI(e.mm, newBlocker(), a, true, t2, nil, time.Time{}) })
	e.waitQueued(e.mm, a, true, 1)
	l3 := async(func() error { return e.m.LockPI(e.mm, newBlocker(), a, true, t3, nil, time.Time{}) })
	e.waitQueued(e.mm, a, true, 2)
	if w := e.get(a); w != t1|linux.FUTEX_WAITERS {
		t.Errorf("word with waiters = %#x", w)
	}
	// A non-PI wake on a PI futex with waiters is EINVAL, as in Linux.
	if _, err := e.m.Wake(e.mm, a, true, any32, 1); err != linux.EINVAL {
		t.Errorf("FUTEX_WAKE on PI waiters: %v", err)
	}

	// Unlock hands the lock to the oldest waiter.
	if err := e.m.UnlockPI(e.mm, a, true, t1); err != nil {
		t.Fatal(err)
	}
	if err := result(t, l2); err != nil {
		t.Errorf("t2's LockPI: %v", err)
	}
	if w := e.get(a); w != t2|linux.FUTEX_WAITERS {
		t.Errorf("word after hand-off = %#x, want t2|WAITERS", w)
	}
	stillBlocked(t, l3, "t3's LockPI")
	if err := e.m.UnlockPI(e.mm, a, true, t1); err != linux.EPERM {
		t.Errorf("old owner unlocking again: %v", err)
	}
	if err := e.m.UnlockPI(e.mm, a, true, t2); err != nil {
		t.Fatal(err)
	}
	if err := result(t, l3); err != nil || e.get(a) != t3|linux.FUTEX_WAITERS {
		t.Errorf("t3: %v, word %#x", err, e.get(a))
	}
	// No waiters left: unlock frees the word entirely.
	if err := e.m.UnlockPI(e.mm, a, true, t3); err != nil || e.get(a) != 0 {
		t.Errorf("last unlock: %v, word %#x", err, e.get(a))
	}

	// A lock whose owner died is taken with OWNER_DIED kept.
	e.set(a, linux.FUTEX_OWNER_DIED)
	if err := e.m.TryLockPI(e.mm, a, true, t2, nil); err != nil || e.get(a) != t2|linux.FUTEX_OWNER_DIED {
		t.Errorf("taking a dead owner's lock: %v, word %#x", err, e.get(a))
	}
	// Unlocking clears it.
	if err := e.m.UnlockPI(e.mm, a, true, t2); err != nil || e.get(a) != 0 {
		t.Errorf("unlock: %v, word %#x", err, e.get(a))
	}
}

func TestPITimeoutAndInterrupt(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	e.set(a, 5)
	if err := e.m.LockPI(e.mm, newBlocker(), a, true, 6, nil, time.Now().Add(10*time.Millisecond)); err != errTestTimedOut {
		t.Errorf("LockPI timeout: %v", err)
	}
	bl := newBlocker()
	l := async(func() error { return e.m.LockPI(e.mm, bl, a, true, 6, nil, time.Time{}) })
	e.waitQueued(e.mm, a, true, 1)
	close(bl.intr)
	if err := result(t, l); err != errTestInterrupted {
		t.Errorf("interrupted LockPI: %v", err)
	}
	// The owner's unlock finds nobody to hand the lock to.
	if err := e.m.UnlockPI(e.mm, a, true, 5); err != nil || e.get(a) != 0 {
		t.Errorf("unlock: %v, word %#x", err, e.get(a))
	}
}

// TestPIMutualExclusion runs a PI mutex the way glibc does (user-space
// fast path, kernel when contended) and checks that critical sections
// never overlap and no update of the counter they guard is lost. The
// counter is read and written with separate atomics: the race detector
// cannot see the ordering the lock word gives (its atomics are on memory
// outside the Go heap, which the detector ignores), and a lost update is
// what a broken lock shows anyway.
func TestPIMutualExclusion(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	const workers, iters = 4, 2000
	var counter, inside atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		tid := int32(200 + i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			bl := newBlocker()
			for j := 0; j < iters; j++ {
				if p, _ := e.mm.CompareAndSwapUint32(a, 0, uint32(tid)); p != 0 {
					if err := e.m.LockPI(e.mm, bl, a, true, tid, nil, time.Time{}); err != nil {
						t.Error(err)
						return
					}
				}
				if inside.Add(1) != 1 {
					t.Error("two threads inside the critical section")
				}
				v := counter.Load()
				if j%16 == 0 {
					runtime.Gosched()
				}
				counter.Store(v + 1)
				inside.Add(-1)
				if p, _ := e.mm.CompareAndSwapUint32(a, uint32(tid), 0); p != uint32(tid) {
					if err := e.m.UnlockPI(e.mm, a, true, tid); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if c := counter.Load(); c != workers*iters {
		t.Errorf("counter = %d, want %d", c, workers*iters)
	}
	if e.get(a) != 0 {
		t.Errorf("word = %#x at the end", e.get(a))
	}
}
