package mm

import (
	"errors"
	"slices"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// faultAround is how many pages (an aligned block) a fault populates and
// maps at once: each platform mapping call is a round trip to a stub
// process, so neighbours are mapped speculatively. Anonymous pages
// allocated this way cost no host memory until touched.
const faultAround = 16

// pagesInRangeLocked returns the page numbers in r that have pages, in
// ascending order. It walks whichever is smaller, the range or the page
// table, so huge sparse ranges (PROT_NONE reservations) stay cheap.
func (mm *MemoryManager) pagesInRangeLocked(r pageRange) []uintptr {
	var out []uintptr
	if r.len() <= uintptr(len(mm.pages)) {
		for pn := r.start; pn < r.end; pn++ {
			if _, ok := mm.pages[pn]; ok {
				out = append(out, pn)
			}
		}
		return out
	}
	for pn := range mm.pages {
		if pn >= r.start && pn < r.end {
			out = append(out, pn)
		}
	}
	slices.Sort(out)
	return out
}

// dropPagesLocked forgets every page in r, releasing it to the memory
// file, and unmaps them from the platform.
func (mm *MemoryManager) dropPagesLocked(r pageRange) {
	var lo, hi uintptr
	for _, pn := range mm.pagesInRangeLocked(r) {
		p := mm.pages[pn]
		if p.plat != platform.NoAccess {
			if hi == 0 {
				lo = pn
			}
			hi = pn + 1
		}
		delete(mm.pages, pn)
		mm.decRefPage(p.off)
	}
	if hi != 0 && mm.as != nil {
		mm.as.Unmap(lo<<pageShift, (hi-lo)<<pageShift)
	}
}

// platformPerms is the access page p of v should have in the platform.
func platformPerms(v *vma, p pte) platform.AccessType {
	at := effectivePerms(v.perms)
	if !p.writable {
		at.Write = false
	}
	return at
}

// syncPlatformLocked makes the platform mapping of every page in r that is
// mapped there (or, with mapAll, every populated page) match platformPerms.
// r lies within v.
func (mm *MemoryManager) syncPlatformLocked(v *vma, r pageRange, mapAll bool) error {
	if mm.as == nil {
		return nil
	}
	return mm.applyLocked(mm.platformChangesLocked(nil, v, r, mapAll))
}

// platformChangesLocked appends to changes what syncPlatformLocked would
// change, and notes the pages' new platform access as done.
func (mm *MemoryManager) platformChangesLocked(changes []platform.MappingChange, v *vma, r pageRange, mapAll bool) []platform.MappingChange {
	var run struct {
		start, end uintptr // page numbers
		off        uint64
		at         platform.AccessType
	}
	flush := func() {
		if run.end == run.start {
			return
		}
		changes = append(changes, platform.MappingChange{
			Addr:   run.start << pageShift,
			Offset: run.off,
			Length: (run.end - run.start) << pageShift,
			Access: run.at,
		})
		run.end = run.start
	}
	for _, pn := range mm.pagesInRangeLocked(r) {
		p := mm.pages[pn]
		if p.plat == platform.NoAccess && !mapAll {
			continue
		}
		at := platformPerms(v, p)
		if at == p.plat {
			continue
		}
		p.plat = at
		mm.pages[pn] = p
		contiguous := run.end == pn && run.at == at &&
			(at == platform.NoAccess || run.off+uint64(pn-run.start)<<pageShift == p.off)
		if !contiguous {
			flush()
			run.start, run.end, run.off, run.at = pn, pn, p.off, at
		}
		run.end = pn + 1
	}
	flush()
	return changes
}

// applyLocked makes the platform changes, in one exchange where the
// platform can.
func (mm *MemoryManager) applyLocked(changes []platform.MappingChange) error {
	if b, ok := mm.as.(platform.MappingBatcher); ok && len(changes) > 1 {
		return b.ApplyMappings(changes)
	}
	for _, c := range changes {
		if c.Access == platform.NoAccess {
			mm.as.Unmap(c.Addr, c.Length)
		} else if err := mm.as.MapFile(c.Addr, c.Offset, c.Length, c.Access); err != nil {
			return err
		}
	}
	return nil
}

// populateLocked makes sure every page of r (within v) has a page, writable
// in place if write is set (breaking copy-on-write), then with mapPlatform
// maps them into the platform. Pages of r beyond the end of v's mappable
// are an error only if r.start is one of them; otherwise r is cut short.
func (mm *MemoryManager) populateLocked(v *vma, r pageRange, write, mapPlatform bool) error {
	// Fill holes.
	for pn := r.start; pn < r.end; {
		if _, ok := mm.pages[pn]; ok {
			pn++
			continue
		}
		holeEnd := pn + 1
		for holeEnd < r.end {
			if _, ok := mm.pages[holeEnd]; ok {
				break
			}
			holeEnd++
		}
		filled, err := mm.fillLocked(v, pageRange{pn, holeEnd}, write)
		if err != nil {
			if pn > r.start || filled > 0 {
				// The page that matters is there; skip the rest.
				r.end = pn + filled
				break
			}
			return err
		}
		pn = holeEnd
	}
	// Break copy-on-write.
	if write {
		for pn := r.start; pn < r.end; pn++ {
			p := mm.pages[pn]
			if p.writable {
				continue
			}
			if err := mm.breakCOWLocked(v, pn, p); err != nil {
				return err
			}
		}
	}
	if mapPlatform {
		return mm.syncPlatformLocked(v, r, true)
	}
	// Pages replaced by copies must not stay mapped to the originals.
	return mm.syncPlatformLocked(v, r, false)
}

// fillLocked creates pages for the hole r in v, returning how many it
// created from r.start on.
func (mm *MemoryManager) fillLocked(v *vma, r pageRange, write bool) (uintptr, error) {
	if v.mappable == nil {
		fr, err := mm.mf.Allocate(uint64(r.len()) << pageShift)
		if err != nil {
			return 0, linux.ENOMEM
		}
		for i := uintptr(0); i < r.len(); i++ {
			mm.pages[r.start+i] = pte{off: fr.Start + uint64(i)<<pageShift, private: true, writable: true}
		}
		mm.noteRSSLocked()
		return r.len(), nil
	}
	var buf [faultAround]uint64
	for pn := r.start; pn < r.end; {
		n := min(r.end-pn, faultAround)
		got, err := v.mappable.GetPages(v.offsetOf(pn<<pageShift), buf[:n], write && !v.private)
		for i := 0; i < got; i++ {
			// A private mapping reads the object's pages until it
			// writes; a shared one uses them for good.
			mm.pages[pn+uintptr(i)] = pte{off: buf[i], writable: !v.private}
		}
		mm.noteRSSLocked()
		if err != nil {
			if !errors.Is(err, memmap.ErrBeyondEOF) {
				err = linux.ENOMEM
			}
			return pn - r.start + uintptr(got), err
		}
		pn += n
	}
	return r.len(), nil
}

// breakCOWLocked makes page pn (with entry p, not writable) writable in
// place: a private page nobody else holds is simply reused; otherwise the
// data is copied to a new page.
func (mm *MemoryManager) breakCOWLocked(v *vma, pn uintptr, p pte) error {
	if !v.private {
		p.writable = true
		mm.pages[pn] = p
		return nil
	}
	if p.private && mm.mf.RefCount(p.off) == 1 {
		p.writable = true
		mm.pages[pn] = p
		return nil
	}
	fr, err := mm.mf.Allocate(pageSize)
	if err != nil {
		return linux.ENOMEM
	}
	copy(mm.mf.Slice(fr), mm.mf.Slice(pgalloc.Range{Start: p.off, End: p.off + pageSize}))
	mm.decRefPage(p.off)
	mm.pages[pn] = pte{off: fr.Start, private: true, writable: true, plat: p.plat}
	// Remap now if mapped: the platform still points at the old page.
	if p.plat != platform.NoAccess && mm.as != nil {
		at := platformPerms(v, mm.pages[pn])
		if err := mm.as.MapFile(pn<<pageShift, fr.Start, pageSize, at); err != nil {
			return err
		}
		q := mm.pages[pn]
		q.plat = at
		mm.pages[pn] = q
	}
	return nil
}

// noteRSSLocked updates the resident-set high-water mark.
func (mm *MemoryManager) noteRSSLocked() {
	if n := uint64(len(mm.pages)); n > mm.maxRSS {
		mm.maxRSS = n
	}
}
