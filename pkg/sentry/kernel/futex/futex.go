// Package futex implements futex(2): the kernel side of user-space locks.
// A Manager holds the queues of tasks sleeping on futex words and carries
// out wait, wake, requeue, wake-op and the priority-inheritance lock
// operations (ownership and hand-off only: there is no priority boosting),
// plus the exit-time duties on futexes (robust lists, CLONE_CHILD_CLEARTID).
//
// The package knows nothing of tasks: the caller supplies the memory of the
// calling process (Memory, which *mm.MemoryManager implements) and a way to
// sleep (Blocker, which the kernel's Task implements), and gets back the
// Blocker's errors unchanged.
//
// # Keys and buckets
//
// A futex is identified by an mm.FutexKey. Keys hash to one of a fixed
// number of buckets, each with a mutex guarding the wait queues of its
// keys. The value check of a wait happens under the bucket lock, and every
// waker takes that lock, so a wake that follows a change of the word can
// never miss a waiter that saw the old value.
//
// # Lock order
//
// Bucket locks (two at once only in ascending bucket order, for requeue and
// wake-op), then the MemoryManager's lock (taken inside Memory's methods).
// Nothing here is called with a MemoryManager lock held.
package futex

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/mm"
)

// Memory is the calling process's memory. *mm.MemoryManager implements it;
// see its methods for the semantics and errors.
type Memory interface {
	FutexKey(addr uintptr, private bool) (mm.FutexKey, error)
	LoadUint32(addr uintptr) (uint32, error)
	CompareAndSwapUint32(addr uintptr, old, new uint32) (prev uint32, err error)
	SwapUint32(addr uintptr, new uint32) (uint32, error)
	FutexOp(addr uintptr, op uint32, oparg int32) (old uint32, err error)
	CopyIn(addr uintptr, dst []byte) (int, error)
	CopyOut(addr uintptr, src []byte) (int, error)
}

// Blocker puts the calling task to sleep until ch is ready. The kernel's
// Task implements it: an interrupt (a signal) returns its ErrInterrupted
// and a passed deadline its timeout error; both come back to the caller of
// the futex operation unchanged.
type Blocker interface {
	Block(ch <-chan struct{}) error
	BlockWithDeadline(ch <-chan struct{}, deadline time.Time) error
}

// numBuckets is the number of hash buckets. Contention is per bucket, so
// this only needs to be comfortably above the number of futexes in use at
// once by running threads.
const numBuckets = 256

// keySeed seeds the key hash; process-wide so that a Manager's zero value
// (and a restored one) works.
var keySeed = maphash.MakeSeed()

// Manager is the futex state of one kernel. Private and shared futexes
// live in the same Manager; their keys differ. The zero value is ready to
// use.
//
// Nothing in it is saved: the waiters are tasks blocked in futex calls,
// which a restore restarts, and all other futex state (lock ownership,
// waiter bits) is in application memory.
//
// +stateify savable
type Manager struct {
	buckets [numBuckets]bucket // +state:nosave
}

// NewManager returns an empty Manager.
func NewManager() *Manager { return &Manager{} }

// bucket holds the wait queues of the keys that hash to it.
type bucket struct {
	mu sync.Mutex
	// queues maps a key to its waiters in arrival order; a key with no
	// waiters has no entry. Guarded by mu.
	queues map[mm.FutexKey]*queue
}

// queue is the waiters of one key, a doubly linked list in FIFO order.
type queue struct {
	head, tail *waiter
	// pi counts the FUTEX_LOCK_PI waiters in the list.
	pi int
}

// waiter is one task sleeping on a futex.
type waiter struct {
	// b is the bucket the waiter is queued in. It changes only on
	// requeue, with both buckets locked, so a waiter that must take
	// itself out reads it, locks that bucket and checks it again.
	b atomic.Pointer[bucket]

	// The fields below are guarded by b's lock while queued is true,
	// and owned by the waiting task otherwise.

	key        mm.FutexKey
	prev, next *waiter
	q          *queue
	// queued is true while the waiter is in a queue. A waker clears it
	// and then sends on ch; the waiter that finds it false after giving
	// up knows it was woken anyway.
	queued bool
	bitset uint32

	// pi marks a FUTEX_LOCK_PI waiter; tid is the thread ID to hand the
	// lock to. owner is set when UnlockPI handed the lock over; a PI
	// waiter woken without it tries to take the lock again.
	pi    bool
	tid   int32
	owner bool

	// ch has room for the one wake-up the waiter can receive per wait.
	ch chan struct{}
}

var waiterPool = sync.Pool{New: func() any { return &waiter{ch: make(chan struct{}, 1)} }}

func getWaiter() *waiter { return waiterPool.Get().(*waiter) }

// putWaiter recycles w, which has no wake-up pending in ch.
func putWaiter(w *waiter) {
	w.key = mm.FutexKey{}
	w.b.Store(nil)
	w.pi, w.tid, w.owner = false, 0, false
	waiterPool.Put(w)
}

func bucketIndex(k mm.FutexKey) uint64 { return maphash.Comparable(keySeed, k) % numBuckets }

func (m *Manager) bucketOf(k mm.FutexKey) *bucket { return &m.buckets[bucketIndex(k)] }

// lock2 locks the buckets of two keys, lower index first, and returns them.
func (m *Manager) lock2(k1, k2 mm.FutexKey) (*bucket, *bucket) {
	i1, i2 := bucketIndex(k1), bucketIndex(k2)
	b1, b2 := &m.buckets[i1], &m.buckets[i2]
	switch {
	case i1 == i2:
		b1.mu.Lock()
	case i1 < i2:
		b1.mu.Lock()
		b2.mu.Lock()
	default:
		b2.mu.Lock()
		b1.mu.Lock()
	}
	return b1, b2
}

func unlock2(b1, b2 *bucket) {
	b1.mu.Unlock()
	if b2 != b1 {
		b2.mu.Unlock()
	}
}

// enqueueLocked appends w to k's queue in b.
func (b *bucket) enqueueLocked(w *waiter, k mm.FutexKey) {
	if b.queues == nil {
		b.queues = make(map[mm.FutexKey]*queue)
	}
	q := b.queues[k]
	if q == nil {
		q = &queue{}
		b.queues[k] = q
	}
	w.key, w.q, w.queued = k, q, true
	w.b.Store(b)
	w.prev, w.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	if w.pi {
		q.pi++
	}
}

// dequeueLocked removes w from its queue in b.
func (b *bucket) dequeueLocked(w *waiter) {
	q := w.q
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	if w.pi {
		q.pi--
	}
	if q.head == nil {
		delete(b.queues, w.key)
	}
	w.prev, w.next, w.q, w.queued = nil, nil, nil, false
}

// wakeLocked dequeues w and wakes it.
func (b *bucket) wakeLocked(w *waiter) {
	b.dequeueLocked(w)
	w.ch <- struct{}{} // cannot block: one wake-up per wait
}

// lockWaiterBucket locks and returns the bucket w is queued in (or was
// last queued in).
func lockWaiterBucket(w *waiter) *bucket {
	for {
		b := w.b.Load()
		b.mu.Lock()
		if w.b.Load() == b {
			return b
		}
		b.mu.Unlock()
	}
}

// sleep blocks until w is woken, the deadline passes (zero: none) or the
// task is interrupted. It returns nil if w was woken, even if the Blocker
// gave up at the same moment: the wake-up was counted by the waker and
// must not be lost. Otherwise w is out of its queue and the Blocker's
// error is returned.
func sleep(bl Blocker, w *waiter, deadline time.Time) error {
	var err error
	if deadline.IsZero() {
		err = bl.Block(w.ch)
	} else {
		err = bl.BlockWithDeadline(w.ch, deadline)
	}
	if err == nil {
		return nil
	}
	b := lockWaiterBucket(w)
	woken := !w.queued
	if !woken {
		b.dequeueLocked(w)
	}
	b.mu.Unlock()
	if woken {
		<-w.ch // the waker's send happened under the lock
		return nil
	}
	return err
}

// Wait is FUTEX_WAIT_BITSET (FUTEX_WAIT has bitset
// FUTEX_BITSET_MATCH_ANY): if the word at addr holds val, sleep until a
// wake whose bitset shares a bit with bitset, the deadline (zero: none) or
// an interrupt. A different value is EAGAIN, a zero bitset EINVAL. The
// check and the enqueue are atomic with respect to wakers.
func (m *Manager) Wait(mem Memory, bl Blocker, addr uintptr, private bool, val, bitset uint32, deadline time.Time) error {
	if bitset == 0 {
		return linux.EINVAL
	}
	k, err := mem.FutexKey(addr, private)
	if err != nil {
		return err
	}
	b := m.bucketOf(k)
	w := getWaiter()
	w.bitset = bitset
	b.mu.Lock()
	cur, err := mem.LoadUint32(addr)
	if err != nil || cur != val {
		b.mu.Unlock()
		putWaiter(w)
		if err != nil {
			return err
		}
		return linux.EAGAIN
	}
	b.enqueueLocked(w, k)
	b.mu.Unlock()
	err = sleep(bl, w, deadline)
	putWaiter(w)
	return err
}

// Wake is FUTEX_WAKE_BITSET (FUTEX_WAKE has bitset
// FUTEX_BITSET_MATCH_ANY): wake up to n waiters on addr whose bitset
// shares a bit with bitset, oldest first, and return how many were woken.
// As in Linux, n <= 0 still wakes one. A zero bitset is EINVAL, and so is
// a futex with FUTEX_LOCK_PI waiters.
func (m *Manager) Wake(mem Memory, addr uintptr, private bool, bitset uint32, n int) (int, error) {
	if bitset == 0 {
		return 0, linux.EINVAL
	}
	k, err := mem.FutexKey(addr, private)
	if err != nil {
		return 0, err
	}
	b := m.bucketOf(k)
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.wakeKeyLocked(k, bitset, n)
}

// wakeKeyLocked wakes up to n (at least one) waiters of k matching bitset.
func (b *bucket) wakeKeyLocked(k mm.FutexKey, bitset uint32, n int) (int, error) {
	q := b.queues[k]
	if q == nil {
		return 0, nil
	}
	if q.pi != 0 {
		return 0, linux.EINVAL
	}
	woken := 0
	for w := q.head; w != nil; {
		next := w.next
		if w.bitset&bitset != 0 {
			b.wakeLocked(w)
			if woken++; woken >= n {
				break
			}
		}
		w = next
	}
	return woken, nil
}

// Waiters returns the number of tasks waiting on addr, for tests and
// debugging.
func (m *Manager) Waiters(mem Memory, addr uintptr, private bool) (int, error) {
	k, err := mem.FutexKey(addr, private)
	if err != nil {
		return 0, err
	}
	b := m.bucketOf(k)
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	if q := b.queues[k]; q != nil {
		for w := q.head; w != nil; w = w.next {
			n++
		}
	}
	return n, nil
}
