package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// Resource limits.

// Getrlimit implements getrlimit(2).
func Getrlimit(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	if args[0].Uint() >= abilinux.RLIM_NLIMITS {
		return 0, abilinux.EINVAL
	}
	lim := t.RLimit(int(args[0].Uint()))
	if err := t.MemoryManager().CopyObjectOut(args[1].Pointer(), &lim); err != nil {
		return 0, abilinux.EFAULT
	}
	return 0, nil
}

// Setrlimit implements setrlimit(2).
func Setrlimit(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	if args[0].Uint() >= abilinux.RLIM_NLIMITS {
		return 0, abilinux.EINVAL
	}
	var lim abilinux.Rlimit
	if err := t.MemoryManager().CopyObjectIn(args[1].Pointer(), &lim); err != nil {
		return 0, abilinux.EFAULT
	}
	_, err := t.Prlimit(0, int(args[0].Uint()), &lim)
	return 0, err
}

// Prlimit64 implements prlimit64(2): either pointer may be NULL, and pid
// names any process the caller may act on.
func Prlimit64(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	pid := args[0].Int()
	if pid < 0 {
		return 0, abilinux.ESRCH
	}
	resource := args[1].Uint()
	if resource >= abilinux.RLIM_NLIMITS {
		return 0, abilinux.EINVAL
	}
	var newLim *abilinux.Rlimit
	if addr := args[2].Pointer(); addr != 0 {
		newLim = new(abilinux.Rlimit)
		if err := t.MemoryManager().CopyObjectIn(addr, newLim); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	old, err := t.Prlimit(kernel.ThreadID(pid), int(resource), newLim)
	if err != nil {
		return 0, err
	}
	if addr := args[3].Pointer(); addr != 0 {
		if err := t.MemoryManager().CopyObjectOut(addr, &old); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	return 0, nil
}
