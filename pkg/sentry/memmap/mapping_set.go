package memmap

// mapping is one AddMapping call.
//
// +stateify savable
type mapping struct {
	MS       MappingSpace
	AR       AddrRange
	Offset   uint64
	Writable bool
}

// MappingSet records where a Mappable is mapped, for Mappables to embed
// (under their own lock).
//
// +stateify savable
type MappingSet struct {
	// entries counts identical AddMapping calls; the same range can be
	// added twice by two VMAs only transiently, but counting keeps
	// RemoveMapping exact.
	entries map[mapping]int
	// writable counts entries with Writable set.
	writable int
}

// Add records a mapping.
func (s *MappingSet) Add(ms MappingSpace, ar AddrRange, offset uint64, writable bool) {
	if s.entries == nil {
		s.entries = make(map[mapping]int)
	}
	s.entries[mapping{ms, ar, offset, writable}]++
	if writable {
		s.writable++
	}
}

// Remove forgets a mapping recorded by Add; it panics if there is none,
// since that means the memory manager's bookkeeping is broken.
func (s *MappingSet) Remove(ms MappingSpace, ar AddrRange, offset uint64, writable bool) {
	k := mapping{ms, ar, offset, writable}
	n, ok := s.entries[k]
	if !ok {
		panic("memmap: RemoveMapping of a mapping that was never added")
	}
	if n == 1 {
		delete(s.entries, k)
	} else {
		s.entries[k] = n - 1
	}
	if writable {
		s.writable--
	}
}

// Len returns the number of mappings.
func (s *MappingSet) Len() int {
	n := 0
	for _, c := range s.entries {
		n += c
	}
	return n
}

// HasWritable reports whether some mapping is shared and writable.
func (s *MappingSet) HasWritable() bool { return s.writable > 0 }

// Invalidation is one MappingSpace.Invalidate call to make.
type Invalidation struct {
	MS MappingSpace
	AR AddrRange
}

// Affected returns the invalidations needed for the object bytes [start,
// end) (end may be ^uint64(0) for "to the end"): the part of each mapping
// that maps those bytes, page-rounded outward. Callers collect these under
// their lock and call Invalidate after dropping it.
func (s *MappingSet) Affected(start, end uint64) []Invalidation {
	var out []Invalidation
	for m := range s.entries {
		mEnd := m.Offset + uint64(m.AR.Length())
		lo, hi := max(start, m.Offset), min(end, mEnd)
		if lo >= hi {
			continue
		}
		lo &^= PageSize - 1
		hi = min((hi+PageSize-1)&^(PageSize-1), mEnd)
		out = append(out, Invalidation{m.MS, AddrRange{
			m.AR.Start + uintptr(lo-m.Offset),
			m.AR.Start + uintptr(hi-m.Offset),
		}})
	}
	return out
}
