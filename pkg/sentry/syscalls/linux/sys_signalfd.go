package linux

import (
	"encoding/binary"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/signalfd"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Signalfd implements signalfd(2), which has no flags.
func Signalfd(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return signalfd4(t, args[0].Int(), args[1].Pointer(), args[2].Uint64(), 0)
}

// Signalfd4 implements signalfd4(2).
func Signalfd4(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return signalfd4(t, args[0].Int(), args[1].Pointer(), args[2].Uint64(), args[3].Uint())
}

// signalfd4 makes a signalfd when fd is -1 and otherwise replaces the set
// of the signalfd fd (its flags stay as they are).
func signalfd4(t *kernel.Task, fd int32, maskAddr uintptr, size uint64, flags uint32) (uintptr, error) {
	if size != abilinux.SignalSetSize {
		return 0, abilinux.EINVAL
	}
	var b [abilinux.SignalSetSize]byte
	if _, err := t.CopyIn(maskAddr, b[:]); err != nil {
		return 0, err
	}
	mask := abilinux.SignalSet(binary.LittleEndian.Uint64(b[:]))
	if flags&^(abilinux.SFD_CLOEXEC|abilinux.SFD_NONBLOCK) != 0 {
		return 0, abilinux.EINVAL
	}
	ctx := t.Context()
	if fd != -1 {
		file, err := getFileNoPath(t, fd)
		if err != nil {
			return 0, err
		}
		defer file.DecRef(ctx)
		s, ok := signalfd.FromFD(file)
		if !ok {
			return 0, abilinux.EINVAL
		}
		s.SetMask(mask)
		return uintptr(fd), nil
	}
	file := signalfd.New(t.Kernel().VFS, t, mask, flags)
	defer file.DecRef(ctx)
	nfd, err := t.FDTable().NewFD(ctx, 0, file, vfs.FDFlags{CloseOnExec: flags&abilinux.SFD_CLOEXEC != 0})
	if err != nil {
		return 0, err
	}
	return uintptr(nfd), nil
}
