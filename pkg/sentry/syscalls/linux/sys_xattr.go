package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// No file system of the Sentry stores extended attributes yet. The
// handlers still resolve the file and validate the name, so errors about
// the call itself (ENOENT, EFAULT, ERANGE) match Linux, and then answer as
// Linux does for a file system without the attribute: a read finds none
// (ENODATA), a list is empty, a write is not supported (EOPNOTSUPP).

// xattrNameMax is XATTR_NAME_MAX.
const xattrNameMax = 255

// xattrTarget checks that the file the call names exists: by path
// (following symlinks unless nofollow) or by fd when pathAddr is 0.
func xattrTarget(t *kernel.Task, fd int32, pathAddr uintptr, byFD, nofollow bool) error {
	if byFD {
		file, err := t.GetFile(fd)
		if err != nil {
			return err
		}
		file.DecRef(t.Context())
		return nil
	}
	return withPath(t, abilinux.AT_FDCWD, pathAddr, !nofollow, false, func(pop *vfs.PathOperation) error {
		_, err := t.Kernel().VFS.StatAt(t.Context(), t.Credentials(), pop, vfs.StatOptions{Mask: abilinux.STATX_TYPE})
		return err
	})
}

// xattrName copies in and validates an attribute name.
func xattrName(t *kernel.Task, addr uintptr) error {
	name, err := t.MemoryManager().CopyInString(addr, xattrNameMax+1)
	if err == abilinux.ENAMETOOLONG || (err == nil && name == "") {
		return abilinux.ERANGE
	}
	return err
}

func getxattr(t *kernel.Task, args arch.SyscallArguments, byFD, nofollow bool) (uintptr, error) {
	if err := xattrTarget(t, args[0].Int(), args[0].Pointer(), byFD, nofollow); err != nil {
		return 0, err
	}
	if err := xattrName(t, args[1].Pointer()); err != nil {
		return 0, err
	}
	return 0, abilinux.ENODATA
}

func listxattr(t *kernel.Task, args arch.SyscallArguments, byFD, nofollow bool) (uintptr, error) {
	if err := xattrTarget(t, args[0].Int(), args[0].Pointer(), byFD, nofollow); err != nil {
		return 0, err
	}
	return 0, nil
}

func setxattr(t *kernel.Task, args arch.SyscallArguments, byFD, nofollow bool) (uintptr, error) {
	if err := xattrTarget(t, args[0].Int(), args[0].Pointer(), byFD, nofollow); err != nil {
		return 0, err
	}
	if err := xattrName(t, args[1].Pointer()); err != nil {
		return 0, err
	}
	return 0, abilinux.EOPNOTSUPP
}

// Getxattr implements getxattr(2).
func Getxattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return getxattr(t, args, false, false)
}

// Lgetxattr implements lgetxattr(2).
func Lgetxattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return getxattr(t, args, false, true)
}

// Fgetxattr implements fgetxattr(2).
func Fgetxattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return getxattr(t, args, true, false)
}

// Listxattr implements listxattr(2).
func Listxattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return listxattr(t, args, false, false)
}

// Llistxattr implements llistxattr(2).
func Llistxattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return listxattr(t, args, false, true)
}

// Flistxattr implements flistxattr(2).
func Flistxattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return listxattr(t, args, true, false)
}

// Setxattr implements setxattr(2).
func Setxattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return setxattr(t, args, false, false)
}

// Lsetxattr implements lsetxattr(2).
func Lsetxattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return setxattr(t, args, false, true)
}

// Fsetxattr implements fsetxattr(2).
func Fsetxattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return setxattr(t, args, true, false)
}

// Removexattr implements removexattr(2).
func Removexattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return setxattr(t, args, false, false)
}

// Lremovexattr implements lremovexattr(2).
func Lremovexattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return setxattr(t, args, false, true)
}

// Fremovexattr implements fremovexattr(2).
func Fremovexattr(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return setxattr(t, args, true, false)
}
