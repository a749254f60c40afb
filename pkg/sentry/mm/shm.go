package mm

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
)

// DetachAt implements the address-space half of shmdt(2). isSegment tells
// System V shared memory segments apart from other mappables and returns a
// segment's size. As Linux does, it looks for the first mapping at or
// above addr of a segment whose offset in the segment equals its distance
// from addr, removes it, and then every later mapping of the same segment
// that fits in [addr, addr+size) with that same property (the pieces of
// one attachment split by mprotect or partial munmap). It returns the
// segment, or EINVAL when nothing was attached at addr.
func (mm *MemoryManager) DetachAt(addr uintptr, isSegment func(memmap.Mappable) (uint64, bool)) (memmap.Mappable, error) {
	if addr&pageMask != 0 {
		return nil, linux.EINVAL
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.released {
		return nil, linux.EINVAL
	}
	attached := func(v *vma) bool {
		return v.start >= addr && uint64(v.start-addr) == v.off
	}
	var target memmap.Mappable
	var size uint64
	var ranges [][2]uintptr
	i := mm.findLocked(addr)
	for ; i < len(mm.vmas); i++ {
		v := mm.vmas[i]
		if v.mappable == nil || !attached(v) {
			continue
		}
		if sz, ok := isSegment(v.mappable); ok {
			target, size = v.mappable, sz
			ranges = append(ranges, [2]uintptr{v.start, v.end})
			i++
			break
		}
	}
	if target == nil {
		return nil, linux.EINVAL
	}
	size = (size + pageMask) &^ pageMask
	for ; i < len(mm.vmas); i++ {
		v := mm.vmas[i]
		if uint64(v.end-addr) > size {
			break
		}
		if v.mappable == target && attached(v) {
			ranges = append(ranges, [2]uintptr{v.start, v.end})
		}
	}
	for _, r := range ranges {
		mm.unmapLocked(r[0], r[1])
	}
	return target, nil
}
