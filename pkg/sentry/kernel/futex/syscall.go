package futex

import (
	"math"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Caller is the thread making a futex(2) call.
type Caller struct {
	Mem     Memory
	Blocker Blocker
	// TID is the caller's thread ID as its own PID namespace numbers it:
	// the ID PI futex words hold.
	TID int32
	// Alive reports whether a thread ID (in the caller's PID namespace)
	// names a thread that has not yet finished exiting; see LockPI. Nil
	// treats every owner as alive.
	Alive func(tid int32) bool
	// Clock measures absolute timeouts; nil means HostClock.
	Clock Clock
}

// Clock reads the clocks absolute futex timeouts are given on.
type Clock interface {
	// Now returns CLOCK_REALTIME (realtime) or CLOCK_MONOTONIC, in
	// nanoseconds.
	Now(realtime bool) int64
}

// HostClock reads the host's clocks, which the sandbox's clocks are.
type HostClock struct{}

// Now implements Clock.Now.
func (HostClock) Now(realtime bool) int64 {
	if realtime {
		return time.Now().UnixNano()
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic("futex: clock_gettime(CLOCK_MONOTONIC): " + err.Error())
	}
	return ts.Nano()
}

// Syscall implements futex(2): addr is uaddr, op the operation with its
// flags, val and val3 the like-named arguments, timeout the fourth
// argument (a struct timespec pointer for the waiting operations, the
// 32-bit val2 for REQUEUE, CMP_REQUEUE and WAKE_OP), addr2 uaddr2. It
// returns the system call's result or a linux.Errno, or the Blocker's
// errors unchanged. For the syscall layer, which turns the Blocker's
// interrupt into a restart code: Linux restarts FUTEX_WAIT with a
// timeout through restart_syscall (ERESTART_RESTARTBLOCK; the deadline
// this call computed is the one to keep), other waits with ERESTARTSYS,
// and FUTEX_LOCK_PI always (ERESTARTNOINTR).
//
// FUTEX_FD (removed from Linux in 2.6.26) and the requeue-PI pair
// (FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE_PI) are ENOSYS.
func (m *Manager) Syscall(c *Caller, addr uintptr, op int, val uint32, timeout uintptr, addr2 uintptr, val3 uint32) (uintptr, error) {
	cmd := op & linux.FUTEX_CMD_MASK
	private := op&linux.FUTEX_PRIVATE_FLAG != 0
	realtime := op&linux.FUTEX_CLOCK_REALTIME != 0

	var deadline time.Time
	switch cmd {
	case linux.FUTEX_WAIT, linux.FUTEX_WAIT_BITSET, linux.FUTEX_LOCK_PI, linux.FUTEX_LOCK_PI2, linux.FUTEX_WAIT_REQUEUE_PI:
		if timeout != 0 {
			var err error
			if deadline, err = readDeadline(c, timeout, cmd, realtime); err != nil {
				return 0, err
			}
		}
	}
	if realtime {
		switch cmd {
		case linux.FUTEX_WAIT, linux.FUTEX_WAIT_BITSET, linux.FUTEX_WAIT_REQUEUE_PI, linux.FUTEX_LOCK_PI2:
		default:
			return 0, linux.ENOSYS
		}
	}
	val2 := int(int32(uint32(timeout)))
	n := int(int32(val))
	var (
		r   int
		err error
	)
	switch cmd {
	case linux.FUTEX_WAIT:
		err = m.Wait(c.Mem, c.Blocker, addr, private, val, linux.FUTEX_BITSET_MATCH_ANY, deadline)
	case linux.FUTEX_WAIT_BITSET:
		err = m.Wait(c.Mem, c.Blocker, addr, private, val, val3, deadline)
	case linux.FUTEX_WAKE:
		r, err = m.Wake(c.Mem, addr, private, linux.FUTEX_BITSET_MATCH_ANY, n)
	case linux.FUTEX_WAKE_BITSET:
		r, err = m.Wake(c.Mem, addr, private, val3, n)
	case linux.FUTEX_REQUEUE:
		r, err = m.Requeue(c.Mem, addr, addr2, private, n, val2, false, 0)
	case linux.FUTEX_CMP_REQUEUE:
		r, err = m.Requeue(c.Mem, addr, addr2, private, n, val2, true, val3)
	case linux.FUTEX_WAKE_OP:
		r, err = m.WakeOp(c.Mem, addr, addr2, private, n, val2, val3)
	case linux.FUTEX_LOCK_PI, linux.FUTEX_LOCK_PI2:
		err = m.LockPI(c.Mem, c.Blocker, addr, private, c.TID, c.Alive, deadline)
	case linux.FUTEX_TRYLOCK_PI:
		err = m.TryLockPI(c.Mem, addr, private, c.TID, c.Alive)
	case linux.FUTEX_UNLOCK_PI:
		err = m.UnlockPI(c.Mem, addr, private, c.TID)
	default:
		return 0, linux.ENOSYS
	}
	if err != nil {
		return 0, err
	}
	return uintptr(r), nil
}

// readDeadline reads and converts a futex timeout. FUTEX_WAIT's is
// relative; the others are absolute, on CLOCK_REALTIME for FUTEX_LOCK_PI
// and with FUTEX_CLOCK_REALTIME, on CLOCK_MONOTONIC otherwise. A zero
// result means no deadline: one too far away to represent, as Linux
// saturates it.
func readDeadline(c *Caller, addr uintptr, cmd int, realtime bool) (time.Time, error) {
	var buf [linux.SizeofTimespec]byte
	if _, err := c.Mem.CopyIn(addr, buf[:]); err != nil {
		return time.Time{}, linux.EFAULT
	}
	var ts linux.Timespec
	ts.UnmarshalBytes(buf[:])
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return time.Time{}, linux.EINVAL
	}
	now := time.Now()
	if ts.Sec >= math.MaxInt64/1_000_000_000 {
		return time.Time{}, nil
	}
	ns := ts.Sec*1e9 + ts.Nsec
	if cmd != linux.FUTEX_WAIT {
		clk := c.Clock
		if clk == nil {
			clk = HostClock{}
		}
		// ns - clock >= -clock > -2^63 since clocks are non-negative.
		ns -= clk.Now(realtime || cmd == linux.FUTEX_LOCK_PI)
	}
	return deadlineAfter(now, ns), nil
}

// maxWait is the longest timeout kept as a deadline; anything longer is
// treated as none (a time.Time cannot hold every int64 offset).
const maxWait = 100 * 365 * 24 * time.Hour

// deadlineAfter returns now + ns, or the zero time (no deadline) if that
// is beyond maxWait. A passed deadline is kept: the wait times out at once
// after checking the word.
func deadlineAfter(now time.Time, ns int64) time.Time {
	if ns > int64(maxWait) {
		return time.Time{}
	}
	return now.Add(time.Duration(ns))
}
