package linux

import (
	"math"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/pipe"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Close implements close(2).
func Close(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.FDTable().Close(t.Context(), args[0].Int())
}

// CloseRange implements close_range(2).
func CloseRange(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	first, last, flags := args[0].Uint(), args[1].Uint(), args[2].Uint()
	if flags&^(abilinux.CLOSE_RANGE_CLOEXEC|abilinux.CLOSE_RANGE_UNSHARE) != 0 || first > last {
		return 0, abilinux.EINVAL
	}
	if flags&abilinux.CLOSE_RANGE_UNSHARE != 0 {
		// Close in a private copy, leaving the other sharers' table as
		// it was.
		t.UnshareFDTable()
	}
	return 0, t.FDTable().CloseRange(t.Context(), first, last, flags)
}

// Dup implements dup(2).
func Dup(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	fd, err := t.FDTable().Dup(t.Context(), args[0].Int(), 0, vfs.FDFlags{})
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// Dup2 implements dup2(2).
func Dup2(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	newfd, ok := fdArg(args[1].Uint())
	if !ok {
		return 0, abilinux.EBADF
	}
	fd, err := t.FDTable().Dup2(t.Context(), args[0].Int(), newfd)
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// Dup3 implements dup3(2).
func Dup3(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	flags := args[2].Int()
	if flags&^abilinux.O_CLOEXEC != 0 {
		return 0, abilinux.EINVAL
	}
	if args[0].Uint() == args[1].Uint() {
		return 0, abilinux.EINVAL
	}
	newfd, ok := fdArg(args[1].Uint())
	if !ok {
		return 0, abilinux.EBADF
	}
	fd, err := t.FDTable().Dup3(t.Context(), args[0].Int(), newfd, vfs.FDFlags{CloseOnExec: flags&abilinux.O_CLOEXEC != 0})
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// fdArg converts an unsigned int descriptor argument; values that do
// not fit an int32 are beyond any table.
func fdArg(v uint32) (int32, bool) {
	if v > math.MaxInt32 {
		return 0, false
	}
	return int32(v), true
}

// fcntlPathCommands are the commands an O_PATH descriptor accepts.
func fcntlPathCommand(cmd int32) bool {
	switch cmd {
	case abilinux.F_DUPFD, abilinux.F_DUPFD_CLOEXEC, abilinux.F_GETFD, abilinux.F_SETFD, abilinux.F_GETFL:
		return true
	}
	return false
}

// Fcntl implements fcntl(2). Record locks are in sys_lock.go; seals
// are tmpfs's (memfds and tmpfs files, as on Linux); SIGIO ownership
// (F_SETOWN and friends) and dnotify (F_NOTIFY) are in sys_fasync.go.
// Leases are refused with EINVAL, as a kernel built without them would.
func Fcntl(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	fd, cmd := args[0].Int(), args[1].Int()
	f, flags := t.FDTable().Get(fd)
	if f == nil {
		return 0, abilinux.EBADF
	}
	ctx := t.Context()
	defer f.DecRef(ctx)
	if f.StatusFlags()&abilinux.O_PATH != 0 && !fcntlPathCommand(cmd) {
		return 0, abilinux.EBADF
	}
	switch cmd {
	case abilinux.F_DUPFD, abilinux.F_DUPFD_CLOEXEC:
		min, ok := fdArg(args[2].Uint())
		if !ok {
			return 0, abilinux.EINVAL
		}
		nfd, err := t.FDTable().Dup(ctx, fd, min, vfs.FDFlags{CloseOnExec: cmd == abilinux.F_DUPFD_CLOEXEC})
		if err != nil {
			return 0, err
		}
		return uintptr(nfd), nil
	case abilinux.F_GETFD:
		return uintptr(flags.ToLinux()), nil
	case abilinux.F_SETFD:
		return 0, t.FDTable().SetFlags(fd, vfs.FDFlags{CloseOnExec: args[2].Int()&abilinux.FD_CLOEXEC != 0})
	case abilinux.F_GETFL:
		return uintptr(f.StatusFlags()), nil
	case abilinux.F_SETFL:
		return 0, f.SetStatusFlagsFD(ctx, t.Credentials(), args[2].Uint(), fd)
	case abilinux.F_SETOWN, abilinux.F_GETOWN, abilinux.F_SETOWN_EX, abilinux.F_GETOWN_EX, abilinux.F_SETSIG, abilinux.F_GETSIG:
		return fcntlAsync(t, f, cmd, args[2])
	case abilinux.F_NOTIFY:
		// The argument is an unsigned int; DN_MULTISHOT is its top bit.
		return 0, fcntlNotify(t, f, fd, args[2].Uint())
	case abilinux.F_GETPIPE_SZ:
		p, ok := pipe.FromFD(f)
		if !ok {
			return 0, abilinux.EBADF
		}
		return uintptr(p.Capacity()), nil
	case abilinux.F_SETPIPE_SZ:
		p, ok := pipe.FromFD(f)
		if !ok {
			return 0, abilinux.EBADF
		}
		n, err := p.SetCapacity(int64(args[2].Uint()), t.Credentials().HasCapability(abilinux.CAP_SYS_RESOURCE))
		if err != nil {
			return 0, err
		}
		return uintptr(n), nil
	case abilinux.F_GETLK, abilinux.F_SETLK, abilinux.F_SETLKW, abilinux.F_OFD_GETLK, abilinux.F_OFD_SETLK, abilinux.F_OFD_SETLKW:
		return 0, fcntlLock(t, f, cmd, args[2].Pointer())
	case abilinux.F_ADD_SEALS:
		return 0, tmpfs.AddSeals(f, args[2].Uint())
	case abilinux.F_GET_SEALS:
		seals, err := tmpfs.Seals(f)
		return uintptr(seals), err
	case abilinux.F_GETLEASE:
		// Nothing can take a lease, so there is none.
		return abilinux.F_UNLCK, nil
	default:
		t.RecordUnsupported(kernel.CompatFcntl, uint64(cmd), "")
		return 0, abilinux.EINVAL
	}
}
