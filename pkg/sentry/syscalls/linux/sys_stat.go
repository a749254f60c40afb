package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// statFromStatx converts a statx result to the struct stat of the
// architecture being built.
func statFromStatx(sx *abilinux.Statx) abilinux.Stat {
	st := abilinux.Stat{
		Dev:    abilinux.MakeDeviceID(sx.DevMajor, sx.DevMinor),
		Ino:    sx.Ino,
		Mode:   uint32(sx.Mode),
		UID:    sx.UID,
		GID:    sx.GID,
		Rdev:   abilinux.MakeDeviceID(sx.RdevMajor, sx.RdevMinor),
		Size:   int64(sx.Size),
		Blocks: int64(sx.Blocks),
		ATime:  sx.Atime.ToTimespec(),
		MTime:  sx.Mtime.ToTimespec(),
		CTime:  sx.Ctime.ToTimespec(),
	}
	setStatArchFields(&st, sx.Nlink, sx.Blksize)
	return st
}

// statAt stats what (dirfd, path) names. An empty path with AT_EMPTY_PATH
// names dirfd itself, which is asked directly so that files whose
// description knows more than their inode (sockets, pipes) answer; since
// Linux 6.11 a NULL path means the same.
func statAt(t *kernel.Task, dirfd int32, pathAddr uintptr, flags int32, opts vfs.StatOptions) (abilinux.Statx, error) {
	emptyOK := flags&abilinux.AT_EMPTY_PATH != 0
	var path string
	if pathAddr != 0 || !emptyOK {
		var err error
		if path, err = copyInPath(t, pathAddr); err != nil {
			return abilinux.Statx{}, err
		}
	}
	ctx := t.Context()
	if path == "" && emptyOK && dirfd != abilinux.AT_FDCWD {
		f, err := t.GetFile(dirfd)
		if err != nil {
			return abilinux.Statx{}, err
		}
		defer f.DecRef(ctx)
		return f.Stat(ctx, opts)
	}
	var sx abilinux.Statx
	err := withPathString(t, dirfd, path, flags&abilinux.AT_SYMLINK_NOFOLLOW == 0, emptyOK, func(pop *vfs.PathOperation) error {
		var err error
		sx, err = t.Kernel().VFS.StatAt(ctx, t.Credentials(), pop, opts)
		return err
	})
	return sx, err
}

func copyOutStat(t *kernel.Task, addr uintptr, sx *abilinux.Statx) error {
	st := statFromStatx(sx)
	return t.MemoryManager().CopyObjectOut(addr, &st)
}

var basicStat = vfs.StatOptions{Mask: abilinux.STATX_BASIC_STATS}

// Stat implements stat(2).
func Stat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, fstatat(t, abilinux.AT_FDCWD, args[0].Pointer(), args[1].Pointer(), 0)
}

// Lstat implements lstat(2).
func Lstat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, fstatat(t, abilinux.AT_FDCWD, args[0].Pointer(), args[1].Pointer(), abilinux.AT_SYMLINK_NOFOLLOW)
}

// Newfstatat implements newfstatat(2) (fstatat in C).
func Newfstatat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, fstatat(t, args[0].Int(), args[1].Pointer(), args[2].Pointer(), args[3].Int())
}

func fstatat(t *kernel.Task, dirfd int32, pathAddr, statAddr uintptr, flags int32) error {
	if flags&^(abilinux.AT_SYMLINK_NOFOLLOW|abilinux.AT_NO_AUTOMOUNT|abilinux.AT_EMPTY_PATH) != 0 {
		return abilinux.EINVAL
	}
	sx, err := statAt(t, dirfd, pathAddr, flags, basicStat)
	if err != nil {
		return err
	}
	return copyOutStat(t, statAddr, &sx)
}

// Fstat implements fstat(2). O_PATH descriptors may be statted.
func Fstat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, err := t.GetFile(args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	sx, err := f.Stat(t.Context(), basicStat)
	if err != nil {
		return 0, err
	}
	return 0, copyOutStat(t, args[1].Pointer(), &sx)
}

// Statx implements statx(2). The result's mask says what was filled,
// which may be more than asked (as in Linux); the AT_STATX_* sync modes
// are passed to the filesystem, which may ignore them as local ones do.
func Statx(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	dirfd, pathAddr, flags, mask, addr := args[0].Int(), args[1].Pointer(), args[2].Int(), args[3].Uint(), args[4].Pointer()
	if mask&abilinux.STATX__RESERVED != 0 {
		return 0, abilinux.EINVAL
	}
	if flags&abilinux.AT_STATX_SYNC_TYPE == abilinux.AT_STATX_SYNC_TYPE {
		return 0, abilinux.EINVAL
	}
	if flags&^(abilinux.AT_SYMLINK_NOFOLLOW|abilinux.AT_NO_AUTOMOUNT|abilinux.AT_EMPTY_PATH|abilinux.AT_STATX_SYNC_TYPE) != 0 {
		return 0, abilinux.EINVAL
	}
	sx, err := statAt(t, dirfd, pathAddr, flags, vfs.StatOptions{Mask: mask, Sync: uint32(flags & abilinux.AT_STATX_SYNC_TYPE)})
	if err != nil {
		return 0, err
	}
	return 0, t.MemoryManager().CopyObjectOut(addr, &sx)
}

// Statfs implements statfs(2).
func Statfs(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	var st abilinux.Statfs
	err := withPath(t, abilinux.AT_FDCWD, args[0].Pointer(), true, false, func(pop *vfs.PathOperation) error {
		var err error
		st, err = t.Kernel().VFS.StatFSAt(t.Context(), t.Credentials(), pop)
		return err
	})
	if err != nil {
		return 0, err
	}
	return 0, t.MemoryManager().CopyObjectOut(args[1].Pointer(), &st)
}

// Fstatfs implements fstatfs(2).
func Fstatfs(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, err := t.GetFile(args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	st, err := f.StatFS(t.Context())
	if err != nil {
		return 0, err
	}
	return 0, t.MemoryManager().CopyObjectOut(args[1].Pointer(), &st)
}
