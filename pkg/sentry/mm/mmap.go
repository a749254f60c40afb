package mm

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// MMapOpts describes one mmap.
type MMapOpts struct {
	// Addr is the address hint, or the address with Fixed/NoReplace.
	Addr   uintptr
	Length uintptr
	// Fixed (MAP_FIXED) places the mapping exactly at Addr, replacing
	// what was there. NoReplace (MAP_FIXED_NOREPLACE) places it exactly at
	// Addr but fails with EEXIST if anything is there.
	Fixed, NoReplace bool
	// Map32Bit (amd64 MAP_32BIT) places the mapping in [1 GiB, 2 GiB).
	Map32Bit bool

	// Private is MAP_PRIVATE; otherwise MAP_SHARED.
	Private bool
	// Perms is the PROT_* protection; MaxPerms the most mprotect may grant
	// (without write for a shared mapping of a file not opened for
	// writing, without execute on a noexec mount). For private mappings
	// MaxPerms.Write may be set even for read-only files.
	Perms, MaxPerms platform.AccessType

	// Mappable is the object to map, nil for anonymous memory. Offset is
	// the page-aligned offset in it. For shared anonymous memory the
	// MemoryManager creates the object itself.
	Mappable memmap.Mappable
	Offset   uint64

	GrowsDown bool // MAP_GROWSDOWN
	Populate  bool // MAP_POPULATE (MAP_LOCKED also populates)
	Locked    bool // MAP_LOCKED

	// Name is shown in /proc/PID/maps instead of the mappable's name
	// ("[vdso]").
	Name string
}

// ParseMMap decodes mmap(2)'s arguments, checking what Linux checks before
// looking at the file. The caller fills in Mappable (for file mappings) and
// narrows MaxPerms to what the file allows.
func ParseMMap(addr, length uintptr, prot, flags int, offset uint64) (MMapOpts, error) {
	var o MMapOpts
	if prot&^(linux.PROT_READ|linux.PROT_WRITE|linux.PROT_EXEC|linux.PROT_SEM) != 0 {
		return o, linux.EINVAL
	}
	switch flags & linux.MAP_TYPE {
	case linux.MAP_PRIVATE:
		o.Private = true
	case linux.MAP_SHARED, linux.MAP_SHARED_VALIDATE:
	default:
		return o, linux.EINVAL
	}
	if length == 0 || offset&pageMask != 0 {
		return o, linux.EINVAL
	}
	o.Addr, o.Length, o.Offset = addr, length, offset
	o.Fixed = flags&linux.MAP_FIXED != 0
	o.NoReplace = flags&linux.MAP_FIXED_NOREPLACE != 0 && !o.Fixed
	o.Map32Bit = map32Bit(flags)
	o.GrowsDown = flags&linux.MAP_GROWSDOWN != 0
	o.Populate = flags&(linux.MAP_POPULATE|linux.MAP_LOCKED) != 0 && flags&linux.MAP_NONBLOCK == 0
	o.Locked = flags&linux.MAP_LOCKED != 0
	o.Perms = platform.AccessType{
		Read:    prot&linux.PROT_READ != 0,
		Write:   prot&linux.PROT_WRITE != 0,
		Execute: prot&linux.PROT_EXEC != 0,
	}
	o.MaxPerms = platform.AnyAccess
	return o, nil
}

// MMap creates a mapping and returns its address.
func (mm *MemoryManager) MMap(o MMapOpts) (uintptr, error) {
	if o.Length == 0 {
		return 0, linux.EINVAL
	}
	if o.Offset&pageMask != 0 {
		return 0, linux.EINVAL
	}
	length := (o.Length + pageMask) &^ pageMask
	if length < o.Length {
		return 0, linux.ENOMEM
	}
	if o.Mappable != nil && o.Offset+uint64(length) < o.Offset {
		return 0, linux.EOVERFLOW
	}
	if !o.MaxPerms.SupersetOf(o.Perms) {
		return 0, linux.EACCES
	}

	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.released {
		return 0, linux.ENOMEM
	}
	addr, err := mm.placeLocked(o.Addr, length, o.Fixed || o.NoReplace, o.NoReplace, o.Map32Bit)
	if err != nil {
		return 0, err
	}

	v := &vma{
		start:     addr,
		end:       addr + length,
		perms:     o.Perms,
		maxPerms:  o.MaxPerms,
		private:   o.Private,
		growsDown: o.GrowsDown,
		mappable:  o.Mappable,
		off:       o.Offset,
		name:      o.Name,
		locked:    o.Locked || mm.lockAll&linux.MCL_FUTURE != 0,
	}
	if !o.Private && o.Mappable == nil {
		// Shared anonymous memory is a nameless shmem file, as in
		// Linux, so that forks share it.
		store := memmap.NewPageStore(mm.mf, "/dev/zero (deleted)")
		if err := store.Truncate(uint64(length)); err != nil {
			store.DecRef()
			return 0, err
		}
		v.mappable, v.off = store, 0
		defer store.DecRef() // the mapping holds its own reference
	}
	if err := mm.addMappingLocked(v); err != nil {
		return 0, err
	}
	// Only now is it certain the mapping will be made: replace what was
	// there.
	mm.unmapLocked(addr, addr+length)
	mm.insertLocked(v)

	if o.Populate || (v.locked && mm.lockAll&linux.MCL_ONFAULT == 0) {
		// Errors are ignored, as Linux does: populating is best effort.
		mm.populateRangeLocked(addr, addr+length, v.perms.Write && v.private)
	}
	return addr, nil
}

// populateRangeLocked populates and maps the pages of [start, end),
// VMA by VMA, as far as access allows.
func (mm *MemoryManager) populateRangeLocked(start, end uintptr, write bool) error {
	for addr := start; addr < end; {
		v := mm.vmaAtLocked(addr)
		if v == nil {
			return linux.ENOMEM
		}
		stop := min(end, v.end)
		if effectivePerms(v.perms) != platform.NoAccess {
			if err := mm.populateLocked(v, pagesOf(addr, stop), write && v.perms.Write, true); err != nil {
				return err
			}
		}
		addr = stop
	}
	return nil
}

// placeLocked chooses the address of a new mapping of length bytes.
func (mm *MemoryManager) placeLocked(hint, length uintptr, fixed, noReplace, map32 bool) (uintptr, error) {
	l := mm.layout
	if fixed {
		if hint&pageMask != 0 {
			return 0, linux.EINVAL
		}
		if hint+length < hint || hint+length > l.MaxAddr {
			return 0, linux.ENOMEM
		}
		if hint < l.MinAddr {
			return 0, linux.EPERM
		}
		if noReplace && mm.overlapsLocked(hint, hint+length) {
			return 0, linux.EEXIST
		}
		return hint, nil
	}
	if length > l.MaxAddr-l.MinAddr {
		return 0, linux.ENOMEM
	}
	if map32 {
		if a, ok := mm.findGapBottomUpLocked(length, 0x40000000, 0x80000000); ok {
			return a, nil
		}
		return 0, linux.ENOMEM
	}
	if hint != 0 {
		h := (hint + pageMask) &^ pageMask
		if h >= hint && h >= l.MinAddr && h+length >= h && h+length <= l.MaxAddr && !mm.overlapsLocked(h, h+length) {
			return h, nil
		}
	}
	if a, ok := mm.findGapTopDownLocked(length, l.MinAddr, l.TopDownBase); ok {
		return a, nil
	}
	if a, ok := mm.findGapBottomUpLocked(length, l.BottomUpBase, l.MaxAddr); ok {
		return a, nil
	}
	return 0, linux.ENOMEM
}

// findGapTopDownLocked returns the highest address a in [lo, hi-length]
// with [a, a+length) free.
func (mm *MemoryManager) findGapTopDownLocked(length, lo, hi uintptr) (uintptr, bool) {
	if hi < lo || hi-lo < length {
		return 0, false
	}
	// i is the first VMA ending after hi-... : walk gaps downward from hi.
	top := hi
	i := mm.findLocked(hi) // first VMA ending after hi; VMAs below it end <= hi
	if i < len(mm.vmas) && mm.vmas[i].start < hi {
		top = mm.vmas[i].start
	}
	for j := i - 1; ; j-- {
		bottom := lo
		if j >= 0 {
			bottom = max(mm.vmas[j].end, lo)
		}
		if top >= bottom && top-bottom >= length {
			return top - length, true
		}
		if j < 0 || mm.vmas[j].start <= lo {
			return 0, false
		}
		top = mm.vmas[j].start
	}
}

// findGapBottomUpLocked returns the lowest address a >= lo with [a,
// a+length) free and below hi.
func (mm *MemoryManager) findGapBottomUpLocked(length, lo, hi uintptr) (uintptr, bool) {
	addr := lo
	for i := mm.findLocked(lo); ; i++ {
		next := hi
		if i < len(mm.vmas) {
			next = min(mm.vmas[i].start, hi)
		}
		if next >= addr && next-addr >= length {
			return addr, true
		}
		if i >= len(mm.vmas) || mm.vmas[i].end >= hi {
			return 0, false
		}
		addr = max(addr, mm.vmas[i].end)
	}
}

// MUnmap removes the mappings in [addr, addr+length).
func (mm *MemoryManager) MUnmap(addr, length uintptr) error {
	if addr&pageMask != 0 || length == 0 {
		return linux.EINVAL
	}
	end := (addr + length + pageMask) &^ pageMask
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if end < addr || end > mm.layout.MaxAddr {
		return linux.EINVAL
	}
	mm.unmapLocked(addr, end)
	return nil
}
