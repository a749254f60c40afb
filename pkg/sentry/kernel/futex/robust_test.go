package futex

import (
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// robustList lays out a robust list in user memory: the head at h, and
// lock entries whose futex word is 8 bytes after the entry (glibc puts the
// list node inside pthread_mutex_t the same way).
type robustList struct {
	e *env
	h uintptr
}

const futexOffset = 8

func (e *env) robustList(h uintptr, pending uint64, entries ...uint64) robustList {
	e.t.Helper()
	// head.list.next -> entries[0] -> ... -> head
	next := uint64(h)
	for i := len(entries) - 1; i >= 0; i-- {
		e.put64(uintptr(entries[i]&^1), next)
		next = entries[i]
	}
	e.put64(h, next)
	e.put64(h+8, futexOffset)
	e.put64(h+16, pending)
	return robustList{e, h}
}

func TestRobustList(t *testing.T) {
	e := newEnv(t)
	base := e.page()
	const tid, other = 300, 301
	h := base
	e1, e2, e3, e4, e5 := base+64, base+128, base+192, base+256, base+320
	word := func(entry uintptr) uintptr { return entry + futexOffset }

	e.set(word(e1), tid|linux.FUTEX_WAITERS) // held, contended
	e.set(word(e2), other)                   // someone else's
	e.set(word(e3), tid)                     // held, no waiters
	e.set(word(e4), tid|linux.FUTEX_WAITERS) // PI, contended
	e.set(word(e5), tid)                     // list_op_pending
	e.robustList(h, uint64(e5), uint64(e1), uint64(e2), uint64(e3), uint64(e4)|1)

	w1 := async(func() error {
		return e.m.Wait(e.mm, newBlocker(), word(e1), true, tid|linux.FUTEX_WAITERS, any32, time.Time{})
	})
	e.waitQueued(e.mm, word(e1), true, 1)
	w4 := async(func() error {
		return e.m.LockPI(e.mm, newBlocker(), word(e4), true, 400, nil, time.Time{})
	})
	e.waitQueued(e.mm, word(e4), true, 1)

	e.m.ExitRobustList(e.mm, h, tid)

	if w := e.get(word(e1)); w != linux.FUTEX_WAITERS|linux.FUTEX_OWNER_DIED {
		t.Errorf("contended lock word = %#x", w)
	}
	if err := result(t, w1); err != nil {
		t.Errorf("waiter on a dead owner's lock: %v", err)
	}
	if w := e.get(word(e2)); w != other {
		t.Errorf("another thread's lock changed: %#x", w)
	}
	if w := e.get(word(e3)); w != linux.FUTEX_OWNER_DIED {
		t.Errorf("uncontended lock word = %#x", w)
	}
	if w := e.get(word(e5)); w != linux.FUTEX_OWNER_DIED {
		t.Errorf("pending lock word = %#x", w)
	}
	// The PI waiter takes the lock, seeing that its owner died.
	if err := result(t, w4); err != nil {
		t.Errorf("PI waiter: %v", err)
	}
	if w := e.get(word(e4)); w != 400|linux.FUTEX_OWNER_DIED {
		t.Errorf("PI lock word = %#x, want 400|OWNER_DIED", w)
	}
}

// TestRobustPendingReleased covers a thread that died after releasing a
// lock (word 0) and before waking its waiter: the pending op wakes one.
func TestRobustPendingReleased(t *testing.T) {
	e := newEnv(t)
	base := e.page()
	p := base + 64
	e.robustList(base, uint64(p))
	e.set(p+futexOffset, 0)
	w := async(func() error { return e.m.Wait(e.mm, newBlocker(), p+futexOffset, true, 0, any32, time.Time{}) })
	e.waitQueued(e.mm, p+futexOffset, true, 1)
	e.m.ExitRobustList(e.mm, base, 5)
	if err := result(t, w); err != nil {
		t.Error(err)
	}
}

func TestRobustListCyclicAndBroken(t *testing.T) {
	e := newEnv(t)
	base := e.page()
	const tid = 77
	a, b := base+64, base+128
	e.set(a+futexOffset, tid)
	e.set(b+futexOffset, tid)
	// head -> a -> b -> a -> ...: never returns to the head.
	e.put64(base, uint64(a))
	e.put64(base+8, futexOffset)
	e.put64(base+16, 0)
	e.put64(a, uint64(b))
	e.put64(b, uint64(a))
	done := make(chan struct{})
	go func() { e.m.ExitRobustList(e.mm, base, tid); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("walking a cyclic robust list did not terminate")
	}
	if e.get(a+futexOffset) != linux.FUTEX_OWNER_DIED || e.get(b+futexOffset) != linux.FUTEX_OWNER_DIED {
		t.Errorf("words on the cycle: %#x %#x", e.get(a+futexOffset), e.get(b+futexOffset))
	}

	// A list running into unmapped memory stops there; entries before it
	// are handled.
	c := base + 192
	e.set(c+futexOffset, tid)
	e.robustList(base, 0, uint64(c))
	e.put64(c, 0x1000)
	e.m.ExitRobustList(e.mm, base, tid)
	if e.get(c+futexOffset) != linux.FUTEX_OWNER_DIED {
		t.Errorf("entry before the broken link: %#x", e.get(c+futexOffset))
	}
	// A bad head does nothing (and does not crash).
	e.m.ExitRobustList(e.mm, 0x1000, tid)
	e.m.ExitRobustList(e.mm, 0, tid)
}

func TestClearChildTID(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	e.set(a, 1234)
	// pthread_join waits on the TID word with a private futex; a private
	// mapping's shared key is the same futex.
	w := async(func() error { return e.m.Wait(e.mm, newBlocker(), a, true, 1234, any32, time.Time{}) })
	e.waitQueued(e.mm, a, true, 1)
	e.m.ClearChildTID(e.mm, a)
	if err := result(t, w); err != nil {
		t.Error(err)
	}
	if e.get(a) != 0 {
		t.Errorf("tid word = %d after exit", e.get(a))
	}
	// Bad addresses are ignored.
	e.m.ClearChildTID(e.mm, 0x1000)
	e.m.ClearChildTID(e.mm, a+2)
}
