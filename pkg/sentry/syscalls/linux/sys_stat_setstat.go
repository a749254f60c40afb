package linux

import (
	"encoding/binary"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// setStatAt applies opts to what (dirfd, path) names.
func setStatAt(t *kernel.Task, dirfd int32, pathAddr uintptr, follow, allowEmpty bool, opts vfs.SetStatOptions) error {
	return withPath(t, dirfd, pathAddr, follow, allowEmpty, func(pop *vfs.PathOperation) error {
		return t.Kernel().VFS.SetStatAt(t.Context(), t.Credentials(), pop, opts)
	})
}

// setStatFD applies opts to the open file fd. O_PATH descriptors are
// EBADF, as in Linux.
func setStatFD(t *kernel.Task, fd int32, opts vfs.SetStatOptions) error {
	f, err := t.GetFile(fd)
	if err != nil {
		return err
	}
	defer f.DecRef(t.Context())
	return f.SetStat(t.Context(), t.Credentials(), opts)
}

func chmodOpts(mode uint32) vfs.SetStatOptions {
	return vfs.SetStatOptions{Mask: abilinux.STATX_MODE, Mode: uint16(mode & abilinux.PermissionsMask)}
}

// Chmod implements chmod(2).
func Chmod(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, setStatAt(t, abilinux.AT_FDCWD, args[0].Pointer(), true, false, chmodOpts(args[1].Uint()))
}

// Fchmod implements fchmod(2).
func Fchmod(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, setStatFD(t, args[0].Int(), chmodOpts(args[1].Uint()))
}

// Fchmodat implements fchmodat(2), which has no flags argument.
func Fchmodat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, setStatAt(t, args[0].Int(), args[1].Pointer(), true, false, chmodOpts(args[2].Uint()))
}

// chownOpts converts chown's IDs, where -1 leaves one unchanged; an ID
// the caller's user namespace does not map is EINVAL.
func chownOpts(t *kernel.Task, uid, gid uint32) (vfs.SetStatOptions, error) {
	var opts vfs.SetStatOptions
	ns := t.Credentials().UserNamespace
	if uid != auth.NoID {
		k := ns.MapToKUID(uid)
		if !k.Ok() {
			return opts, abilinux.EINVAL
		}
		opts.Mask |= abilinux.STATX_UID
		opts.UID = k
	}
	if gid != auth.NoID {
		k := ns.MapToKGID(gid)
		if !k.Ok() {
			return opts, abilinux.EINVAL
		}
		opts.Mask |= abilinux.STATX_GID
		opts.GID = k
	}
	return opts, nil
}

// Chown implements chown(2).
func Chown(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, fchownat(t, abilinux.AT_FDCWD, args[0].Pointer(), args[1].Uint(), args[2].Uint(), 0)
}

// Lchown implements lchown(2).
func Lchown(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, fchownat(t, abilinux.AT_FDCWD, args[0].Pointer(), args[1].Uint(), args[2].Uint(), abilinux.AT_SYMLINK_NOFOLLOW)
}

// Fchownat implements fchownat(2).
func Fchownat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, fchownat(t, args[0].Int(), args[1].Pointer(), args[2].Uint(), args[3].Uint(), args[4].Int())
}

func fchownat(t *kernel.Task, dirfd int32, pathAddr uintptr, uid, gid uint32, flags int32) error {
	if flags&^(abilinux.AT_SYMLINK_NOFOLLOW|abilinux.AT_EMPTY_PATH) != 0 {
		return abilinux.EINVAL
	}
	opts, err := chownOpts(t, uid, gid)
	if err != nil {
		return err
	}
	return setStatAt(t, dirfd, pathAddr, flags&abilinux.AT_SYMLINK_NOFOLLOW == 0, flags&abilinux.AT_EMPTY_PATH != 0, opts)
}

// Fchown implements fchown(2).
func Fchown(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	opts, err := chownOpts(t, args[1].Uint(), args[2].Uint())
	if err != nil {
		return 0, err
	}
	return 0, setStatFD(t, args[0].Int(), opts)
}

// timesOpts builds the SetStatOptions of the utime family from the two
// new times (access, modification); nil means both "now". A time whose
// Nsec is UTIME_OMIT is left alone.
func timesOpts(times *[2]abilinux.Timespec) (vfs.SetStatOptions, error) {
	opts := vfs.SetStatOptions{Mask: abilinux.STATX_ATIME | abilinux.STATX_MTIME}
	if times == nil {
		opts.Atime.Nsec, opts.Mtime.Nsec = abilinux.UTIME_NOW, abilinux.UTIME_NOW
		return opts, nil
	}
	for i, ts := range times {
		if ts.Nsec != abilinux.UTIME_NOW && ts.Nsec != abilinux.UTIME_OMIT && !ts.Valid() {
			return opts, abilinux.EINVAL
		}
		if ts.Nsec == abilinux.UTIME_NOW {
			// Only Nsec marks "now"; ignore whatever Sec says.
			ts.Sec = 0
		}
		if i == 0 {
			opts.Atime = ts
		} else {
			opts.Mtime = ts
		}
	}
	if times[0].Nsec == abilinux.UTIME_OMIT {
		opts.Mask &^= abilinux.STATX_ATIME
	}
	if times[1].Nsec == abilinux.UTIME_OMIT {
		opts.Mask &^= abilinux.STATX_MTIME
	}
	return opts, nil
}

// Utimensat implements utimensat(2) (and futimens(3), which is
// utimensat(fd, NULL, times, 0)).
func Utimensat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	dirfd, pathAddr, timesAddr, flags := args[0].Int(), args[1].Pointer(), args[2].Pointer(), args[3].Int()
	var times *[2]abilinux.Timespec
	if timesAddr != 0 {
		times = new([2]abilinux.Timespec)
		for i := range times {
			if err := t.MemoryManager().CopyObjectIn(timesAddr+uintptr(i*abilinux.SizeofTimespec), &times[i]); err != nil {
				return 0, err
			}
		}
		if times[0].Nsec == abilinux.UTIME_OMIT && times[1].Nsec == abilinux.UTIME_OMIT {
			// Nothing to do; Linux does not even look at the path.
			return 0, nil
		}
	}
	opts, err := timesOpts(times)
	if err != nil {
		return 0, err
	}
	if pathAddr == 0 && dirfd != abilinux.AT_FDCWD {
		if flags != 0 {
			return 0, abilinux.EINVAL
		}
		return 0, setStatFD(t, dirfd, opts)
	}
	if flags&^(abilinux.AT_SYMLINK_NOFOLLOW|abilinux.AT_EMPTY_PATH) != 0 {
		return 0, abilinux.EINVAL
	}
	return 0, setStatAt(t, dirfd, pathAddr, flags&abilinux.AT_SYMLINK_NOFOLLOW == 0, flags&abilinux.AT_EMPTY_PATH != 0, opts)
}

// Utimes implements utimes(2).
func Utimes(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, futimesat(t, abilinux.AT_FDCWD, args[0].Pointer(), args[1].Pointer())
}

// Futimesat implements futimesat(2).
func Futimesat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, futimesat(t, args[0].Int(), args[1].Pointer(), args[2].Pointer())
}

// futimesat takes microsecond times, NULL for "now". Linux accepts a
// NULL path with a dirfd here too, meaning the open file.
func futimesat(t *kernel.Task, dirfd int32, pathAddr, timesAddr uintptr) error {
	var times *[2]abilinux.Timespec
	if timesAddr != 0 {
		times = new([2]abilinux.Timespec)
		for i := range times {
			var tv abilinux.Timeval
			if err := t.MemoryManager().CopyObjectIn(timesAddr+uintptr(i*abilinux.SizeofTimeval), &tv); err != nil {
				return err
			}
			if tv.Usec < 0 || tv.Usec >= abilinux.UsecPerSec {
				return abilinux.EINVAL
			}
			times[i] = abilinux.Timespec{Sec: tv.Sec, Nsec: tv.Usec * abilinux.NsecPerUsec}
		}
	}
	opts, err := timesOpts(times)
	if err != nil {
		return err
	}
	if pathAddr == 0 && dirfd != abilinux.AT_FDCWD {
		return setStatFD(t, dirfd, opts)
	}
	return setStatAt(t, dirfd, pathAddr, true, false, opts)
}

// Utime implements utime(2): struct utimbuf is two time_t seconds.
func Utime(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	pathAddr, bufAddr := args[0].Pointer(), args[1].Pointer()
	var times *[2]abilinux.Timespec
	if bufAddr != 0 {
		var b [16]byte
		if _, err := t.CopyIn(bufAddr, b[:]); err != nil {
			return 0, err
		}
		times = &[2]abilinux.Timespec{
			{Sec: int64(binary.LittleEndian.Uint64(b[0:]))},
			{Sec: int64(binary.LittleEndian.Uint64(b[8:]))},
		}
	}
	opts, err := timesOpts(times)
	if err != nil {
		return 0, err
	}
	return 0, setStatAt(t, abilinux.AT_FDCWD, pathAddr, true, false, opts)
}
