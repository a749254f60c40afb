package mm

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
)

// ForceIO copies between buf and the address space at addr the way a
// debugger reaches into another process (ptrace PEEK/POKE, /proc/PID/mem,
// Linux's FOLL_FORCE): a read succeeds on memory mapped without PROT_READ
// as long as the mapping may be made readable, and a write to a private
// mapping without PROT_WRITE (program text, say) breaks copy-on-write and
// lands in the process's own copy of the page, which stays read-only to
// the application. A forced write to a read-only shared mapping is EFAULT,
// as in Linux since 4.x. It returns the bytes copied, with EFAULT if it
// stopped early.
func (mm *MemoryManager) ForceIO(addr uintptr, buf []byte, write bool) (int, error) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.forceIOLocked(addr, buf, write)
}

// forceIOLocked is ForceIO with mu held for writing.
func (mm *MemoryManager) forceIOLocked(addr uintptr, buf []byte, write bool) (int, error) {
	if mm.released {
		return 0, linux.EFAULT
	}
	done := 0
	for done < len(buf) {
		a := addr + uintptr(done)
		if a < addr {
			return done, linux.EFAULT
		}
		v := mm.vmaAtLocked(a)
		if v == nil {
			return done, linux.EFAULT
		}
		if write {
			if !v.perms.Write && !v.private {
				return done, linux.EFAULT
			}
		} else if !effectivePerms(v.perms).Read && !v.maxPerms.Read {
			return done, linux.EFAULT
		}
		pn := a >> pageShift
		p, ok := mm.pages[pn]
		if !ok || (write && !p.writable) {
			mm.populateLocked(v, pagesOf(a, a+1), write, false)
			if p, ok = mm.pages[pn]; !ok || (write && !p.writable) {
				return done, linux.EFAULT
			}
		}
		in := uint64(a & pageMask)
		n := min(len(buf)-done, pageSize-int(in))
		mem := mm.mf.Slice(pgalloc.Range{Start: p.off + in, End: p.off + in + uint64(n)})
		if write {
			copy(mem, buf[done:done+n])
		} else {
			copy(buf[done:done+n], mem)
		}
		done += n
	}
	return done, nil
}
