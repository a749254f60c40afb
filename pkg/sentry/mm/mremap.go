package mm

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// MRemap resizes and/or moves the mapping at [oldAddr, oldAddr+oldSize),
// like mremap(2), returning its new address.
func (mm *MemoryManager) MRemap(oldAddr, oldSize, newSize uintptr, flags int, newAddr uintptr) (uintptr, error) {
	if flags&^(linux.MREMAP_MAYMOVE|linux.MREMAP_FIXED|linux.MREMAP_DONTUNMAP) != 0 {
		return 0, linux.EINVAL
	}
	mayMove := flags&linux.MREMAP_MAYMOVE != 0
	fixed := flags&linux.MREMAP_FIXED != 0
	dontUnmap := flags&linux.MREMAP_DONTUNMAP != 0
	if (fixed || dontUnmap) && !mayMove {
		return 0, linux.EINVAL
	}
	if oldAddr&pageMask != 0 {
		return 0, linux.EINVAL
	}
	oldLen := (oldSize + pageMask) &^ pageMask
	newLen := (newSize + pageMask) &^ pageMask
	if newLen == 0 || newLen < newSize || oldLen < oldSize {
		return 0, linux.EINVAL
	}
	if dontUnmap && oldLen != newLen {
		return 0, linux.EINVAL
	}

	mm.mu.Lock()
	defer mm.mu.Unlock()
	maxAddr := mm.layout.MaxAddr

	if fixed {
		if newAddr&pageMask != 0 || newLen > maxAddr || newAddr > maxAddr-newLen {
			return 0, linux.EINVAL
		}
		if newAddr < oldAddr+oldLen && oldAddr < newAddr+newLen {
			return 0, linux.EINVAL
		}
		if newAddr < mm.layout.MinAddr {
			return 0, linux.EPERM
		}
		// Linux unmaps the destination (and shrinks the source) before
		// checking the source.
		mm.unmapLocked(newAddr, newAddr+newLen)
		if oldLen > newLen {
			mm.unmapLocked(oldAddr+newLen, oldAddr+oldLen)
			oldLen = newLen
		}
		v, err := mm.vmaToResizeLocked(oldAddr, oldLen, newLen)
		if err != nil {
			return 0, err
		}
		return mm.moveLocked(v, oldAddr, oldLen, newAddr, newLen, dontUnmap)
	}

	if !dontUnmap && oldLen >= newLen {
		if oldAddr+oldLen < oldAddr {
			return 0, linux.EINVAL
		}
		if oldLen > newLen {
			mm.unmapLocked(oldAddr+newLen, oldAddr+oldLen)
		}
		return oldAddr, nil
	}

	v, err := mm.vmaToResizeLocked(oldAddr, oldLen, newLen)
	if err != nil {
		return 0, err
	}
	// Grow in place when the old range ends the VMA and the space after
	// it is free.
	if !dontUnmap && oldLen != 0 && oldAddr+oldLen == v.end {
		end := oldAddr + newLen
		if end > oldAddr && end <= maxAddr && !mm.overlapsLocked(v.end, end) {
			mm.reshapeLocked(v, v.start, end)
			mm.mergeRangeLocked(v.start, end)
			if v.locked {
				mm.populateRangeLocked(oldAddr+oldLen, end, v.private && v.perms.Write)
			}
			return oldAddr, nil
		}
	}
	if !mayMove {
		return 0, linux.ENOMEM
	}
	dst, err := mm.placeLocked(0, newLen, false, false, false)
	if err != nil {
		return 0, err
	}
	return mm.moveLocked(v, oldAddr, oldLen, dst, newLen, dontUnmap)
}

// vmaToResizeLocked returns the VMA holding [addr, addr+oldLen), checking
// what Linux's vma_to_resize checks.
func (mm *MemoryManager) vmaToResizeLocked(addr, oldLen, newLen uintptr) (*vma, error) {
	v := mm.vmaAtLocked(addr)
	if v == nil {
		return nil, linux.EFAULT
	}
	if oldLen == 0 && v.private {
		// Duplicating a private mapping (old_size 0) is refused.
		return nil, linux.EINVAL
	}
	if oldLen > v.end-addr {
		return nil, linux.EFAULT
	}
	if v.mappable != nil && newLen > oldLen && v.offsetOf(addr)+uint64(newLen) < v.offsetOf(addr) {
		return nil, linux.EINVAL
	}
	return v, nil
}

// moveLocked creates a mapping at [dst, dst+newLen) continuing the part of v
// at [src, src+oldLen), moves its pages there, and unless dontUnmap removes
// the source. oldLen == 0 duplicates a shared mapping.
func (mm *MemoryManager) moveLocked(v *vma, src, oldLen, dst, newLen uintptr, dontUnmap bool) (uintptr, error) {
	if len(mm.patch.sites) > 0 {
		mm.unpatchLocked(src, src+oldLen)
	}
	n := *v
	n.start, n.end = dst, dst+newLen
	n.off = v.offsetOf(src)
	if err := mm.addMappingLocked(&n); err != nil {
		return 0, err
	}
	moved := min(oldLen, newLen)
	// Pages move with the mapping. The platform mappings at the source go;
	// the destination faults them in again.
	src0, dst0 := src>>pageShift, dst>>pageShift
	if moved != 0 {
		pns := mm.pagesInRangeLocked(pagesOf(src, src+moved))
		var lo, hi uintptr
		for _, pn := range pns {
			p := mm.pages[pn]
			if p.plat != platform.NoAccess {
				if hi == 0 {
					lo = pn
				}
				hi = pn + 1
			}
			delete(mm.pages, pn)
			p.plat = platform.NoAccess
			mm.pages[dst0+(pn-src0)] = p
		}
		if hi != 0 && mm.as != nil {
			mm.as.Unmap(lo<<pageShift, (hi-lo)<<pageShift)
		}
	}
	if !dontUnmap && oldLen != 0 {
		// The pages are gone from the source already; this drops the VMA.
		mm.unmapLocked(src, src+oldLen)
	}
	mm.insertLocked(&n)
	if n.locked {
		mm.populateRangeLocked(dst, dst+newLen, n.private && n.perms.Write)
	}
	return dst, nil
}
