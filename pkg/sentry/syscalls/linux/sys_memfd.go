package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// memfdFlags are the MFD_* bits memfd_create knows, less MFD_HUGETLB,
// which needs hugetlbfs and is refused with EINVAL as a kernel without it
// does.
const memfdFlags = abilinux.MFD_CLOEXEC | abilinux.MFD_ALLOW_SEALING | abilinux.MFD_NOEXEC_SEAL | abilinux.MFD_EXEC

// MemfdCreate implements memfd_create(2).
func MemfdCreate(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	addr, flags := args[0].Pointer(), args[1].Uint()
	if flags&^memfdFlags != 0 {
		return 0, abilinux.EINVAL
	}
	if flags&abilinux.MFD_EXEC != 0 && flags&abilinux.MFD_NOEXEC_SEAL != 0 {
		return 0, abilinux.EINVAL
	}
	// One byte more than allowed tells a long name from a fitting one.
	name, err := t.MemoryManager().CopyInString(addr, tmpfs.MemfdNameMax+1)
	if err == abilinux.ENAMETOOLONG || len(name) > tmpfs.MemfdNameMax {
		return 0, abilinux.EINVAL
	}
	if err != nil {
		return 0, err
	}
	ctx := t.Context()
	f, err := tmpfs.NewMemfd(ctx, t.Kernel().VFS, t.MemoryManager().MemoryFile(), t.Credentials(), name, flags)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(ctx)
	fd, err := t.FDTable().NewFD(ctx, 0, f, vfs.FDFlags{CloseOnExec: flags&abilinux.MFD_CLOEXEC != 0})
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}
