package linux

import (
	"errors"
	"math/bits"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// The propagation types of MS_SHARED and the like. The sandbox has one
// mount namespace and nothing to propagate to, so setting them changes
// nothing; a program that makes its mounts private before mounting
// (systemd, container tools) goes on.
const mountPropagationFlags = abilinux.MS_SHARED | abilinux.MS_PRIVATE | abilinux.MS_SLAVE | abilinux.MS_UNBINDABLE

// copyInMountString reads mount(2)'s type and source arguments: "" for a
// null pointer, as Linux's copy_mount_string.
func copyInMountString(t *kernel.Task, addr uintptr) (string, error) {
	if addr == 0 {
		return "", nil
	}
	return copyInPath(t, addr)
}

// copyInMountData reads mount(2)'s data, the filesystem's options. Linux
// copies a page of it whatever its length; every filesystem here takes a
// string, which ends within the page.
func copyInMountData(t *kernel.Task, addr uintptr) (string, error) {
	if addr == 0 {
		return "", nil
	}
	s, err := t.MemoryManager().CopyInString(addr, abilinux.PageSize)
	if errors.Is(err, abilinux.ENAMETOOLONG) {
		return "", abilinux.EINVAL
	}
	return s, err
}

// Mount implements mount(2): a new instance of a filesystem type that
// allows user mounts, a bind mount (MS_BIND, with MS_REC its submounts),
// a change of a mount's flags (MS_REMOUNT, with or without MS_BIND), and
// a change of propagation type, which is accepted and changes nothing.
// MS_MOVE is refused with EINVAL. As on Linux, the arguments are copied
// and the target resolved before CAP_SYS_ADMIN is checked.
func Mount(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	sourceAddr, targetAddr, typeAddr := args[0].Pointer(), args[1].Pointer(), args[2].Pointer()
	flags, dataAddr := args[3].Uint64(), args[4].Pointer()
	fsType, err := copyInMountString(t, typeAddr)
	if err != nil {
		return 0, err
	}
	source, err := copyInMountString(t, sourceAddr)
	if err != nil {
		return 0, err
	}
	data, err := copyInMountData(t, dataAddr)
	if err != nil {
		return 0, err
	}
	// Old programs put a magic number in the top half.
	if flags&abilinux.MS_MGC_MSK == abilinux.MS_MGC_VAL {
		flags &^= abilinux.MS_MGC_MSK
	}
	return 0, withPath(t, abilinux.AT_FDCWD, targetAddr, true, false, func(pop *vfs.PathOperation) error {
		ctx, creds, v := t.Context(), t.Credentials(), t.Kernel().VFS
		target, err := v.GetDentryAt(ctx, creds, pop, &vfs.GetDentryOptions{})
		if err != nil {
			return err
		}
		isMountRoot := target.Mount().Root() == target.Dentry()
		mnt := target.Mount()
		target.DecRef()
		if !creds.HasCapability(abilinux.CAP_SYS_ADMIN) {
			return abilinux.EPERM
		}
		mntFlags := uint32(flags) & vfs.MountFlagsMask
		switch {
		case flags&abilinux.MS_REMOUNT != 0:
			if !isMountRoot {
				return abilinux.EINVAL
			}
			mnt.SetFlags(mntFlags)
			return nil
		case flags&abilinux.MS_BIND != 0:
			return withPathString(t, abilinux.AT_FDCWD, source, true, false, func(src *vfs.PathOperation) error {
				_, err := v.BindAt(ctx, creds, src, pop, flags&abilinux.MS_REC != 0)
				return err
			})
		case flags&mountPropagationFlags != 0:
			// One type at a time, as Linux's flags_to_propagation_type.
			if !isMountRoot || bits.OnesCount64(flags&mountPropagationFlags) != 1 ||
				flags&^(mountPropagationFlags|abilinux.MS_REC|abilinux.MS_SILENT) != 0 {
				return abilinux.EINVAL
			}
			return nil
		case flags&abilinux.MS_MOVE != 0:
			return abilinux.EINVAL
		}
		if fsType == "" {
			return abilinux.EINVAL
		}
		_, err = v.MountAt(ctx, creds, source, pop, fsType, &vfs.MountOptions{
			Flags: mntFlags, GetFilesystemOptions: vfs.GetFilesystemOptions{Data: data},
		})
		return err
	})
}

// Umount2 implements umount2(2) (and so umount(3)). Linux checks the
// flags, then resolves the target, then the capability.
func Umount2(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	flags := args[1].Uint()
	if flags&^(abilinux.MNT_FORCE|abilinux.MNT_DETACH|abilinux.MNT_EXPIRE|abilinux.UMOUNT_NOFOLLOW) != 0 {
		return 0, abilinux.EINVAL
	}
	return 0, withPath(t, abilinux.AT_FDCWD, args[0].Pointer(), flags&abilinux.UMOUNT_NOFOLLOW == 0, false, func(pop *vfs.PathOperation) error {
		ctx, creds, v := t.Context(), t.Credentials(), t.Kernel().VFS
		vd, err := v.GetDentryAt(ctx, creds, pop, &vfs.GetDentryOptions{})
		if err != nil {
			return err
		}
		vd.DecRef()
		if !creds.HasCapability(abilinux.CAP_SYS_ADMIN) {
			return abilinux.EPERM
		}
		return v.UmountAt(ctx, creds, pop, &vfs.UmountOptions{Flags: flags})
	})
}
