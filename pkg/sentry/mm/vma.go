package mm

import (
	"sort"

	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// mappable is memmap.Mappable, declared here so that tools/stateify, which
// reads only this package, knows the field holds an interface.
type mappable interface {
	memmap.Mappable
}

// vma is one virtual memory area: a range of addresses mapped with the
// same attributes.
//
// +stateify savable
type vma struct {
	start, end uintptr

	perms    platform.AccessType
	maxPerms platform.AccessType

	private   bool
	growsDown bool

	// mappable is nil for private anonymous memory. Shared anonymous
	// memory is backed by a memmap.PageStore.
	mappable mappable
	// off is the offset in mappable of start.
	off uint64

	// name overrides the mappable's name in /proc/PID/maps ([vdso],
	// [vvar]).
	name string

	dontFork   bool
	wipeOnFork bool
	locked     bool
}

func (v *vma) addrRange() memmap.AddrRange { return memmap.AddrRange{Start: v.start, End: v.end} }

// writableMapping is what AddMapping's writable means: a shared mapping
// that may become writable.
func (v *vma) writableMapping() bool { return !v.private && v.maxPerms.Write }

// offsetOf returns the mappable offset of addr, which is in v.
func (v *vma) offsetOf(addr uintptr) uint64 { return v.off + uint64(addr-v.start) }

// anonymous reports whether v is private anonymous memory.
func (v *vma) anonymous() bool { return v.mappable == nil }

// canMerge reports whether v and next (which starts where v ends) can be
// one VMA.
func (v *vma) canMerge(next *vma) bool {
	if v.end != next.start || v.perms != next.perms || v.maxPerms != next.maxPerms ||
		v.private != next.private || v.growsDown != next.growsDown || v.mappable != next.mappable ||
		v.name != next.name || v.dontFork != next.dontFork || v.wipeOnFork != next.wipeOnFork ||
		v.locked != next.locked {
		return false
	}
	return v.mappable == nil || v.off+uint64(v.end-v.start) == next.off
}

// findLocked returns the index of the first VMA that ends after addr (the
// VMA containing addr, or the next one above it); len(mm.vmas) if none.
func (mm *MemoryManager) findLocked(addr uintptr) int {
	return sort.Search(len(mm.vmas), func(i int) bool { return mm.vmas[i].end > addr })
}

// vmaAtLocked returns the VMA containing addr, or nil.
func (mm *MemoryManager) vmaAtLocked(addr uintptr) *vma {
	// Hand-rolled search: this is on the CopyIn/CopyOut path, and
	// sort.Search's closure costs measurably there.
	lo, hi := 0, len(mm.vmas)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if mm.vmas[m].end <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(mm.vmas) && mm.vmas[lo].start <= addr {
		return mm.vmas[lo]
	}
	return nil
}

// overlapsLocked reports whether any VMA intersects [start, end).
func (mm *MemoryManager) overlapsLocked(start, end uintptr) bool {
	i := mm.findLocked(start)
	return i < len(mm.vmas) && mm.vmas[i].start < end
}

// addMappingLocked tells v's mappable about v.
func (mm *MemoryManager) addMappingLocked(v *vma) error {
	if v.mappable == nil {
		return nil
	}
	return v.mappable.AddMapping(mm, v.addrRange(), v.off, v.writableMapping())
}

func (mm *MemoryManager) removeMappingLocked(v *vma) {
	if v.mappable != nil {
		v.mappable.RemoveMapping(mm, v.addrRange(), v.off, v.writableMapping())
	}
}

// reshapeLocked changes v's range (and offset) to [start, end), keeping the
// mappable's record in step. The range must stay non-overlapping.
func (mm *MemoryManager) reshapeLocked(v *vma, start, end uintptr) {
	if v.mappable != nil {
		n := *v
		n.off = v.offsetOf(start)
		n.start, n.end = start, end
		// The old mapping keeps the object alive while the new one is
		// added. The object is already mapped, so adding cannot fail for
		// a well-behaved Mappable.
		if err := mm.addMappingLocked(&n); err != nil {
			log.Warningf("mm: re-adding mapping %v of %s: %v", n.addrRange(), v.mappable.Name(), err)
		}
		mm.removeMappingLocked(v)
		v.off = n.off
	}
	v.start, v.end = start, end
}

// splitLocked makes addr a VMA boundary if it falls inside a VMA.
func (mm *MemoryManager) splitLocked(addr uintptr) {
	i := mm.findLocked(addr)
	if i == len(mm.vmas) || mm.vmas[i].start >= addr {
		return
	}
	v := mm.vmas[i]
	hi := *v
	hi.start = addr
	hi.off = v.offsetOf(addr)
	if err := mm.addMappingLocked(&hi); err != nil {
		log.Warningf("mm: splitting mapping of %s: %v", v.mappable.Name(), err)
	}
	mm.reshapeLocked(v, v.start, addr)
	mm.vmas = append(mm.vmas, nil)
	copy(mm.vmas[i+2:], mm.vmas[i+1:])
	mm.vmas[i+1] = &hi
}

// insertLocked adds v, which must not overlap any VMA and whose mapping the
// caller has already added, then merges it with its neighbours.
func (mm *MemoryManager) insertLocked(v *vma) {
	i := mm.findLocked(v.start)
	mm.vmas = append(mm.vmas, nil)
	copy(mm.vmas[i+1:], mm.vmas[i:])
	mm.vmas[i] = v
	mm.mergeAroundLocked(i)
}

// mergeAroundLocked merges vmas[i] with its neighbours where possible.
func (mm *MemoryManager) mergeAroundLocked(i int) {
	if i+1 < len(mm.vmas) && mm.vmas[i].canMerge(mm.vmas[i+1]) {
		mm.mergeLocked(i)
	}
	if i > 0 && mm.vmas[i-1].canMerge(mm.vmas[i]) {
		mm.mergeLocked(i - 1)
	}
}

// mergeLocked merges vmas[i+1] into vmas[i].
func (mm *MemoryManager) mergeLocked(i int) {
	a, b := mm.vmas[i], mm.vmas[i+1]
	mm.removeMappingLocked(b)
	mm.reshapeLocked(a, a.start, b.end)
	mm.vmas = append(mm.vmas[:i+1], mm.vmas[i+2:]...)
}

// mergeRangeLocked merges VMAs around and inside [start, end) after their
// attributes changed.
func (mm *MemoryManager) mergeRangeLocked(start, end uintptr) {
	i := mm.findLocked(start)
	if i > 0 {
		i--
	}
	for i+1 < len(mm.vmas) && mm.vmas[i].start <= end {
		if mm.vmas[i].canMerge(mm.vmas[i+1]) {
			mm.mergeLocked(i)
		} else {
			i++
		}
	}
}

// isolateLocked splits VMAs at start and end and returns the index range
// [first, last) of the VMAs inside [start, end).
func (mm *MemoryManager) isolateLocked(start, end uintptr) (int, int) {
	mm.splitLocked(start)
	mm.splitLocked(end)
	first := mm.findLocked(start)
	last := first
	for last < len(mm.vmas) && mm.vmas[last].start < end {
		last++
	}
	return first, last
}

// unmapLocked removes every mapping in [start, end) (page-aligned) and the
// pages behind them.
func (mm *MemoryManager) unmapLocked(start, end uintptr) {
	if !mm.overlapsLocked(start, end) {
		return
	}
	if len(mm.patch.sites) > 0 && overlapsPatchArea(start, end) {
		mm.unpatchLocked(start, end)
	}
	first, last := mm.isolateLocked(start, end)
	for _, v := range mm.vmas[first:last] {
		mm.removeMappingLocked(v)
	}
	mm.vmas = append(mm.vmas[:first], mm.vmas[last:]...)
	mm.dropPagesLocked(pagesOf(start, end))
}

// mappedLocked reports whether [start, end) is entirely covered by VMAs.
func (mm *MemoryManager) mappedLocked(start, end uintptr) bool {
	addr := start
	for i := mm.findLocked(start); addr < end; i++ {
		if i == len(mm.vmas) || mm.vmas[i].start > addr {
			return false
		}
		addr = mm.vmas[i].end
	}
	return true
}
