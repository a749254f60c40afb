package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/mm"
)

// legacyMapMask is Linux's LEGACY_MAP_MASK: the mmap flags that
// MAP_SHARED_VALIDATE accepts for a file without MAP_SYNC support. MAP_SHARED
// silently drops any other bit.
const legacyMapMask = abilinux.MAP_SHARED | abilinux.MAP_PRIVATE | abilinux.MAP_FIXED |
	abilinux.MAP_ANONYMOUS | abilinux.MAP_DENYWRITE | abilinux.MAP_EXECUTABLE |
	abilinux.MAP_UNINITIALIZED | abilinux.MAP_GROWSDOWN | abilinux.MAP_LOCKED |
	abilinux.MAP_NORESERVE | abilinux.MAP_POPULATE | abilinux.MAP_NONBLOCK |
	abilinux.MAP_STACK | abilinux.MAP_HUGETLB | archMapFlags |
	abilinux.MAP_HUGE_MASK<<abilinux.MAP_HUGE_SHIFT

// Mmap implements mmap(2).
func Mmap(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	addr := args[0].Pointer()
	length := args[1].Pointer()
	prot := int(args[2].Int())
	flags := int(args[3].Int())
	fd := args[4].Int()
	offset := args[5].Uint64()

	if offset&(abilinux.PageSize-1) != 0 {
		return 0, abilinux.EINVAL
	}
	anon := flags&abilinux.MAP_ANONYMOUS != 0
	if anon {
		return mmapAnonymous(t, addr, length, prot, flags)
	}
	file, err := t.GetFile(fd)
	if err != nil {
		return 0, err
	}
	defer file.DecRef(t.Context())
	if file.StatusFlags()&abilinux.O_PATH != 0 {
		return 0, abilinux.EBADF
	}

	if flags&abilinux.MAP_TYPE == abilinux.MAP_SHARED {
		flags &= legacyMapMask
	}
	opts, err := mm.ParseMMap(addr, length, prot, flags, offset)
	if err != nil {
		return 0, err
	}
	if !opts.Private {
		// No file type supports MAP_SYNC (it needs DAX).
		if flags&^legacyMapMask != 0 {
			return 0, abilinux.EOPNOTSUPP
		}
		if opts.Perms.Write && !file.IsWritable() {
			return 0, abilinux.EACCES
		}
		if file.StatusFlags()&abilinux.O_APPEND != 0 && file.IsWritable() {
			return 0, abilinux.EACCES
		}
		if !file.IsWritable() {
			// A read-only shared mapping can never be made writable.
			opts.MaxPerms.Write = false
		}
	}
	if !file.IsReadable() {
		return 0, abilinux.EACCES
	}
	if mnt := file.Mount(); mnt != nil && mnt.NoExec() {
		if opts.Perms.Execute {
			return 0, abilinux.EPERM
		}
		opts.MaxPerms.Execute = false
	}
	if opts.GrowsDown {
		return 0, abilinux.EINVAL
	}
	// The file fills in opts.Mappable; files that cannot be mapped
	// return ENODEV, as Linux does for a file without an mmap operation.
	if err := file.ConfigureMMap(t.Context(), &opts); err != nil {
		return 0, err
	}
	return t.MemoryManager().MMap(opts)
}

// mmapAnonymous is mmap(2) of MAP_ANONYMOUS memory; the fd is ignored, as
// on Linux.
func mmapAnonymous(t *kernel.Task, addr, length uintptr, prot, flags int) (uintptr, error) {
	switch flags & abilinux.MAP_TYPE {
	case abilinux.MAP_SHARED:
		if flags&abilinux.MAP_GROWSDOWN != 0 {
			return 0, abilinux.EINVAL
		}
	case abilinux.MAP_PRIVATE:
	default:
		// Including MAP_SHARED_VALIDATE: Linux accepts it only for files.
		return 0, abilinux.EINVAL
	}
	if flags&abilinux.MAP_HUGETLB != 0 {
		// There is no huge page pool in the sandbox, as on a host with
		// vm.nr_hugepages = 0.
		return 0, abilinux.ENOMEM
	}
	opts, err := mm.ParseMMap(addr, length, prot, flags, 0)
	if err != nil {
		return 0, err
	}
	return t.MemoryManager().MMap(opts)
}

// Munmap implements munmap(2).
func Munmap(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MUnmap(args[0].Pointer(), args[1].Pointer())
}

// Mprotect implements mprotect(2).
func Mprotect(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MProtect(args[0].Pointer(), args[1].Pointer(), int(args[2].Int()))
}

// Mremap implements mremap(2).
func Mremap(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return t.MemoryManager().MRemap(args[0].Pointer(), args[1].Pointer(), args[2].Pointer(), int(args[3].Int()), args[4].Pointer())
}

// Brk implements brk(2). It never fails: on refusal it returns the
// unchanged break, which is how programs detect failure.
func Brk(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return t.MemoryManager().Brk(args[0].Pointer()), nil
}

// Madvise implements madvise(2).
func Madvise(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MAdvise(args[0].Pointer(), args[1].Pointer(), int(args[2].Int()))
}

// Msync implements msync(2).
func Msync(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MSync(args[0].Pointer(), args[1].Pointer(), int(args[2].Int()))
}

// Mincore implements mincore(2).
func Mincore(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	vec, err := t.MemoryManager().MInCore(args[0].Pointer(), args[1].Pointer())
	if err != nil {
		return 0, err
	}
	if _, err := t.CopyOut(args[2].Pointer(), vec); err != nil {
		return 0, abilinux.EFAULT
	}
	return 0, nil
}

// Mlock implements mlock(2).
func Mlock(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MLock(args[0].Pointer(), args[1].Pointer(), false)
}

// Mlock2 implements mlock2(2).
func Mlock2(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	flags := args[2].Int()
	if flags&^abilinux.MLOCK_ONFAULT != 0 {
		return 0, abilinux.EINVAL
	}
	return 0, t.MemoryManager().MLock(args[0].Pointer(), args[1].Pointer(), flags&abilinux.MLOCK_ONFAULT != 0)
}

// Munlock implements munlock(2).
func Munlock(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MUnlock(args[0].Pointer(), args[1].Pointer())
}

// Mlockall implements mlockall(2).
func Mlockall(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MLockAll(int(args[0].Int()))
}

// Munlockall implements munlockall(2).
func Munlockall(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	t.MemoryManager().MUnlockAll()
	return 0, nil
}
