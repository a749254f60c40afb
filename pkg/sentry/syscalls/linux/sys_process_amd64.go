package linux

import (
	"encoding/binary"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// cloneArgs decodes clone(2)'s arguments in amd64's order: flags, stack,
// parent_tid, child_tid, tls.
func cloneArgs(args arch.SyscallArguments) (flags uint64, stack, parentTID, childTID, tls uintptr) {
	return uint64(args[0].Uint()), args[1].Pointer(), args[2].Pointer(), args[3].Pointer(), args[4].Pointer()
}

// taskSizeMax is TASK_SIZE_MAX with 4-level paging: arch_prctl refuses
// segment bases at or above it.
const taskSizeMax = 1<<47 - abilinux.PageSize

// ArchPrctl implements arch_prctl(2).
func ArchPrctl(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	code := args[0].Int()
	addr := args[1].Pointer()
	regs := &t.Arch().Regs
	switch code {
	case abilinux.ARCH_SET_FS:
		if !t.Arch().SetTLS(addr) {
			return 0, abilinux.EPERM
		}
		return 0, nil
	case abilinux.ARCH_SET_GS:
		if addr >= taskSizeMax {
			return 0, abilinux.EPERM
		}
		regs.GsBase = uint64(addr)
		regs.Gs = 0
		return 0, nil
	case abilinux.ARCH_GET_FS:
		return 0, putUint64(t, addr, regs.FsBase)
	case abilinux.ARCH_GET_GS:
		return 0, putUint64(t, addr, regs.GsBase)
	case abilinux.ARCH_GET_CPUID:
		// CPUID runs natively and is never made to fault.
		return 1, nil
	case abilinux.ARCH_SET_CPUID:
		// Making CPUID fault needs CPUID faulting, which the Sentry does
		// not offer: Linux's answer on a CPU without it.
		return 0, abilinux.ENODEV
	}
	// The AMX permission and vDSO-mapping codes are not supported.
	return 0, abilinux.EINVAL
}

func putUint64(t *kernel.Task, addr uintptr, v uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		return abilinux.EFAULT
	}
	return nil
}
