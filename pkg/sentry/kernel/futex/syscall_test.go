package futex

import (
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// fakeClock is a Clock set far from the host's, to show absolute timeouts
// are measured on it.
type fakeClock struct{ mono, real int64 }

func (c fakeClock) Now(realtime bool) int64 {
	if realtime {
		return c.real
	}
	return c.mono
}

func (e *env) caller(tid int32) *Caller {
	return &Caller{Mem: e.mm, Blocker: newBlocker(), TID: tid}
}

func TestSyscallTimeouts(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	ts := a + 64
	const d = 30 * time.Millisecond

	check := func(name string, c *Caller, op int, wantMin time.Duration) {
		t.Helper()
		start := time.Now()
		_, err := e.m.Syscall(c, a, op, 0, ts, 0, any32)
		took := time.Since(start)
		if err != errTestTimedOut {
			t.Errorf("%s: %v, want the blocker's timeout", name, err)
		}
		if took < wantMin {
			t.Errorf("%s: timed out after %v, want at least %v", name, took, wantMin)
		}
		if took > 5*time.Second {
			t.Errorf("%s: took %v", name, took)
		}
	}

	// FUTEX_WAIT: relative.
	e.putTimespec(ts, d)
	check("FUTEX_WAIT relative", e.caller(1), linux.FUTEX_WAIT_PRIVATE, d)

	// FUTEX_WAIT_BITSET: absolute on CLOCK_MONOTONIC, or CLOCK_REALTIME
	// with the flag. The fake clocks are an hour apart and far from the
	// host's, so using the wrong one either never times out or times
	// out at once.
	c := e.caller(1)
	c.Clock = fakeClock{mono: int64(time.Hour), real: int64(1000 * time.Hour)}
	e.putTimespec(ts, time.Hour+d)
	check("WAIT_BITSET monotonic", c, linux.FUTEX_WAIT_BITSET_PRIVATE, d)
	e.putTimespec(ts, 1000*time.Hour+d)
	check("WAIT_BITSET realtime", c, linux.FUTEX_WAIT_BITSET_PRIVATE|linux.FUTEX_CLOCK_REALTIME, d)
	// A deadline in the past times out at once (after the value check).
	e.putTimespec(ts, time.Hour-time.Second)
	check("WAIT_BITSET past", c, linux.FUTEX_WAIT_BITSET_PRIVATE, 0)
	e.set(a, 1)
	if _, err := e.m.Syscall(c, a, linux.FUTEX_WAIT_BITSET_PRIVATE, 0, ts, 0, any32); err != linux.EAGAIN {
		t.Errorf("past deadline with a stale value: %v, want EAGAIN", err)
	}
	e.set(a, 0)

	// The real host clocks. The deadline runs from when the clock was
	// read, which on a slow machine (qemu-user) is well before the call.
	read := time.Now()
	now := HostClock{}.Now(false)
	e.putTimespec(ts, time.Duration(now)+d)
	check("WAIT_BITSET host monotonic", e.caller(1), linux.FUTEX_WAIT_BITSET_PRIVATE, d-time.Since(read)-5*time.Millisecond)

	// Bad timespecs.
	e.putTimespec(ts, 0)
	e.put64(ts+8, 1e9)
	if _, err := e.m.Syscall(e.caller(1), a, linux.FUTEX_WAIT, 0, ts, 0, 0); err != linux.EINVAL {
		t.Errorf("tv_nsec = 1e9: %v", err)
	}
	e.put64(ts, ^uint64(0))
	e.put64(ts+8, 0)
	if _, err := e.m.Syscall(e.caller(1), a, linux.FUTEX_WAIT, 0, ts, 0, 0); err != linux.EINVAL {
		t.Errorf("negative tv_sec: %v", err)
	}
	if _, err := e.m.Syscall(e.caller(1), a, linux.FUTEX_WAIT, 0, 0x1000, 0, 0); err != linux.EFAULT {
		t.Errorf("unreadable timespec: %v", err)
	}
	// A timeout too far to represent waits forever; the value check
	// still happens.
	e.put64(ts, 1<<62)
	e.set(a, 1)
	if _, err := e.m.Syscall(e.caller(1), a, linux.FUTEX_WAIT, 0, ts, 0, 0); err != linux.EAGAIN {
		t.Errorf("huge timeout with a stale value: %v", err)
	}
}

func TestSyscallDispatch(t *testing.T) {
	e := newEnv(t)
	a := e.page()
	c := e.caller(100)
	for _, op := range []int{
		linux.FUTEX_FD,
		linux.FUTEX_WAKE | linux.FUTEX_CLOCK_REALTIME,
		linux.FUTEX_LOCK_PI | linux.FUTEX_CLOCK_REALTIME,
		linux.FUTEX_WAIT_REQUEUE_PI,
		linux.FUTEX_CMP_REQUEUE_PI,
		14,
	} {
		if _, err := e.m.Syscall(c, a, op, 0, 0, a+4, 0); err != linux.ENOSYS {
			t.Errorf("op %#x: %v, want ENOSYS", op, err)
		}
	}
	// REQUEUE takes its second count from the timeout argument.
	if _, err := e.m.Syscall(c, a, linux.FUTEX_REQUEUE_PRIVATE, 1, uintptr(0xffffffff), a+4, 0); err != linux.EINVAL {
		t.Errorf("requeue count -1: %v", err)
	}
	if _, err := e.m.Syscall(c, a, linux.FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, a+4, 5); err != linux.EAGAIN {
		t.Errorf("CMP_REQUEUE mismatch: %v", err)
	}
	if _, err := e.m.Syscall(c, a, linux.FUTEX_WAIT_BITSET_PRIVATE, 0, 0, 0, 0); err != linux.EINVAL {
		t.Errorf("WAIT_BITSET with bitset 0: %v", err)
	}
	// WAKE_OP's op applies to uaddr2.
	if _, err := e.m.Syscall(c, a, linux.FUTEX_WAKE_OP_PRIVATE, 1, 1, a+4, linux.FUTEX_OP_ADD<<28|3<<12); err != nil || e.get(a+4) != 3 {
		t.Errorf("WAKE_OP: %v, uaddr2 = %d", err, e.get(a+4))
	}
	// PI through the syscall: the word gets the caller's TID.
	if _, err := e.m.Syscall(c, a, linux.FUTEX_LOCK_PI_PRIVATE, 0, 0, 0, 0); err != nil || e.get(a) != 100 {
		t.Errorf("LOCK_PI: %v, word %d", err, e.get(a))
	}
	if _, err := e.m.Syscall(c, a, linux.FUTEX_TRYLOCK_PI_PRIVATE, 0, 0, 0, 0); err != linux.EDEADLK {
		t.Errorf("TRYLOCK_PI own lock: %v", err)
	}
	if _, err := e.m.Syscall(c, a, linux.FUTEX_UNLOCK_PI_PRIVATE, 0, 0, 0, 0); err != nil || e.get(a) != 0 {
		t.Errorf("UNLOCK_PI: %v, word %d", err, e.get(a))
	}
	// LOCK_PI2 with an absolute monotonic timeout on a held lock.
	e.set(a, 7)
	ts := a + 64
	c.Clock = fakeClock{mono: 0, real: int64(1000 * time.Hour)}
	e.putTimespec(ts, 10*time.Millisecond)
	if _, err := e.m.Syscall(c, a, linux.FUTEX_LOCK_PI2|linux.FUTEX_PRIVATE_FLAG, 0, ts, 0, 0); err != errTestTimedOut {
		t.Errorf("LOCK_PI2 timeout: %v", err)
	}
	if e.get(a) != 7|linux.FUTEX_WAITERS || e.waitersOf(e.mm, a, true) != 0 {
		t.Errorf("after a timed-out LOCK_PI2: word %#x, %d waiters", e.get(a), e.waitersOf(e.mm, a, true))
	}
}
