package mm

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
)

// MAdvise applies advice to [addr, addr+length), like madvise(2).
func (mm *MemoryManager) MAdvise(addr, length uintptr, advice int) error {
	if addr&pageMask != 0 {
		return linux.EINVAL
	}
	end := (addr + length + pageMask) &^ pageMask
	if end < addr {
		return linux.EINVAL
	}
	switch advice {
	case linux.MADV_NORMAL, linux.MADV_RANDOM, linux.MADV_SEQUENTIAL, linux.MADV_WILLNEED,
		linux.MADV_DONTNEED, linux.MADV_FREE, linux.MADV_REMOVE, linux.MADV_DONTFORK,
		linux.MADV_DOFORK, linux.MADV_MERGEABLE, linux.MADV_UNMERGEABLE, linux.MADV_HUGEPAGE,
		linux.MADV_NOHUGEPAGE, linux.MADV_DONTDUMP, linux.MADV_DODUMP, linux.MADV_WIPEONFORK,
		linux.MADV_KEEPONFORK, linux.MADV_COLD, linux.MADV_PAGEOUT, linux.MADV_POPULATE_READ,
		linux.MADV_POPULATE_WRITE, linux.MADV_DONTNEED_LOCKED, linux.MADV_COLLAPSE:
	case linux.MADV_HWPOISON, linux.MADV_SOFT_OFFLINE:
		// Memory-failure injection needs CAP_SYS_ADMIN in the host's
		// sense; nobody in the sandbox has it.
		return linux.EPERM
	default:
		return linux.EINVAL
	}
	if end == addr {
		return nil
	}

	mm.mu.Lock()
	defer mm.mu.Unlock()
	// Linux applies the advice to the mapped parts and then reports
	// ENOMEM if there was a hole.
	holes := !mm.mappedLocked(addr, end)
	var err error
	switch advice {
	case linux.MADV_DONTNEED, linux.MADV_FREE, linux.MADV_DONTNEED_LOCKED:
		err = mm.forEachVMALocked(addr, end, func(v *vma, start, stop uintptr) error {
			if v.locked && advice != linux.MADV_DONTNEED_LOCKED {
				return linux.EINVAL
			}
			if advice == linux.MADV_FREE && !v.anonymous() {
				return linux.EINVAL
			}
			// Private pages are discarded (anonymous memory reads zeros
			// again, private file mappings the file); shared mappings
			// only lose their page-table entries.
			mm.dropPagesLocked(pagesOf(start, stop))
			return nil
		})
	case linux.MADV_REMOVE:
		err = mm.forEachVMALocked(addr, end, func(v *vma, start, stop uintptr) error {
			if v.private || v.locked {
				return linux.EINVAL
			}
			// Punching holes in the object behind a shared mapping is
			// not implemented by any Mappable yet.
			return linux.EOPNOTSUPP
		})
	case linux.MADV_WILLNEED, linux.MADV_POPULATE_READ, linux.MADV_POPULATE_WRITE:
		write := advice == linux.MADV_POPULATE_WRITE
		err = mm.forEachVMALocked(addr, end, func(v *vma, start, stop uintptr) error {
			at := effectivePerms(v.perms)
			if advice != linux.MADV_WILLNEED && (!at.Read || (write && !v.perms.Write)) {
				return linux.EINVAL
			}
			if !at.Read {
				return nil
			}
			if perr := mm.populateLocked(v, pagesOf(start, stop), write, true); perr != nil && advice != linux.MADV_WILLNEED {
				return linux.EFAULT
			}
			return nil
		})
	case linux.MADV_DONTFORK, linux.MADV_DOFORK, linux.MADV_WIPEONFORK, linux.MADV_KEEPONFORK:
		if advice == linux.MADV_WIPEONFORK {
			if verr := mm.forEachVMALocked(addr, end, func(v *vma, _, _ uintptr) error {
				if !v.anonymous() {
					return linux.EINVAL
				}
				return nil
			}); verr != nil {
				return verr
			}
		}
		err = mm.setFlagLocked(addr, end, func(v *vma) {
			switch advice {
			case linux.MADV_DONTFORK:
				v.dontFork = true
			case linux.MADV_DOFORK:
				v.dontFork = false
			case linux.MADV_WIPEONFORK:
				v.wipeOnFork = true
			case linux.MADV_KEEPONFORK:
				v.wipeOnFork = false
			}
		})
	default:
		// Hints about access patterns, huge pages, merging, dumps and
		// reclaim change nothing observable here.
	}
	if err != nil {
		return err
	}
	if holes {
		return linux.ENOMEM
	}
	return nil
}

// forEachVMALocked calls fn for the part [start, stop) of each VMA that
// intersects [addr, end), stopping at the first error.
func (mm *MemoryManager) forEachVMALocked(addr, end uintptr, fn func(v *vma, start, stop uintptr) error) error {
	for i := mm.findLocked(addr); i < len(mm.vmas) && mm.vmas[i].start < end; i++ {
		v := mm.vmas[i]
		if err := fn(v, max(v.start, addr), min(v.end, end)); err != nil {
			return err
		}
	}
	return nil
}

// setFlagLocked applies set to the VMAs in [addr, end), splitting and
// merging around it.
func (mm *MemoryManager) setFlagLocked(addr, end uintptr, set func(v *vma)) error {
	lo, hi := mm.isolateLocked(addr, end)
	for _, v := range mm.vmas[lo:hi] {
		set(v)
	}
	mm.mergeRangeLocked(addr, end)
	return nil
}

// MSync implements msync(2). Sentry memory needs no write-back; Mappables
// caching host data (memmap.Syncer) write theirs on MS_SYNC.
func (mm *MemoryManager) MSync(addr, length uintptr, flags int) error {
	if flags&^(linux.MS_ASYNC|linux.MS_INVALIDATE|linux.MS_SYNC) != 0 {
		return linux.EINVAL
	}
	if flags&linux.MS_ASYNC != 0 && flags&linux.MS_SYNC != 0 {
		return linux.EINVAL
	}
	if addr&pageMask != 0 {
		return linux.EINVAL
	}
	end := (addr + length + pageMask) &^ pageMask
	if end < addr {
		return linux.ENOMEM
	}
	if end == addr {
		return nil
	}
	type syncReq struct {
		s        memmap.Syncer
		off, len uint64
	}
	var reqs []syncReq
	mm.mu.RLock()
	holes := !mm.mappedLocked(addr, end)
	err := mm.forEachVMALocked(addr, end, func(v *vma, start, stop uintptr) error {
		if flags&linux.MS_INVALIDATE != 0 && v.locked {
			return linux.EBUSY
		}
		if s, ok := v.mappable.(memmap.Syncer); ok && !v.private && flags&linux.MS_SYNC != 0 {
			reqs = append(reqs, syncReq{s, v.offsetOf(start), uint64(stop - start)})
		}
		return nil
	})
	mm.mu.RUnlock()
	if err != nil {
		return err
	}
	// Write-back may block on I/O: done without the lock.
	for _, r := range reqs {
		if err := r.s.Sync(r.off, r.len); err != nil {
			return linux.EIO
		}
	}
	if holes {
		return linux.ENOMEM
	}
	return nil
}

// MInCore reports, one byte per page, whether each page of [addr,
// addr+length) is resident (populated in this address space), like
// mincore(2). Pages of a shared object resident only in another address
// space are reported as not resident.
func (mm *MemoryManager) MInCore(addr, length uintptr) ([]byte, error) {
	if addr&pageMask != 0 {
		return nil, linux.EINVAL
	}
	end := (addr + length + pageMask) &^ pageMask
	if end < addr || length > mm.Layout().MaxAddr {
		return nil, linux.ENOMEM
	}
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	if !mm.mappedLocked(addr, end) {
		return nil, linux.ENOMEM
	}
	out := make([]byte, (end-addr)>>pageShift)
	for i := range out {
		if _, ok := mm.pages[(addr>>pageShift)+uintptr(i)]; ok {
			out[i] = 1
		}
	}
	return out, nil
}

// MLock marks [addr, addr+length) locked (mlock(2)/mlock2(2)) and, unless
// onFault, populates it. Locking only affects accounting (VmLck) and
// MADV_DONTNEED; the Sentry never swaps.
func (mm *MemoryManager) MLock(addr, length uintptr, onFault bool) error {
	return mm.setLocked(addr, length, true, onFault)
}

// MUnlock clears the lock on [addr, addr+length).
func (mm *MemoryManager) MUnlock(addr, length uintptr) error {
	return mm.setLocked(addr, length, false, true)
}

func (mm *MemoryManager) setLocked(addr, length uintptr, lock, onFault bool) error {
	start := addr &^ pageMask
	end := (addr + length + pageMask) &^ pageMask
	if end < addr {
		return linux.EINVAL
	}
	if end == start {
		return nil
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if !mm.mappedLocked(start, end) {
		return linux.ENOMEM
	}
	mm.setFlagLocked(start, end, func(v *vma) { v.locked = lock })
	if lock && !onFault {
		mm.populateLockedRangeLocked(start, end)
	}
	return nil
}

// populateLockedRangeLocked faults in a newly locked range, writable where
// private and writable, as mlock does; failures are ignored.
func (mm *MemoryManager) populateLockedRangeLocked(start, end uintptr) {
	mm.forEachVMALocked(start, end, func(v *vma, s, e uintptr) error {
		if effectivePerms(v.perms).Read {
			mm.populateLocked(v, pagesOf(s, e), v.private && v.perms.Write, true)
		}
		return nil
	})
}

// MLockAll implements mlockall(2).
func (mm *MemoryManager) MLockAll(flags int) error {
	if flags == 0 || flags&^(linux.MCL_CURRENT|linux.MCL_FUTURE|linux.MCL_ONFAULT) != 0 || flags == linux.MCL_ONFAULT {
		return linux.EINVAL
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.lockAll = flags & (linux.MCL_FUTURE | linux.MCL_ONFAULT)
	if flags&linux.MCL_CURRENT != 0 && len(mm.vmas) > 0 {
		start, end := mm.vmas[0].start, mm.vmas[len(mm.vmas)-1].end
		mm.setFlagLocked(start, end, func(v *vma) { v.locked = true })
		if flags&linux.MCL_ONFAULT == 0 {
			mm.populateLockedRangeLocked(start, end)
		}
	}
	return nil
}

// MUnlockAll implements munlockall(2).
func (mm *MemoryManager) MUnlockAll() {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.lockAll = 0
	if len(mm.vmas) > 0 {
		mm.setFlagLocked(mm.vmas[0].start, mm.vmas[len(mm.vmas)-1].end, func(v *vma) { v.locked = false })
	}
}
