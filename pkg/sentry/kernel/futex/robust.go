package futex

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Exit-time futex duties of a thread: its robust list (set_robust_list(2))
// and its CLONE_CHILD_CLEARTID word (set_tid_address(2)).

// ExitRobustList releases the robust futexes still held by the exiting
// thread tid, whose robust list head is at head in mem (64-bit layout,
// struct robust_list_head). Each lock on the list whose word names tid as
// owner gets FUTEX_OWNER_DIED (keeping FUTEX_WAITERS, clearing the TID),
// and if it had waiters one of them is woken: a FUTEX_WAIT waiter to see
// the new value, or for a PI lock (list pointer with bit 0 set) the oldest
// FUTEX_LOCK_PI waiter, which then takes the lock with FUTEX_OWNER_DIED.
// list_op_pending, the lock the thread was in the middle of taking or
// releasing, is handled last, and for a non-PI futex found already free
// one waiter is woken in case the thread died between its release and its
// wake.
//
// The walk follows user memory, which may be corrupt or circular: it stops
// after ROBUST_LIST_LIMIT entries, at the first unreadable entry, and at
// the first word it cannot update, as Linux does. It must run after the
// thread stopped running application code and before its TID can be
// reused (LockPI's alive must report it dead only after this returns), and
// with no kernel locks held that LockPI's alive takes.
func (m *Manager) ExitRobustList(mem Memory, head uintptr, tid int32) {
	if head == 0 {
		return
	}
	var buf [linux.SizeofRobustListHead]byte
	if n, _ := mem.CopyIn(head, buf[:]); n != len(buf) {
		return
	}
	var h linux.RobustListHead
	h.UnmarshalBytes(buf[:])
	entry, pi := uintptr(h.List&^1), h.List&1 != 0
	pending, pendingPI := uintptr(h.ListOpPending&^1), h.ListOpPending&1 != 0
	offset := uintptr(h.FutexOffset)

	for limit := linux.ROBUST_LIST_LIMIT; entry != head; {
		next, rerr := readPointer(mem, entry)
		if entry != pending {
			if !m.handleDeath(mem, entry+offset, tid, pi, false) {
				return
			}
		}
		if rerr != nil {
			return
		}
		entry, pi = uintptr(next&^1), next&1 != 0
		if limit--; limit == 0 {
			break
		}
	}
	if pending != 0 {
		m.handleDeath(mem, pending+offset, tid, pendingPI, true)
	}
}

func readPointer(mem Memory, addr uintptr) (uint64, error) {
	var b [8]byte
	if _, err := mem.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// handleDeath marks the robust futex at addr dead if tid owns it, and wakes
// a waiter. It returns false when the word cannot be accessed, which ends
// the list walk.
func (m *Manager) handleDeath(mem Memory, addr uintptr, tid int32, pi, pendingOp bool) bool {
	if addr&3 != 0 {
		return false
	}
	for {
		cur, err := mem.LoadUint32(addr)
		if err != nil {
			return false
		}
		if pendingOp && !pi && cur == 0 {
			// The thread may have released the lock and died before
			// waking anyone; a spurious wake-up is harmless.
			m.Wake(mem, addr, false, linux.FUTEX_BITSET_MATCH_ANY, 1)
			return true
		}
		if cur&linux.FUTEX_TID_MASK != uint32(tid) {
			return true
		}
		nv := cur&linux.FUTEX_WAITERS | linux.FUTEX_OWNER_DIED
		prev, err := mem.CompareAndSwapUint32(addr, cur, nv)
		if err != nil {
			return false
		}
		if prev != cur {
			continue
		}
		if cur&linux.FUTEX_WAITERS != 0 {
			if pi {
				m.wakePIRetry(mem, addr)
			} else {
				m.Wake(mem, addr, false, linux.FUTEX_BITSET_MATCH_ANY, 1)
			}
		}
		return true
	}
}

// wakePIRetry wakes one FUTEX_LOCK_PI waiter on addr to retry taking the
// lock. The waiters may have used a shared or a private key (they differ
// only for MAP_SHARED memory); the shared key is tried first.
func (m *Manager) wakePIRetry(mem Memory, addr uintptr) {
	for _, private := range []bool{false, true} {
		k, err := mem.FutexKey(addr, private)
		if err != nil {
			continue
		}
		b := m.bucketOf(k)
		b.mu.Lock()
		ok := b.wakePIRetryLocked(k)
		b.mu.Unlock()
		if ok {
			return
		}
	}
}

// ClearChildTID is the exit-time action of CLONE_CHILD_CLEARTID and
// set_tid_address(2): write 0 to the word at addr and wake one waiter on
// it (with a shared key, as Linux does), which is how pthread_join learns
// that a thread is gone. Errors are ignored, as in Linux. Linux does this
// only when other threads still use the address space; that check is the
// caller's.
func (m *Manager) ClearChildTID(mem Memory, addr uintptr) {
	if addr == 0 {
		return
	}
	if addr&3 == 0 {
		mem.SwapUint32(addr, 0)
	} else {
		var zero [4]byte
		mem.CopyOut(addr, zero[:])
	}
	m.Wake(mem, addr, false, linux.FUTEX_BITSET_MATCH_ANY, 1)
}
