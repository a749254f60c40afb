package linux

import (
	"math"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Signal-driven I/O commands: fcntl's F_SETOWN, F_GETOWN, F_SETOWN_EX,
// F_GETOWN_EX, F_SETSIG and F_GETSIG, and the socket ioctls FIOSETOWN,
// SIOCSPGRP, FIOGETOWN and SIOCGPGRP; and fcntl's F_NOTIFY, whose
// signals go to the same owner. The owner and the signal live on the
// file description (vfs/file_async.go, vfs/dnotify.go); the kernel
// resolves IDs to owners (kernel/file_async.go).

// fcntlAsync implements the owner and signal commands of fcntl(2).
func fcntlAsync(t *kernel.Task, f *vfs.FileDescription, cmd int32, arg arch.SyscallArgument) (uintptr, error) {
	switch cmd {
	case abilinux.F_SETOWN:
		return 0, setOwnerByPID(t, f, arg.Int())
	case abilinux.F_GETOWN:
		return uintptr(int64(getOwnerAsPID(t, f))), nil
	case abilinux.F_SETOWN_EX:
		var ex abilinux.FOwnerEx
		b := make([]byte, ex.SizeBytes())
		if _, err := t.CopyIn(arg.Pointer(), b); err != nil {
			return 0, err
		}
		ex.UnmarshalBytes(b)
		o, err := t.NewFileOwner(ex.Type, kernel.ThreadID(ex.PID))
		if err != nil {
			return 0, err
		}
		f.SetOwner(o)
		return 0, nil
	case abilinux.F_GETOWN_EX:
		kind, id := t.FileOwnerID(f.Owner())
		ex := abilinux.FOwnerEx{Type: kind, PID: int32(id)}
		b := make([]byte, ex.SizeBytes())
		ex.MarshalBytes(b)
		_, err := t.CopyOut(arg.Pointer(), b)
		return 0, err
	case abilinux.F_SETSIG:
		// Linux's valid_signal takes the int argument as unsigned: 0
		// (SIGIO without details) up to the last real-time signal.
		sig := arg.Int()
		if sig < 0 || sig > abilinux.NumSignals {
			return 0, abilinux.EINVAL
		}
		f.SetAsyncSignal(abilinux.Signal(sig))
		return 0, nil
	case abilinux.F_GETSIG:
		return uintptr(f.AsyncSignal()), nil
	}
	return 0, abilinux.EINVAL
}

// fcntlNotify implements fcntl(F_NOTIFY) through descriptor fd. Linux
// makes the calling task, by its PID taken as a process ID, the file's
// owner if it has none.
func fcntlNotify(t *kernel.Task, f *vfs.FileDescription, fd int32, mask uint32) error {
	caller, err := t.NewFileOwner(abilinux.F_OWNER_PID, t.ThreadID())
	if err != nil {
		return err
	}
	return f.SetDirNotify(t.FDTable(), fd, mask, caller)
}

// setOwnerByPID is F_SETOWN and FIOSETOWN: a positive ID names a
// process, a negative one a process group, 0 removes the owner.
func setOwnerByPID(t *kernel.Task, f *vfs.FileDescription, who int32) error {
	kind := int32(abilinux.F_OWNER_PID)
	if who < 0 {
		if who == math.MinInt32 {
			return abilinux.EINVAL
		}
		kind, who = abilinux.F_OWNER_PGRP, -who
	}
	o, err := t.NewFileOwner(kind, kernel.ThreadID(who))
	if err != nil {
		return err
	}
	f.SetOwner(o)
	return nil
}

// getOwnerAsPID is F_GETOWN and FIOGETOWN: a process group reads as its
// negated ID, and an owner that no longer exists as 0.
func getOwnerAsPID(t *kernel.Task, f *vfs.FileDescription) int32 {
	kind, id := t.FileOwnerID(f.Owner())
	if kind == abilinux.F_OWNER_PGRP {
		return -int32(id)
	}
	return int32(id)
}

// ioctlSocketOwner implements FIOSETOWN/SIOCSPGRP (an int in F_SETOWN's
// form) and FIOGETOWN/SIOCGPGRP (F_GETOWN's answer, written back) for
// sockets.
func ioctlSocketOwner(t *kernel.Task, f *vfs.FileDescription, cmd uint32, arg uintptr) error {
	if cmd == abilinux.FIOSETOWN || cmd == abilinux.SIOCSPGRP {
		who, err := copyInInt32(t, arg)
		if err != nil {
			return err
		}
		return setOwnerByPID(t, f, who)
	}
	v := getOwnerAsPID(t, f)
	b := []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
	_, err := t.CopyOut(arg, b)
	return err
}
