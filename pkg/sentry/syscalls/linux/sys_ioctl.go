package linux

import (
	"encoding/binary"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Ioctl implements ioctl(2). The requests every file answers the same
// way are handled here; the rest go to the file, with the caller's memory
// for the argument.
func Ioctl(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	fd, cmd, arg := args[0].Int(), args[1].Uint(), args[2].Pointer()
	ctx := t.Context()
	f, err := t.GetFile(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(ctx)
	if f.StatusFlags()&abilinux.O_PATH != 0 {
		return 0, abilinux.EBADF
	}
	switch cmd {
	case abilinux.FIOCLEX, abilinux.FIONCLEX:
		return 0, t.FDTable().SetFlags(fd, vfs.FDFlags{CloseOnExec: cmd == abilinux.FIOCLEX})
	case abilinux.FIONBIO, abilinux.FIOASYNC:
		on, err := copyInInt32(t, arg)
		if err != nil {
			return 0, err
		}
		flag := uint32(abilinux.O_NONBLOCK)
		if cmd == abilinux.FIOASYNC {
			flag = abilinux.O_ASYNC
			// Linux refuses FIOASYNC with ENOTTY for files without
			// asynchronous notification (an fasync operation).
			if !f.SupportsAsync(ctx) {
				return 0, abilinux.ENOTTY
			}
		}
		flags := f.StatusFlags() &^ flag
		if on != 0 {
			flags |= flag
		}
		return 0, f.SetStatusFlagsFD(ctx, t.Credentials(), flags, fd)
	case abilinux.FIOSETOWN, abilinux.SIOCSPGRP, abilinux.FIOGETOWN, abilinux.SIOCGPGRP:
		// Linux's socket layer answers these for every socket; other
		// files leave them to their driver (ENOTTY for most).
		if _, ok := f.Impl().(socket.Socket); ok {
			return 0, ioctlSocketOwner(t, f, cmd, arg)
		}
	case abilinux.FIONREAD:
		if f.Inode().Type() == abilinux.S_IFREG {
			// Regular files answer for themselves in Linux: the
			// bytes between the offset and the end.
			sx, err := f.Stat(ctx, vfs.StatOptions{Mask: abilinux.STATX_SIZE})
			if err != nil {
				return 0, err
			}
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], uint32(int64(sx.Size)-f.Offset()))
			_, err = t.CopyOut(arg, b[:])
			return 0, err
		}
	}
	r, err := f.Ioctl(ctx, TaskUserMemory(t), cmd, uint64(arg))
	t.RecordIoctlFailure(f, cmd, err)
	return uintptr(r), err
}

func copyInInt32(t *kernel.Task, addr uintptr) (int32, error) {
	var b [4]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(b[:])), nil
}
