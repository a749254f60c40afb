package futex

import (
	"sync"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

const any32 = linux.FUTEX_BITSET_MATCH_ANY

func TestWaitWake(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	bl := newBlocker()
	done := async(func() error { return e.m.Wait(e.mm, bl, a, true, 0, any32, time.Time{}) })
	e.waitQueued(e.mm, a, true, 1)
	stillBlocked(t, done, "Wait")
	// A shared-key wake finds a waiter of a private mapping too (Linux
	// keys both by (mm, address)).
	if n, err := e.m.Wake(e.mm, a+4, true, any32, 1); n != 0 || err != nil {
		t.Errorf("wake of another word = %d, %v", n, err)
	}
	if n, err := e.m.Wake(e.mm, a, false, any32, 1); n != 1 || err != nil {
		t.Errorf("Wake = %d, %v; want 1", n, err)
	}
	if err := result(t, done); err != nil {
		t.Errorf("Wait = %v", err)
	}
	if n, _ := e.m.Wake(e.mm, a, true, any32, 1); n != 0 {
		t.Errorf("second wake found %d waiters", n)
	}
}

func TestWaitValueMismatchAndErrors(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	e.set(a, 3)
	bl := newBlocker()
	if err := e.m.Wait(e.mm, bl, a, true, 2, any32, time.Time{}); err != linux.EAGAIN {
		t.Errorf("Wait with a stale value = %v, want EAGAIN", err)
	}
	if err := e.m.Wait(e.mm, bl, a+1, true, 3, any32, time.Time{}); err != linux.EINVAL {
		t.Errorf("unaligned Wait = %v", err)
	}
	if err := e.m.Wait(e.mm, bl, 0x1000, true, 0, any32, time.Time{}); err != linux.EFAULT {
		t.Errorf("Wait on unmapped memory = %v", err)
	}
	if err := e.m.Wait(e.mm, bl, a, true, 3, 0, time.Time{}); err != linux.EINVAL {
		t.Errorf("Wait with bitset 0 = %v", err)
	}
	if _, err := e.m.Wake(e.mm, a, true, 0, 1); err != linux.EINVAL {
		t.Errorf("Wake with bitset 0 = %v", err)
	}
	// Linux: a private wake does not look at memory; a shared one does.
	if n, err := e.m.Wake(e.mm, 0x1000, true, any32, 1); n != 0 || err != nil {
		t.Errorf("private wake of unmapped memory = %d, %v", n, err)
	}
	if _, err := e.m.Wake(e.mm, 0x1000, false, any32, 1); err != linux.EFAULT {
		t.Errorf("shared wake of unmapped memory = %v", err)
	}
	// Waiting needs only read access.
	ro := e.mmap(linux.PageSize, linux.PROT_READ, linux.MAP_PRIVATE)
	if err := e.m.Wait(e.mm, bl, ro, true, 0, any32, time.Now()); err != errTestTimedOut {
		t.Errorf("Wait on read-only memory = %v, want a timeout", err)
	}
	if e.waitersOf(e.mm, a, true) != 0 || e.waitersOf(e.mm, ro, true) != 0 {
		t.Error("failed waits left waiters queued")
	}
}

// TestWakeCounts checks n, including Linux's "n <= 0 still wakes one".
func TestWakeCounts(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	bl := newBlocker()
	var dones []<-chan error
	for i := 0; i < 5; i++ {
		dones = append(dones, async(func() error { return e.m.Wait(e.mm, bl, a, true, 0, any32, time.Time{}) }))
		e.waitQueued(e.mm, a, true, i+1)
	}
	if n, _ := e.m.Wake(e.mm, a, true, any32, 0); n != 1 {
		t.Errorf("Wake(0) woke %d, want 1", n)
	}
	if n, _ := e.m.Wake(e.mm, a, true, any32, 2); n != 2 {
		t.Errorf("Wake(2) woke %d", n)
	}
	// FIFO: the first three waiters are the ones woken.
	for i, d := range dones[:3] {
		if err := result(t, d); err != nil {
			t.Errorf("waiter %d: %v", i, err)
		}
	}
	for _, d := range dones[3:] {
		stillBlocked(t, d, "a later waiter")
	}
	if n, _ := e.m.Wake(e.mm, a, true, any32, 1<<30); n != 2 {
		t.Errorf("Wake(all) woke %d, want 2", n)
	}
	for _, d := range dones[3:] {
		result(t, d)
	}
}

// TestNoLostWakeups plays ping-pong between pairs of goroutines on futex
// words: each side waits until the word says it is its turn, flips it and
// wakes the other. A single lost wake-up deadlocks a pair.
func TestNoLostWakeups(t *testing.T) {
	e := newEnv(t)
	base := e.page()
	const pairs, rounds = 4, 10000
	var waits [pairs][2]int
	var wg sync.WaitGroup
	for p := 0; p < pairs; p++ {
		addr := base + uintptr(p)*64
		for side := uint32(0); side < 2; side++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bl := newBlocker()
				for i := 0; i < rounds; i++ {
					for {
						v, err := e.mm.LoadUint32(addr)
						if err != nil {
							t.Error(err)
							return
						}
						if v == side {
							break
						}
						waits[p][side]++
						if err := e.m.Wait(e.mm, bl, addr, true, v, any32, time.Time{}); err != nil && err != linux.EAGAIN {
							t.Error(err)
							return
						}
					}
					e.mm.SwapUint32(addr, 1-side)
					if _, err := e.m.Wake(e.mm, addr, true, any32, 1); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(25 * time.Second):
		t.Fatal("ping-pong stalled: a wake-up was lost")
	}
	total := 0
	for p := range waits {
		total += waits[p][0] + waits[p][1]
	}
	t.Logf("%d pairs x %d rounds, %d waits", pairs, rounds, total)
	if total == 0 {
		t.Error("nobody ever waited: the test did not exercise sleeping")
	}
	if n := e.waitersOf(e.mm, base, true); n != 0 {
		t.Errorf("%d waiters left", n)
	}
}

func TestInterrupt(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	bl := newBlocker()
	done := async(func() error { return e.m.Wait(e.mm, bl, a, true, 0, any32, time.Time{}) })
	e.waitQueued(e.mm, a, true, 1)
	close(bl.intr)
	if err := result(t, done); err != errTestInterrupted {
		t.Errorf("interrupted Wait = %v, want the blocker's error", err)
	}
	if n := e.waitersOf(e.mm, a, true); n != 0 {
		t.Errorf("interrupted waiter still queued (%d)", n)
	}
	if n, _ := e.m.Wake(e.mm, a, true, any32, 1); n != 0 {
		t.Errorf("wake after interrupt counted %d", n)
	}
}

func TestBitset(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	bl := newBlocker()
	w1 := async(func() error { return e.m.Wait(e.mm, bl, a, true, 0, 0x1, time.Time{}) })
	e.waitQueued(e.mm, a, true, 1)
	w2 := async(func() error { return e.m.Wait(e.mm, bl, a, true, 0, 0x6, time.Time{}) })
	e.waitQueued(e.mm, a, true, 2)
	if n, _ := e.m.Wake(e.mm, a, true, 0x8, 10); n != 0 {
		t.Errorf("wake with a disjoint bitset woke %d", n)
	}
	if n, _ := e.m.Wake(e.mm, a, true, 0x4, 10); n != 1 {
		t.Errorf("wake with bitset 4 woke %d, want 1", n)
	}
	if err := result(t, w2); err != nil {
		t.Error(err)
	}
	stillBlocked(t, w1, "the bitset-1 waiter")
	if n, _ := e.m.Wake(e.mm, a, true, any32, 10); n != 1 {
		t.Errorf("FUTEX_WAKE woke %d", n)
	}
	result(t, w1)
}

func TestRequeue(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	b := a + 64
	e.set(a, 7)
	bl := newBlocker()
	var dones []<-chan error
	for i := 0; i < 5; i++ {
		dones = append(dones, async(func() error { return e.m.Wait(e.mm, bl, a, true, 7, any32, time.Time{}) }))
		e.waitQueued(e.mm, a, true, i+1)
	}
	if _, err := e.m.Requeue(e.mm, a, b, true, 1, 1, true, 8); err != linux.EAGAIN {
		t.Errorf("CMP_REQUEUE with a stale value = %v, want EAGAIN", err)
	}
	if _, err := e.m.Requeue(e.mm, a, b, true, -1, 1, false, 0); err != linux.EINVAL {
		t.Errorf("negative count = %v", err)
	}
	if e.waitersOf(e.mm, a, true) != 5 {
		t.Fatal("a failed requeue moved or woke waiters")
	}
	n, err := e.m.Requeue(e.mm, a, b, true, 1, 2, true, 7)
	if n != 3 || err != nil {
		t.Errorf("CMP_REQUEUE = %d, %v; want 3", n, err)
	}
	if err := result(t, dones[0]); err != nil {
		t.Error(err)
	}
	if na, nb := e.waitersOf(e.mm, a, true), e.waitersOf(e.mm, b, true); na != 2 || nb != 2 {
		t.Errorf("after requeue: %d on a, %d on b; want 2, 2", na, nb)
	}
	// Waking the old word no longer reaches the moved waiters.
	if n, _ := e.m.Wake(e.mm, a, true, any32, 1); n != 1 {
		t.Errorf("wake a = %d", n)
	}
	result(t, dones[3])
	stillBlocked(t, dones[1], "a requeued waiter")
	// A moved waiter that is interrupted leaves the new queue.
	close(bl.intr)
	for _, d := range []<-chan error{dones[1], dones[2], dones[4]} {
		if err := result(t, d); err != errTestInterrupted {
			t.Errorf("interrupted waiter: %v", err)
		}
	}
	if na, nb := e.waitersOf(e.mm, a, true), e.waitersOf(e.mm, b, true); na != 0 || nb != 0 {
		t.Errorf("after interrupts: %d on a, %d on b", na, nb)
	}
	// Plain REQUEUE onto the same word does not loop.
	bl2 := newBlocker()
	d := async(func() error { return e.m.Wait(e.mm, bl2, a, true, 7, any32, time.Time{}) })
	e.waitQueued(e.mm, a, true, 1)
	if n, err := e.m.Requeue(e.mm, a, a, true, 0, 10, false, 0); n != 1 || err != nil {
		t.Errorf("requeue onto itself = %d, %v", n, err)
	}
	e.m.Wake(e.mm, a, true, any32, 1)
	result(t, d)
}

func TestWakeOp(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	b := a + 8
	bl := newBlocker()
	enc := func(op, cmp uint32, oparg, cmparg int32) uint32 {
		return op<<28 | cmp<<24 | uint32(oparg&0xfff)<<12 | uint32(cmparg&0xfff)
	}
	wait := func(addr uintptr, n int) <-chan error {
		d := async(func() error { return e.m.Wait(e.mm, bl, addr, true, e.get(addr), any32, time.Time{}) })
		e.waitQueued(e.mm, addr, true, n)
		return d
	}

	e.set(b, 5)
	wa, wb := wait(a, 1), wait(b, 1)
	// b += 1; wake b too if old b > 4: yes.
	n, err := e.m.WakeOp(e.mm, a, b, true, 1, 1, enc(linux.FUTEX_OP_ADD, linux.FUTEX_OP_CMP_GT, 1, 4))
	if n != 2 || err != nil || e.get(b) != 6 {
		t.Errorf("WakeOp = %d, %v, b = %d; want 2, nil, 6", n, err, e.get(b))
	}
	result(t, wa)
	result(t, wb)

	wa, wb = wait(a, 1), wait(b, 1)
	// b |= 1<<4; wake b if old b == -1 (sign-extended cmparg): no.
	n, err = e.m.WakeOp(e.mm, a, b, true, 1, 1, enc(linux.FUTEX_OP_OR|linux.FUTEX_OP_OPARG_SHIFT, linux.FUTEX_OP_CMP_EQ, 4, -1))
	if n != 1 || err != nil || e.get(b) != 6|16 {
		t.Errorf("WakeOp = %d, %v, b = %#x; want 1, nil, 0x16", n, err, e.get(b))
	}
	result(t, wa)
	stillBlocked(t, wb, "the uaddr2 waiter")
	e.set(b, 0xfffff000) // negative, to check the comparison is signed
	n, _ = e.m.WakeOp(e.mm, a, b, true, 1, 1, enc(linux.FUTEX_OP_SET, linux.FUTEX_OP_CMP_LT, 1, 0))
	if n != 1 || e.get(b) != 1 {
		t.Errorf("signed LT: woke %d, b = %d", n, e.get(b))
	}
	result(t, wb)

	// An unknown comparison is ENOSYS after the operation was applied;
	// an unknown operation is ENOSYS before.
	if _, err := e.m.WakeOp(e.mm, a, b, true, 1, 1, enc(linux.FUTEX_OP_SET, 6, 9, 0)); err != linux.ENOSYS || e.get(b) != 9 {
		t.Errorf("unknown cmp: %v, b = %d", err, e.get(b))
	}
	if _, err := e.m.WakeOp(e.mm, a, b, true, 1, 1, enc(7, 0, 3, 0)); err != linux.ENOSYS || e.get(b) != 9 {
		t.Errorf("unknown op: %v, b = %d", err, e.get(b))
	}
	ro := e.mmap(linux.PageSize, linux.PROT_READ, linux.MAP_PRIVATE)
	if _, err := e.m.WakeOp(e.mm, a, ro, true, 1, 1, 0); err != linux.EFAULT {
		t.Errorf("WakeOp on read-only uaddr2: %v", err)
	}
}

// TestSharedAcrossFork checks that futexes in MAP_SHARED memory are shared
// between a process and its fork, and private futexes and private mappings
// are not.
func TestSharedAcrossFork(t *testing.T) {
	e := newEnv(t)
	shared := e.mmap(linux.PageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED)
	private := e.page()
	child := e.fork()
	bl := newBlocker()

	// Child waits on shared memory; the parent's shared wake reaches it,
	// a private one does not.
	d := async(func() error { return e.m.Wait(child, bl, shared, false, 0, any32, time.Time{}) })
	e.waitQueued(child, shared, false, 1)
	if n, _ := e.m.Wake(e.mm, shared, true, any32, 1); n != 0 {
		t.Errorf("parent's private wake reached the child's shared waiter")
	}
	if n, _ := e.m.Wake(e.mm, shared, false, any32, 1); n != 1 {
		t.Errorf("parent's shared wake woke %d, want 1", n)
	}
	if err := result(t, d); err != nil {
		t.Error(err)
	}

	// The word itself is shared: the parent's change makes the child's
	// wait fail the value check.
	e.set(shared, 1)
	if err := e.m.Wait(child, bl, shared, false, 0, any32, time.Time{}); err != linux.EAGAIN {
		t.Errorf("child wait after parent's store = %v", err)
	}

	// Private mapping: separate futexes in parent and child.
	d = async(func() error { return e.m.Wait(child, bl, private, false, 0, any32, time.Time{}) })
	e.waitQueued(child, private, false, 1)
	if n, _ := e.m.Wake(e.mm, private, false, any32, 1); n != 0 {
		t.Errorf("parent's wake of its private page reached the child")
	}
	if n, _ := e.m.Wake(child, private, false, any32, 1); n != 1 {
		t.Errorf("child's own wake woke %d", n)
	}
	result(t, d)
}
