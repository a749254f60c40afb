package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// validOpenFlags is Linux's VALID_OPEN_FLAGS: open(2) and openat(2)
// silently drop other bits, openat2(2) refuses them.
const validOpenFlags = abilinux.O_ACCMODE | abilinux.O_CREAT | abilinux.O_EXCL | abilinux.O_NOCTTY |
	abilinux.O_TRUNC | abilinux.O_APPEND | abilinux.O_NONBLOCK | abilinux.O_SYNC | abilinux.O_DSYNC |
	abilinux.O_ASYNC | abilinux.O_DIRECT | abilinux.O_LARGEFILE | abilinux.O_DIRECTORY |
	abilinux.O_NOFOLLOW | abilinux.O_NOATIME | abilinux.O_CLOEXEC | abilinux.O_PATH | abilinux.O_TMPFILE

// oPathFlags are the flags O_PATH may be combined with in openat2(2).
const oPathFlags = abilinux.O_PATH | abilinux.O_DIRECTORY | abilinux.O_NOFOLLOW | abilinux.O_CLOEXEC

// validResolveFlags are openat2(2)'s known RESOLVE_* bits.
const validResolveFlags = abilinux.RESOLVE_NO_XDEV | abilinux.RESOLVE_NO_MAGICLINKS |
	abilinux.RESOLVE_NO_SYMLINKS | abilinux.RESOLVE_BENEATH | abilinux.RESOLVE_IN_ROOT | abilinux.RESOLVE_CACHED

// Open implements open(2).
func Open(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	flags := args[1].Uint() & validOpenFlags
	return openat(t, abilinux.AT_FDCWD, args[0].Pointer(), flags, legacyOpenMode(flags, args[2].Uint()), 0)
}

// Openat implements openat(2).
func Openat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	flags := args[2].Uint() & validOpenFlags
	return openat(t, args[0].Int(), args[1].Pointer(), flags, legacyOpenMode(flags, args[3].Uint()), 0)
}

// Creat implements creat(2).
func Creat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	flags := uint32(abilinux.O_CREAT | abilinux.O_WRONLY | abilinux.O_TRUNC)
	return openat(t, abilinux.AT_FDCWD, args[0].Pointer(), flags, legacyOpenMode(flags, args[1].Uint()), 0)
}

// legacyOpenMode is the mode open(2) uses: the permission bits when the
// call may create a file, otherwise nothing.
func legacyOpenMode(flags, mode uint32) abilinux.FileMode {
	if flags&abilinux.O_CREAT == 0 && flags&abilinux.O_TMPFILE != abilinux.O_TMPFILE {
		return 0
	}
	return abilinux.FileMode(mode & abilinux.PermissionsMask)
}

// Openat2 implements openat2(2).
func Openat2(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	how, err := copyInOpenHow(t, args[2].Pointer(), args[3].SizeT())
	if err != nil {
		return 0, err
	}
	if err := checkOpenHow(&how); err != nil {
		return 0, err
	}
	return openat(t, args[0].Int(), args[1].Pointer(), uint32(how.Flags), abilinux.FileMode(how.Mode), how.Resolve)
}

// copyInOpenHow reads a struct open_how of size bytes the way Linux's
// copy_struct_from_user does: smaller than the first version is EINVAL,
// larger than a page is E2BIG, and a larger struct from a newer ABI is
// accepted only if the bytes this kernel does not know are zero.
func copyInOpenHow(t *kernel.Task, addr uintptr, size uint) (abilinux.OpenHow, error) {
	var how abilinux.OpenHow
	if size < abilinux.SizeofOpenHow {
		return how, abilinux.EINVAL
	}
	if size > abilinux.PageSize {
		return how, abilinux.E2BIG
	}
	buf := make([]byte, size)
	if _, err := t.CopyIn(addr, buf); err != nil {
		return how, abilinux.EFAULT
	}
	for _, b := range buf[abilinux.SizeofOpenHow:] {
		if b != 0 {
			return how, abilinux.E2BIG
		}
	}
	how.UnmarshalBytes(buf)
	return how, nil
}

// checkOpenHow applies openat2's strict argument checks (Linux's
// build_open_flags).
func checkOpenHow(how *abilinux.OpenHow) error {
	if how.Flags&^validOpenFlags != 0 {
		return abilinux.EINVAL
	}
	if how.Resolve&^validResolveFlags != 0 {
		return abilinux.EINVAL
	}
	flags := uint32(how.Flags)
	if flags&abilinux.O_PATH != 0 && flags&^oPathFlags != 0 {
		return abilinux.EINVAL
	}
	creates := flags&abilinux.O_CREAT != 0 || flags&abilinux.O_TMPFILE == abilinux.O_TMPFILE
	if creates {
		if how.Mode&^abilinux.PermissionsMask != 0 {
			return abilinux.EINVAL
		}
	} else if how.Mode != 0 {
		return abilinux.EINVAL
	}
	if how.Resolve&abilinux.RESOLVE_BENEATH != 0 && how.Resolve&abilinux.RESOLVE_IN_ROOT != 0 {
		return abilinux.EINVAL
	}
	if flags&abilinux.O_DIRECTORY != 0 && flags&abilinux.O_CREAT != 0 {
		return abilinux.EINVAL
	}
	if flags&(abilinux.O_TMPFILE&^abilinux.O_DIRECTORY) != 0 {
		if flags&abilinux.O_TMPFILE != abilinux.O_TMPFILE || flags&abilinux.O_ACCMODE == abilinux.O_RDONLY {
			return abilinux.EINVAL
		}
	}
	// RESOLVE_CACHED promises not to block, which creating or truncating
	// cannot keep.
	if how.Resolve&abilinux.RESOLVE_CACHED != 0 && (flags&(abilinux.O_TRUNC|abilinux.O_CREAT) != 0 || creates) {
		return abilinux.EAGAIN
	}
	return nil
}

// openat opens the path at pathAddr and installs the file at the lowest
// free descriptor. mode is before the umask.
func openat(t *kernel.Task, dirfd int32, pathAddr uintptr, flags uint32, mode abilinux.FileMode, resolve uint64) (uintptr, error) {
	var fd int32
	err := withPathResolve(t, dirfd, pathAddr, flags&abilinux.O_NOFOLLOW == 0, false, resolve, func(pop *vfs.PathOperation) error {
		ctx := t.Context()
		file, err := t.Kernel().VFS.OpenAt(ctx, t.Credentials(), pop, &vfs.OpenOptions{
			Flags: flags,
			Mode:  mode &^ abilinux.FileMode(t.FSContext().Umask()),
		})
		if err != nil {
			return err
		}
		defer file.DecRef(ctx)
		fd, err = t.FDTable().NewFD(ctx, 0, file, vfs.FDFlags{CloseOnExec: flags&abilinux.O_CLOEXEC != 0})
		return err
	})
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// Lseek implements lseek(2).
func Lseek(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, err := t.GetFile(args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	whence := args[2].Int()
	if whence < abilinux.SEEK_SET || whence > abilinux.SEEK_HOLE {
		return 0, abilinux.EINVAL
	}
	off, err := f.Seek(t.Context(), args[1].Int64(), whence)
	if err != nil {
		return 0, err
	}
	return uintptr(off), nil
}

// Truncate implements truncate(2).
func Truncate(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	length := args[1].Int64()
	if length < 0 {
		return 0, abilinux.EINVAL
	}
	return 0, withPath(t, abilinux.AT_FDCWD, args[0].Pointer(), true, false, func(pop *vfs.PathOperation) error {
		return t.Kernel().VFS.SetStatAt(t.Context(), t.Credentials(), pop, vfs.SetStatOptions{
			Mask: abilinux.STATX_SIZE,
			Size: uint64(length),
		})
	})
}

// Ftruncate implements ftruncate(2).
func Ftruncate(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	length := args[1].Int64()
	if length < 0 {
		return 0, abilinux.EINVAL
	}
	f, err := t.GetFile(args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	return 0, f.SetStat(t.Context(), t.Credentials(), vfs.SetStatOptions{Mask: abilinux.STATX_SIZE, Size: uint64(length)})
}

// Fallocate implements fallocate(2); the mode is the file's to judge.
func Fallocate(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, err := t.GetFile(args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	mode, offset, length := args[1].Uint64()&0xffffffff, args[2].Int64(), args[3].Int64()
	if offset < 0 || length <= 0 {
		return 0, abilinux.EINVAL
	}
	return 0, f.Allocate(t.Context(), mode, offset, length)
}

// Fsync implements fsync(2).
func Fsync(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, err := t.GetFile(args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	return 0, f.Sync(t.Context())
}

// Fdatasync implements fdatasync(2), which the VFS does not distinguish
// from fsync: syncing metadata too is allowed.
func Fdatasync(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return Fsync(t, sysno, args)
}

// Sync implements sync(2). The VFS has no filesystem-wide flush hook yet,
// so this flushes nothing; tmpfs, pipes and devices have nothing to
// flush, but a filesystem that caches writes would need the hook.
func Sync(t *kernel.Task, _ uintptr, _ arch.SyscallArguments) (uintptr, error) {
	return 0, nil
}

// Syncfs implements syncfs(2); see Sync.
func Syncfs(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, err := t.GetFile(args[0].Int())
	if err != nil {
		return 0, err
	}
	f.DecRef(t.Context())
	if f.StatusFlags()&abilinux.O_PATH != 0 {
		return 0, abilinux.EBADF
	}
	return 0, nil
}

// Readahead implements readahead(2). File contents are not cached
// separately from the file, so there is nothing to read ahead; the
// arguments are checked as Linux does.
func Readahead(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, err := t.GetFile(args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	if !f.IsReadable() {
		return 0, abilinux.EBADF
	}
	if f.Inode().Type() != abilinux.S_IFREG {
		return 0, abilinux.EINVAL
	}
	return 0, nil
}

// Fadvise64 implements fadvise64(2). The advice only tunes caching, of
// which there is none to tune; arguments are checked as Linux does.
func Fadvise64(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, err := t.GetFile(args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	if f.StatusFlags()&abilinux.O_PATH != 0 {
		return 0, abilinux.EBADF
	}
	length, advice := args[2].Int64(), args[3].Int()
	if f.Inode().Type() == abilinux.S_IFIFO || f.IsStream() {
		return 0, abilinux.ESPIPE
	}
	if length < 0 || advice < abilinux.POSIX_FADV_NORMAL || advice > abilinux.POSIX_FADV_NOREUSE {
		return 0, abilinux.EINVAL
	}
	return 0, nil
}
