package futex

import (
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/mm"
)

// Priority-inheritance futexes (FUTEX_LOCK_PI, FUTEX_TRYLOCK_PI,
// FUTEX_UNLOCK_PI). The word holds the owner's TID, FUTEX_WAITERS when
// some thread sleeps (or is about to) in the kernel, and FUTEX_OWNER_DIED
// after the owner died holding it. User space takes a free lock by
// compare-and-swap 0 -> TID and releases an uncontended one by TID -> 0;
// the kernel is involved only when that fails. Unlocking hands the lock
// straight to the oldest waiter, which wakes up owning it, as Linux's
// rt_mutex does. There is no priority boosting: the task scheduler is Go's.

// LockPI is FUTEX_LOCK_PI for the thread tid: take the lock at addr,
// sleeping until it is handed over, the deadline passes (zero: none) or an
// interrupt. It returns EDEADLK if tid already owns it, and ESRCH if alive
// says the owner named in the word does not exist (alive may be nil:
// every owner exists; it is called with a bucket lock held, so it must
// not call back into the Manager). A lock whose owner died
// (FUTEX_OWNER_DIED, no TID) is taken with FUTEX_OWNER_DIED kept for user
// space to see.
//
// Linux restarts an interrupted FUTEX_LOCK_PI after the signal handler
// (ERESTARTNOINTR), never failing it with EINTR; the syscall layer should
// map the Blocker's interrupt error accordingly.
func (m *Manager) LockPI(mem Memory, bl Blocker, addr uintptr, private bool, tid int32, alive func(tid int32) bool, deadline time.Time) error {
	return m.lockPI(mem, bl, addr, private, tid, alive, deadline, false)
}

// TryLockPI is FUTEX_TRYLOCK_PI: LockPI that fails with EAGAIN instead of
// sleeping.
func (m *Manager) TryLockPI(mem Memory, addr uintptr, private bool, tid int32, alive func(tid int32) bool) error {
	return m.lockPI(mem, nil, addr, private, tid, alive, time.Time{}, true)
}

func (m *Manager) lockPI(mem Memory, bl Blocker, addr uintptr, private bool, tid int32, alive func(int32) bool, deadline time.Time, try bool) error {
	if tid <= 0 || tid > linux.FUTEX_TID_MASK {
		return linux.EINVAL
	}
	k, err := mem.FutexKey(addr, private)
	if err != nil {
		return err
	}
	b := m.bucketOf(k)
	for {
		b.mu.Lock()
		acquired, owner, err := b.acquirePILocked(mem, addr, k, uint32(tid))
		if err != nil || acquired {
			b.mu.Unlock()
			return err
		}
		if alive != nil && !alive(int32(owner)) {
			b.mu.Unlock()
			return linux.ESRCH
		}
		if try {
			b.mu.Unlock()
			return linux.EAGAIN
		}
		w := getWaiter()
		w.pi, w.tid, w.bitset = true, tid, linux.FUTEX_BITSET_MATCH_ANY
		b.enqueueLocked(w, k)
		b.mu.Unlock()

		err = sleep(bl, w, deadline)
		owned := w.owner
		putWaiter(w)
		if owned {
			// UnlockPI wrote our TID into the word before waking us.
			return nil
		}
		if err != nil {
			return err
		}
		// Woken to try again: the owner died (robust list processing).
	}
}

// acquirePILocked takes the PI lock at addr for tid if it is free. If it
// is held by another thread it makes sure FUTEX_WAITERS is set, so that
// the owner's unlock comes to the kernel, and returns the owner. b (k's
// bucket) is locked.
func (b *bucket) acquirePILocked(mem Memory, addr uintptr, k mm.FutexKey, tid uint32) (acquired bool, owner uint32, err error) {
	for {
		cur, err := mem.LoadUint32(addr)
		if err != nil {
			return false, 0, err
		}
		owner := cur & linux.FUTEX_TID_MASK
		if owner == tid {
			return false, 0, linux.EDEADLK
		}
		if owner == 0 {
			nv := tid | cur&linux.FUTEX_OWNER_DIED
			if q := b.queues[k]; q != nil && q.pi != 0 {
				nv |= linux.FUTEX_WAITERS
			}
			prev, err := mem.CompareAndSwapUint32(addr, cur, nv)
			if err != nil {
				return false, 0, err
			}
			if prev == cur {
				return true, 0, nil
			}
			continue // user space changed the word meanwhile
		}
		if cur&linux.FUTEX_WAITERS == 0 {
			prev, err := mem.CompareAndSwapUint32(addr, cur, cur|linux.FUTEX_WAITERS)
			if err != nil {
				return false, 0, err
			}
			if prev != cur {
				continue
			}
		}
		return false, owner, nil
	}
}

// UnlockPI is FUTEX_UNLOCK_PI for the thread tid: release the lock at
// addr, handing it to the oldest waiter if there is one (the word becomes
// its TID with FUTEX_WAITERS, as in Linux), or leaving the word 0. It is
// EPERM if tid does not own the lock, and EINVAL if the futex has non-PI
// waiters.
func (m *Manager) UnlockPI(mem Memory, addr uintptr, private bool, tid int32) error {
	k, err := mem.FutexKey(addr, private)
	if err != nil {
		return err
	}
	b := m.bucketOf(k)
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		cur, err := mem.LoadUint32(addr)
		if err != nil {
			return err
		}
		if tid <= 0 || cur&linux.FUTEX_TID_MASK != uint32(tid) {
			return linux.EPERM
		}
		var next *waiter
		nv := uint32(0)
		if q := b.queues[k]; q != nil {
			if !q.head.pi {
				return linux.EINVAL
			}
			next = q.head
			nv = uint32(next.tid) | linux.FUTEX_WAITERS
		}
		prev, err := mem.CompareAndSwapUint32(addr, cur, nv)
		if err != nil {
			return err
		}
		if prev != cur {
			continue // user space set a bit meanwhile
		}
		if next != nil {
			next.owner = true
			b.wakeLocked(next)
		}
		return nil
	}
}

// wakePIRetryLocked wakes the oldest PI waiter of k without handing it the
// lock, so that it tries to take it again. It reports whether there was
// one.
func (b *bucket) wakePIRetryLocked(k mm.FutexKey) bool {
	q := b.queues[k]
	if q == nil {
		return false
	}
	for w := q.head; w != nil; w = w.next {
		if w.pi {
			b.wakeLocked(w)
			return true
		}
	}
	return false
}
