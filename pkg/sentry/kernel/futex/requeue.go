package futex

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Requeue is FUTEX_REQUEUE, and with cmp FUTEX_CMP_REQUEUE: wake up to
// nwake waiters on addr1 and move up to nrequeue of the rest, in order, to
// addr2 without waking them. It returns the number woken plus the number
// moved. With cmp, the word at addr1 must hold cmpval (EAGAIN otherwise),
// checked under the same locks as the requeue so that no waiter can be
// woken or moved after the word changed. Negative counts are EINVAL, as is
// a futex with FUTEX_LOCK_PI waiters.
func (m *Manager) Requeue(mem Memory, addr1, addr2 uintptr, private bool, nwake, nrequeue int, cmp bool, cmpval uint32) (int, error) {
	if nwake < 0 || nrequeue < 0 {
		return 0, linux.EINVAL
	}
	k1, err := mem.FutexKey(addr1, private)
	if err != nil {
		return 0, err
	}
	k2, err := mem.FutexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	b1, b2 := m.lock2(k1, k2)
	defer unlock2(b1, b2)
	if cmp {
		cur, err := mem.LoadUint32(addr1)
		if err != nil {
			return 0, err
		}
		if cur != cmpval {
			return 0, linux.EAGAIN
		}
	}
	q := b1.queues[k1]
	if q == nil {
		return 0, nil
	}
	if q.pi != 0 {
		return 0, linux.EINVAL
	}
	woken, moved := 0, 0
	for w := q.head; w != nil && (woken < nwake || moved < nrequeue); {
		next := w.next
		if woken < nwake {
			b1.wakeLocked(w)
			woken++
		} else {
			if k1 != k2 {
				// Moving within one key would only reorder it.
				b1.dequeueLocked(w)
				b2.enqueueLocked(w, k2)
			}
			moved++
		}
		w = next
	}
	return woken + moved, nil
}

// WakeOp is FUTEX_WAKE_OP: atomically apply the operation encoded in op to
// the word at addr2, wake up to nwake1 waiters on addr1, and if the
// comparison encoded in op holds for the word's old value, also up to
// nwake2 waiters on addr2. It returns the total woken. As in Linux, each
// count wakes at least one waiter when there is one, an unknown operation
// is ENOSYS before anything happens, and an unknown comparison is ENOSYS
// after the operation has been applied.
func (m *Manager) WakeOp(mem Memory, addr1, addr2 uintptr, private bool, nwake1, nwake2 int, op uint32) (int, error) {
	k1, err := mem.FutexKey(addr1, private)
	if err != nil {
		return 0, err
	}
	k2, err := mem.FutexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	kind := (op >> 28) & 0xf
	cmp := (op >> 24) & 0xf
	oparg := signExtend12(op >> 12)
	cmparg := signExtend12(op)

	b1, b2 := m.lock2(k1, k2)
	defer unlock2(b1, b2)
	old, err := mem.FutexOp(addr2, kind, oparg)
	if err != nil {
		return 0, err
	}
	cond, ok := compare(int32(old), cmp, cmparg)
	if !ok {
		return 0, linux.ENOSYS
	}
	n, err := b1.wakeKeyLocked(k1, linux.FUTEX_BITSET_MATCH_ANY, nwake1)
	if err != nil {
		return 0, err
	}
	if cond {
		n2, err := b2.wakeKeyLocked(k2, linux.FUTEX_BITSET_MATCH_ANY, nwake2)
		if err != nil {
			return 0, err
		}
		n += n2
	}
	return n, nil
}

// signExtend12 returns the low 12 bits of v as a signed number.
func signExtend12(v uint32) int32 { return int32(v<<20) >> 20 }

// compare evaluates FUTEX_WAKE_OP's comparison; ok is false for an unknown
// one. Linux compares as signed ints.
func compare(old int32, cmp uint32, arg int32) (result, ok bool) {
	switch cmp {
	case linux.FUTEX_OP_CMP_EQ:
		return old == arg, true
	case linux.FUTEX_OP_CMP_NE:
		return old != arg, true
	case linux.FUTEX_OP_CMP_LT:
		return old < arg, true
	case linux.FUTEX_OP_CMP_LE:
		return old <= arg, true
	case linux.FUTEX_OP_CMP_GT:
		return old > arg, true
	case linux.FUTEX_OP_CMP_GE:
		return old >= arg, true
	}
	return false, false
}
