package mm

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// MProtect changes the protection of [addr, addr+length), like
// mprotect(2).
func (mm *MemoryManager) MProtect(addr, length uintptr, prot int) error {
	if addr&pageMask != 0 {
		return linux.EINVAL
	}
	growsDown := prot&linux.PROT_GROWSDOWN != 0
	if growsDown && prot&linux.PROT_GROWSUP != 0 {
		return linux.EINVAL
	}
	if prot&^(linux.PROT_READ|linux.PROT_WRITE|linux.PROT_EXEC|linux.PROT_SEM|linux.PROT_GROWSDOWN|linux.PROT_GROWSUP) != 0 {
		return linux.EINVAL
	}
	if length == 0 {
		return nil
	}
	end := (addr + length + pageMask) &^ pageMask
	if end <= addr {
		return linux.ENOMEM
	}
	perms := platform.AccessType{
		Read:    prot&linux.PROT_READ != 0,
		Write:   prot&linux.PROT_WRITE != 0,
		Execute: prot&linux.PROT_EXEC != 0,
	}

	mm.mu.Lock()
	defer mm.mu.Unlock()
	first := mm.vmaAtLocked(addr)
	if first == nil {
		return linux.ENOMEM
	}
	if growsDown {
		if !first.growsDown {
			return linux.EINVAL
		}
		addr = first.start
	}
	if prot&linux.PROT_GROWSUP != 0 {
		// No architecture we support has upward-growing stacks.
		return linux.EINVAL
	}
	// Check everything first so that a failure changes nothing.
	for a := addr; a < end; {
		v := mm.vmaAtLocked(a)
		if v == nil {
			return linux.ENOMEM
		}
		if !v.maxPerms.SupersetOf(perms) {
			return linux.EACCES
		}
		a = v.end
	}
	lo, hi := mm.isolateLocked(addr, end)
	for _, v := range mm.vmas[lo:hi] {
		if v.perms == perms {
			continue
		}
		v.perms = perms
		if err := mm.syncPlatformLocked(v, pagesOf(v.start, v.end), false); err != nil {
			return err
		}
	}
	mm.mergeRangeLocked(addr, end)
	return nil
}
