package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// InotifyInit implements inotify_init(2).
func InotifyInit(t *kernel.Task, _ uintptr, _ arch.SyscallArguments) (uintptr, error) {
	return inotifyInit(t, 0)
}

// InotifyInit1 implements inotify_init1(2).
func InotifyInit1(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return inotifyInit(t, args[0].Uint())
}

func inotifyInit(t *kernel.Task, flags uint32) (uintptr, error) {
	if flags&^(abilinux.IN_CLOEXEC|abilinux.IN_NONBLOCK) != 0 {
		return 0, abilinux.EINVAL
	}
	ctx := t.Context()
	file := t.Kernel().VFS.NewInotifyFD(flags)
	defer file.DecRef(ctx)
	fd, err := t.FDTable().NewFD(ctx, 0, file, vfs.FDFlags{CloseOnExec: flags&abilinux.IN_CLOEXEC != 0})
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// inotifyFile returns the inotify file fd names: EBADF if none is open
// there, EINVAL if it is not an inotify file.
func inotifyFile(t *kernel.Task, fd int32) (*vfs.FileDescription, *vfs.Inotify, error) {
	f, err := t.GetFile(fd)
	if err != nil {
		return nil, nil, err
	}
	in, ok := f.Impl().(*vfs.Inotify)
	if !ok {
		f.DecRef(t.Context())
		return nil, nil, abilinux.EINVAL
	}
	return f, in, nil
}

// InotifyAddWatch implements inotify_add_watch(2).
func InotifyAddWatch(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	fd, pathAddr, mask := args[0].Int(), args[1].Pointer(), args[2].Uint()
	if err := vfs.InotifyCheckMask(mask); err != nil {
		return 0, err
	}
	f, in, err := inotifyFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	var wd int32
	err = withPath(t, abilinux.AT_FDCWD, pathAddr, mask&abilinux.IN_DONT_FOLLOW == 0, false, func(pop *vfs.PathOperation) error {
		ctx, creds := t.Context(), t.Credentials()
		vd, err := t.Kernel().VFS.GetDentryAt(ctx, creds, pop, nil)
		if err != nil {
			return err
		}
		defer vd.DecRef()
		wd, err = in.AddWatch(ctx, creds, vd, mask)
		return err
	})
	if err != nil {
		return 0, err
	}
	return uintptr(wd), nil
}

// InotifyRmWatch implements inotify_rm_watch(2).
func InotifyRmWatch(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, in, err := inotifyFile(t, args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	return 0, in.RemoveWatch(args[1].Int())
}
