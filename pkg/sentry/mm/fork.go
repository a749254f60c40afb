package mm

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// Fork returns a copy of the address space for a child process: private
// pages are shared copy-on-write (neither side may write them in place any
// more, so both take a fault and copy on their next write), shared
// mappings stay shared, MADV_DONTFORK ranges are left out and
// MADV_WIPEONFORK ranges start empty in the child. Locks are not inherited.
func (mm *MemoryManager) Fork() (*MemoryManager, error) {
	mm.patch.mu.Lock()
	defer mm.patch.mu.Unlock()
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.released {
		return nil, linux.ENOMEM
	}
	as, err := mm.newAS()
	if err != nil {
		return nil, err
	}
	c := &MemoryManager{
		mf:         mm.mf,
		newAS:      mm.newAS,
		as:         as,
		pages:      make(map[uintptr]pte, len(mm.pages)),
		layout:     mm.layout,
		stackLimit: mm.stackLimit,
		brkStart:   mm.brkStart,
		brk:        mm.brk,
		stackStart: mm.stackStart,
	}
	c.users.Store(1)
	c.patch.forkFrom(&mm.patch)

	var revoke []platform.MappingChange
	for _, v := range mm.vmas {
		if v.dontFork {
			continue
		}
		cv := *v
		cv.locked = false
		if err := c.addMappingLocked(&cv); err != nil {
			c.Release()
			return nil, err
		}
		c.vmas = append(c.vmas, &cv)
		if v.wipeOnFork {
			continue
		}
		for _, pn := range mm.pagesInRangeLocked(pagesOf(v.start, v.end)) {
			p := mm.pages[pn]
			mm.incRefPage(p.off)
			if v.private && p.private {
				p.writable = false
				mm.pages[pn] = p
			}
			c.pages[pn] = pte{off: p.off, private: p.private, writable: p.writable}
		}
		if v.private && mm.as != nil {
			// Revoke write access in the parent's platform mappings now;
			// the child's are created by its faults.
			revoke = mm.platformChangesLocked(revoke, v, pagesOf(v.start, v.end), false)
		}
	}
	if len(revoke) > 0 {
		if err := mm.applyLocked(revoke); err != nil {
			c.Release()
			return nil, err
		}
	}
	// Adjacent VMAs separated only by lock state may merge now.
	if len(c.vmas) > 0 {
		c.mergeRangeLocked(c.vmas[0].start, c.vmas[len(c.vmas)-1].end)
	}
	c.maxRSS = uint64(len(c.pages))
	return c, nil
}
