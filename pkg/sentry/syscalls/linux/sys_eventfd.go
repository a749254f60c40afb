package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/eventfd"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Eventfd implements eventfd(2), which has no flags.
func Eventfd(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return eventfd2(t, args[0].Uint(), 0)
}

// Eventfd2 implements eventfd2(2).
func Eventfd2(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return eventfd2(t, args[0].Uint(), args[1].Uint())
}

func eventfd2(t *kernel.Task, initval, flags uint32) (uintptr, error) {
	if flags&^(abilinux.EFD_CLOEXEC|abilinux.EFD_NONBLOCK|abilinux.EFD_SEMAPHORE) != 0 {
		return 0, abilinux.EINVAL
	}
	ctx := t.Context()
	file := eventfd.New(t.Kernel().VFS, uint64(initval), flags)
	defer file.DecRef(ctx)
	fd, err := t.FDTable().NewFD(ctx, 0, file, vfs.FDFlags{CloseOnExec: flags&abilinux.EFD_CLOEXEC != 0})
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}
