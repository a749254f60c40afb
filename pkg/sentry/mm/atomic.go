package mm

import (
	"reflect"
	"sync/atomic"
	"unsafe"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
)

// Atomic operations on 32-bit words of application memory, for futexes.
//
// They act on the Sentry's own mapping of the memory-file page behind the
// address with sync/atomic, so they are atomic with respect to the
// application's threads, which run in stub processes mapping the very same
// page. The word must be 4-byte aligned (EINVAL otherwise, as futex(2)
// says); an address that is unmapped, or not readable (loads) or writable
// (everything else), is EFAULT.
//
// Locking: each operation holds mm.mu for reading while it touches the
// page, which keeps the page table entry (and so the page) from being
// replaced or freed under it. A page that is missing, or that must be
// written but is copy-on-write, is populated under mm.mu held for writing,
// exactly as CopyOut does, and the operation is then done under that lock.
// Callers may hold their own locks (the futex manager holds its bucket
// locks) around these calls: mm.mu comes after them in the lock order, and
// no MemoryManager lock is ever held while calling out to the futex code.

// atomicWordLocked returns the Sentry's view of the aligned word at addr,
// or errNeedPopulate if its page must be populated (or copy-on-write
// broken, with write) first, or EFAULT. mu is held for reading or writing.
func (mm *MemoryManager) atomicWordLocked(addr uintptr, write bool) (*uint32, error) {
	v := mm.vmaAtLocked(addr)
	if v == nil {
		return nil, linux.EFAULT
	}
	if write && !v.perms.Write || !effectivePerms(v.perms).Read {
		// Every write here is a read-modify-write, so it needs both.
		return nil, linux.EFAULT
	}
	p, ok := mm.pages[addr>>pageShift]
	if !ok || write && !p.writable {
		return nil, errNeedPopulate
	}
	off := p.off + uint64(addr&pageMask)
	b := mm.mf.Slice(pgalloc.Range{Start: off, End: off + 4})
	return (*uint32)(unsafe.Pointer(&b[0])), nil
}

// atomicOp runs f on the word at addr, populating its page first if
// needed. write says f may modify the word.
func (mm *MemoryManager) atomicOp(addr uintptr, write bool, f func(*uint32) uint32) (uint32, error) {
	if addr&3 != 0 {
		return 0, linux.EINVAL
	}
	mm.mu.RLock()
	w, err := mm.atomicWordLocked(addr, write)
	if err == nil {
		r := f(w)
		mm.mu.RUnlock()
		return r, nil
	}
	mm.mu.RUnlock()
	if err != errNeedPopulate {
		return 0, err
	}

	mm.mu.Lock()
	defer mm.mu.Unlock()
	// The address space may have changed while mu was dropped.
	w, err = mm.atomicWordLocked(addr, write)
	if err == errNeedPopulate {
		v := mm.vmaAtLocked(addr)
		if perr := mm.populateLocked(v, pagesOf(addr, addr+1), write, false); perr != nil {
			// Past the end of the mapped object, or out of memory.
			return 0, linux.EFAULT
		}
		w, err = mm.atomicWordLocked(addr, write)
		if err == errNeedPopulate {
			return 0, linux.EFAULT
		}
	}
	if err != nil {
		return 0, err
	}
	return f(w), nil
}

// LoadUint32 atomically reads the aligned word at addr.
func (mm *MemoryManager) LoadUint32(addr uintptr) (uint32, error) {
	return mm.atomicOp(addr, false, func(w *uint32) uint32 { return atomic.LoadUint32(w) })
}

// CompareAndSwapUint32 atomically replaces the word at addr with new if it
// holds old. It returns the value the word held before, so the swap
// happened if and only if prev == old. The word must be writable even when
// the comparison fails, as with a hardware compare-and-exchange.
func (mm *MemoryManager) CompareAndSwapUint32(addr uintptr, old, new uint32) (prev uint32, err error) {
	return mm.atomicOp(addr, true, func(w *uint32) uint32 {
		for {
			if atomic.CompareAndSwapUint32(w, old, new) {
				return old
			}
			// Report the value that made the swap fail; if it changed
			// back to old meanwhile, try again rather than report old
			// for a swap that did not happen.
			if cur := atomic.LoadUint32(w); cur != old {
				return cur
			}
		}
	})
}

// SwapUint32 atomically stores new at addr and returns the previous value.
func (mm *MemoryManager) SwapUint32(addr uintptr, new uint32) (uint32, error) {
	return mm.atomicOp(addr, true, func(w *uint32) uint32 { return atomic.SwapUint32(w, new) })
}

// FutexOp atomically applies FUTEX_WAKE_OP's operation to the word at addr
// and returns the value the word held before. op is the 4-bit operation
// field: FUTEX_OP_SET, _ADD, _OR, _ANDN or _XOR, possibly with
// FUTEX_OP_OPARG_SHIFT, which makes the operand 1 << oparg (oparg taken
// modulo 32, as Linux does). oparg is the sign-extended 12-bit operand. An
// unknown operation is ENOSYS (Linux's answer) and leaves the word alone.
func (mm *MemoryManager) FutexOp(addr uintptr, op uint32, oparg int32) (old uint32, err error) {
	arg := uint32(oparg)
	if op&linux.FUTEX_OP_OPARG_SHIFT != 0 {
		arg = 1 << (uint32(oparg) & 31)
	}
	var apply func(uint32) uint32
	switch op &^ linux.FUTEX_OP_OPARG_SHIFT {
	case linux.FUTEX_OP_SET:
		return mm.SwapUint32(addr, arg)
	case linux.FUTEX_OP_ADD:
		return mm.atomicOp(addr, true, func(w *uint32) uint32 { return atomic.AddUint32(w, arg) - arg })
	case linux.FUTEX_OP_OR:
		return mm.atomicOp(addr, true, func(w *uint32) uint32 { return atomic.OrUint32(w, arg) })
	case linux.FUTEX_OP_ANDN:
		return mm.atomicOp(addr, true, func(w *uint32) uint32 { return atomic.AndUint32(w, ^arg) })
	case linux.FUTEX_OP_XOR:
		apply = func(v uint32) uint32 { return v ^ arg }
	default:
		return 0, linux.ENOSYS
	}
	// sync/atomic has no exclusive-or: loop on compare-and-swap.
	return mm.atomicOp(addr, true, func(w *uint32) uint32 {
		for {
			v := atomic.LoadUint32(w)
			if atomic.CompareAndSwapUint32(w, v, apply(v)) {
				return v
			}
		}
	})
}

// FutexKey identifies the futex word at an address: two futex operations
// refer to the same futex exactly when their keys are equal. Keys are
// comparable and usable as map keys.
type FutexKey struct {
	// Object is the *MemoryManager for a private futex (and for any futex
	// in a private mapping), or the memory object (the mapping's
	// memmap.Mappable) for a futex in a MAP_SHARED mapping.
	Object any
	// Offset is the virtual address for a private futex, or the byte
	// offset of the word in Object for a shared one.
	Offset uint64
}

// FutexKey returns the key of the futex word at addr. With private
// (FUTEX_PRIVATE_FLAG) the key is (mm, addr) and, as in Linux, the memory
// is not even looked at: a wake on an unmapped private futex is not an
// error. Otherwise the address must be mapped readable (EFAULT), and a
// futex in a MAP_SHARED mapping is keyed by the object and offset mapped
// there, so every address space mapping that memory, at any address,
// agrees on the key; a futex in a private mapping is keyed like a private
// one. Linux keys shared file mappings by (inode, page index) in the same
// way, which stays right when the object's pages are replaced (truncate,
// hole punching), as a memory-file offset would not.
//
// The key does not hold a reference on the object; an unmapped object can
// only be confused with a new one at the same Go address if the old one is
// still referenced by the key, which keeps it alive, so that cannot happen.
func (mm *MemoryManager) FutexKey(addr uintptr, private bool) (FutexKey, error) {
	if addr&3 != 0 {
		return FutexKey{}, linux.EINVAL
	}
	for {
		k, err := mm.futexKey(addr, private)
		if err != errNeedPopulate {
			return k, err
		}
		// Populating takes mu for writing, so it happens here, with mu
		// dropped; the page may be gone again when mu is retaken, which
		// only an unmap racing with the futex call can do.
		if _, err := mm.LoadUint32(addr); err != nil {
			return FutexKey{}, err
		}
	}
}

func (mm *MemoryManager) futexKey(addr uintptr, private bool) (FutexKey, error) {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	if addr+4 < addr || addr+4 > mm.layout.MaxAddr {
		return FutexKey{}, linux.EFAULT
	}
	if private {
		return FutexKey{Object: mm, Offset: uint64(addr)}, nil
	}
	v := mm.vmaAtLocked(addr)
	if v == nil || !effectivePerms(v.perms).Read {
		return FutexKey{}, linux.EFAULT
	}
	if v.private || v.mappable == nil {
		return FutexKey{Object: mm, Offset: uint64(addr)}, nil
	}
	var obj any = v.mappable
	if !reflect.TypeOf(obj).Comparable() {
		// A Mappable that cannot be a map key (a struct value holding
		// a map, say) would make the key panic when hashed: fall back
		// to the identity of the memory itself, its memory-file page.
		p, ok := mm.pages[addr>>pageShift]
		if !ok {
			return FutexKey{}, errNeedPopulate
		}
		return FutexKey{Object: mm.mf, Offset: p.off + uint64(addr&pageMask)}, nil
	}
	return FutexKey{Object: obj, Offset: v.offsetOf(addr)}, nil
}
