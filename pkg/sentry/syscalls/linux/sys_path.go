package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// copyInPath reads a NUL-terminated path argument: EFAULT for a bad
// pointer, ENAMETOOLONG if there is no NUL within PATH_MAX bytes.
func copyInPath(t *kernel.Task, addr uintptr) (string, error) {
	return t.MemoryManager().CopyInString(addr, abilinux.PATH_MAX)
}

// pathArgs is a PathOperation together with the references that keep its
// Root and Start alive until release.
type pathArgs struct {
	pop  vfs.PathOperation
	root vfs.VirtualDentry
	cwd  vfs.VirtualDentry
	dir  *vfs.FileDescription
}

func (p *pathArgs) release(t *kernel.Task) {
	p.root.DecRef()
	if p.cwd.Ok() {
		p.cwd.DecRef()
	}
	if p.dir != nil {
		p.dir.DecRef(t.Context())
	}
}

// newPathArgs describes path relative to dirfd the way the *at() calls
// do: absolute paths ignore dirfd (unless openat2's RESOLVE_IN_ROOT makes
// dirfd their root), AT_FDCWD means the working directory, and any other
// dirfd must be open (EBADF). An empty path is ENOENT unless allowEmpty
// (AT_EMPTY_PATH), checked first as Linux's getname does.
func newPathArgs(t *kernel.Task, dirfd int32, path string, follow, allowEmpty bool, resolve uint64) (*pathArgs, error) {
	if path == "" && !allowEmpty {
		return nil, abilinux.ENOENT
	}
	fsc := t.FSContext()
	p := &pathArgs{root: fsc.RootDirectory()}
	p.pop = vfs.PathOperation{
		Root:               p.root,
		Start:              p.root,
		Path:               path,
		FollowFinalSymlink: follow,
		AllowEmptyPath:     allowEmpty,
		Resolve:            resolve,
	}
	switch {
	case len(path) > 0 && path[0] == '/' && resolve&abilinux.RESOLVE_IN_ROOT == 0:
	case dirfd == abilinux.AT_FDCWD:
		p.cwd = fsc.WorkingDirectory()
		p.pop.Start = p.cwd
	default:
		f, err := t.GetFile(dirfd)
		if err != nil {
			p.root.DecRef()
			return nil, err
		}
		p.dir = f
		if !f.VirtualDentry().Ok() {
			p.release(t)
			return nil, abilinux.ENOTDIR
		}
		p.pop.Start = f.VirtualDentry()
	}
	return p, nil
}

// withPath copies in the path at pathAddr and runs fn with its
// PathOperation.
func withPath(t *kernel.Task, dirfd int32, pathAddr uintptr, follow, allowEmpty bool, fn func(pop *vfs.PathOperation) error) error {
	return withPathResolve(t, dirfd, pathAddr, follow, allowEmpty, 0, fn)
}

// withPathResolve is withPath with openat2's RESOLVE_* restrictions.
func withPathResolve(t *kernel.Task, dirfd int32, pathAddr uintptr, follow, allowEmpty bool, resolve uint64, fn func(pop *vfs.PathOperation) error) error {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return err
	}
	p, err := newPathArgs(t, dirfd, path, follow, allowEmpty, resolve)
	if err != nil {
		return err
	}
	defer p.release(t)
	return fn(&p.pop)
}

func withPathString(t *kernel.Task, dirfd int32, path string, follow, allowEmpty bool, fn func(pop *vfs.PathOperation) error) error {
	p, err := newPathArgs(t, dirfd, path, follow, allowEmpty, 0)
	if err != nil {
		return err
	}
	defer p.release(t)
	return fn(&p.pop)
}

// Readlink implements readlink(2).
func Readlink(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return readlinkat(t, abilinux.AT_FDCWD, args[0].Pointer(), args[1].Pointer(), args[2].Int())
}

// Readlinkat implements readlinkat(2).
func Readlinkat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return readlinkat(t, args[0].Int(), args[1].Pointer(), args[2].Pointer(), args[3].Int())
}

func readlinkat(t *kernel.Task, dirfd int32, pathAddr, bufAddr uintptr, size int32) (uintptr, error) {
	if size <= 0 {
		return 0, abilinux.EINVAL
	}
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	var target string
	// An empty path names dirfd itself, which should be an
	// O_PATH|O_NOFOLLOW descriptor of a symlink.
	err = withPathString(t, dirfd, path, false, true, func(pop *vfs.PathOperation) error {
		var err error
		target, err = t.Kernel().VFS.ReadlinkAt(t.Context(), t.Credentials(), pop)
		return err
	})
	if err == abilinux.EINVAL && path == "" {
		err = abilinux.ENOENT
	}
	if err != nil {
		return 0, err
	}
	b := []byte(target)
	if len(b) > int(size) {
		b = b[:size]
	}
	n, err := t.CopyOut(bufAddr, b)
	if err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

// Access implements access(2).
func Access(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, faccessat(t, abilinux.AT_FDCWD, args[0].Pointer(), args[1].Uint(), 0)
}

// Faccessat implements faccessat(2), which has no flags argument.
func Faccessat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, faccessat(t, args[0].Int(), args[1].Pointer(), args[2].Uint(), 0)
}

// Faccessat2 implements faccessat2(2).
func Faccessat2(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, faccessat(t, args[0].Int(), args[1].Pointer(), args[2].Uint(), args[3].Int())
}

func faccessat(t *kernel.Task, dirfd int32, pathAddr uintptr, mode uint32, flags int32) error {
	if mode&^(abilinux.R_OK|abilinux.W_OK|abilinux.X_OK) != 0 {
		return abilinux.EINVAL
	}
	if flags&^(abilinux.AT_EACCESS|abilinux.AT_SYMLINK_NOFOLLOW|abilinux.AT_EMPTY_PATH) != 0 {
		return abilinux.EINVAL
	}
	creds := t.Credentials()
	if flags&abilinux.AT_EACCESS == 0 {
		creds = accessCredentials(creds)
	}
	return withPath(t, dirfd, pathAddr, flags&abilinux.AT_SYMLINK_NOFOLLOW == 0, flags&abilinux.AT_EMPTY_PATH != 0, func(pop *vfs.PathOperation) error {
		return t.Kernel().VFS.AccessAt(t.Context(), creds, pop, auth.AccessTypes(mode))
	})
}

// secbitNoSetuidFixup is SECBIT_NO_SETUID_FIXUP of prctl(PR_SET_SECUREBITS).
const secbitNoSetuidFixup = 1 << 2

// accessCredentials returns the credentials access(2) checks with: the
// real user and group in place of the filesystem ones, and, unless
// SECBIT_NO_SETUID_FIXUP, the capabilities a process with those IDs would
// have (all permitted ones for root, none otherwise).
func accessCredentials(c *auth.Credentials) *auth.Credentials {
	n := c.Fork()
	n.FSKUID = n.RealKUID
	n.FSKGID = n.RealKGID
	if c.SecureBits&secbitNoSetuidFixup == 0 {
		if n.RealKUID != n.UserNamespace.MapToKUID(0) {
			n.EffectiveCaps = 0
		} else {
			n.EffectiveCaps = n.PermittedCaps
		}
	}
	return n
}

// Getcwd implements getcwd(2): the length including the NUL, ERANGE if
// size cannot hold it, ENOENT if the directory was removed.
func Getcwd(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	addr, size := args[0].Pointer(), args[1].SizeT()
	fsc := t.FSContext()
	root, cwd := fsc.RootDirectory(), fsc.WorkingDirectory()
	defer root.DecRef()
	defer cwd.DecRef()
	s, err := t.Kernel().VFS.PathnameForGetcwd(root, cwd)
	if err != nil {
		return 0, err
	}
	b := append([]byte(s), 0)
	if uint64(len(b)) > uint64(size) {
		return 0, abilinux.ERANGE
	}
	if _, err := t.CopyOut(addr, b); err != nil {
		return 0, err
	}
	return uintptr(len(b)), nil
}

// Chdir implements chdir(2).
func Chdir(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, withPath(t, abilinux.AT_FDCWD, args[0].Pointer(), true, false, func(pop *vfs.PathOperation) error {
		vd, err := t.Kernel().VFS.GetDentryAt(t.Context(), t.Credentials(), pop, &vfs.GetDentryOptions{CheckSearchable: true})
		if err != nil {
			return err
		}
		t.FSContext().SetWorkingDirectory(vd)
		vd.DecRef()
		return nil
	})
}

// Fchdir implements fchdir(2). O_PATH descriptors are accepted, as in
// Linux.
func Fchdir(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	f, err := t.GetFile(args[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t.Context())
	vd := f.VirtualDentry()
	if !vd.Ok() || f.Inode().Type() != abilinux.S_IFDIR {
		return 0, abilinux.ENOTDIR
	}
	if err := f.Inode().CheckPermission(t.Context(), t.Credentials(), auth.MayExec); err != nil {
		return 0, err
	}
	t.FSContext().SetWorkingDirectory(vd)
	return 0, nil
}

// Chroot implements chroot(2). As in Linux, the path is resolved and
// checked before the capability, so a missing directory is ENOENT even
// for an unprivileged caller.
func Chroot(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, withPath(t, abilinux.AT_FDCWD, args[0].Pointer(), true, false, func(pop *vfs.PathOperation) error {
		creds := t.Credentials()
		vd, err := t.Kernel().VFS.GetDentryAt(t.Context(), creds, pop, &vfs.GetDentryOptions{CheckSearchable: true})
		if err != nil {
			return err
		}
		defer vd.DecRef()
		if !creds.HasCapability(abilinux.CAP_SYS_CHROOT) {
			return abilinux.EPERM
		}
		t.FSContext().SetRootDirectory(vd)
		return nil
	})
}

// Umask implements umask(2).
func Umask(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.FSContext().SwapUmask(args[0].Uint() & 0o777)), nil
}

// Rename implements rename(2).
func Rename(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, renameat(t, abilinux.AT_FDCWD, args[0].Pointer(), abilinux.AT_FDCWD, args[1].Pointer(), 0)
}

// Renameat implements renameat(2).
func Renameat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, renameat(t, args[0].Int(), args[1].Pointer(), args[2].Int(), args[3].Pointer(), 0)
}

// Renameat2 implements renameat2(2).
func Renameat2(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, renameat(t, args[0].Int(), args[1].Pointer(), args[2].Int(), args[3].Pointer(), args[4].Uint())
}

func renameat(t *kernel.Task, olddirfd int32, oldAddr uintptr, newdirfd int32, newAddr uintptr, flags uint32) error {
	if flags&^(abilinux.RENAME_NOREPLACE|abilinux.RENAME_EXCHANGE|abilinux.RENAME_WHITEOUT) != 0 {
		return abilinux.EINVAL
	}
	if flags&(abilinux.RENAME_NOREPLACE|abilinux.RENAME_WHITEOUT) != 0 && flags&abilinux.RENAME_EXCHANGE != 0 {
		return abilinux.EINVAL
	}
	if flags&abilinux.RENAME_WHITEOUT != 0 {
		// No filesystem here has whiteouts; Linux says EINVAL for
		// those that lack them.
		return abilinux.EINVAL
	}
	oldPath, err := copyInPath(t, oldAddr)
	if err != nil {
		return err
	}
	newPath, err := copyInPath(t, newAddr)
	if err != nil {
		return err
	}
	return withPathString(t, olddirfd, oldPath, false, false, func(oldpop *vfs.PathOperation) error {
		return withPathString(t, newdirfd, newPath, false, false, func(newpop *vfs.PathOperation) error {
			return t.Kernel().VFS.RenameAt(t.Context(), t.Credentials(), oldpop, newpop, flags)
		})
	})
}

// Link implements link(2): a final symlink in oldpath is not followed.
func Link(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, linkat(t, abilinux.AT_FDCWD, args[0].Pointer(), abilinux.AT_FDCWD, args[1].Pointer(), 0)
}

// Linkat implements linkat(2).
func Linkat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, linkat(t, args[0].Int(), args[1].Pointer(), args[2].Int(), args[3].Pointer(), args[4].Int())
}

func linkat(t *kernel.Task, olddirfd int32, oldAddr uintptr, newdirfd int32, newAddr uintptr, flags int32) error {
	if flags&^(abilinux.AT_SYMLINK_FOLLOW|abilinux.AT_EMPTY_PATH) != 0 {
		return abilinux.EINVAL
	}
	// Linking an open file by descriptor needs CAP_DAC_READ_SEARCH;
	// without it Linux pretends the empty name does not exist.
	if flags&abilinux.AT_EMPTY_PATH != 0 && !t.Credentials().HasCapability(abilinux.CAP_DAC_READ_SEARCH) {
		return abilinux.ENOENT
	}
	oldPath, err := copyInPath(t, oldAddr)
	if err != nil {
		return err
	}
	newPath, err := copyInPath(t, newAddr)
	if err != nil {
		return err
	}
	return withPathString(t, olddirfd, oldPath, flags&abilinux.AT_SYMLINK_FOLLOW != 0, flags&abilinux.AT_EMPTY_PATH != 0, func(oldpop *vfs.PathOperation) error {
		return withPathString(t, newdirfd, newPath, false, false, func(newpop *vfs.PathOperation) error {
			return t.Kernel().VFS.LinkAt(t.Context(), t.Credentials(), oldpop, newpop)
		})
	})
}

// Unlink implements unlink(2).
func Unlink(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, unlinkat(t, abilinux.AT_FDCWD, args[0].Pointer(), 0)
}

// Unlinkat implements unlinkat(2).
func Unlinkat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, unlinkat(t, args[0].Int(), args[1].Pointer(), args[2].Int())
}

// Rmdir implements rmdir(2).
func Rmdir(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, unlinkat(t, abilinux.AT_FDCWD, args[0].Pointer(), abilinux.AT_REMOVEDIR)
}

func unlinkat(t *kernel.Task, dirfd int32, pathAddr uintptr, flags int32) error {
	if flags&^abilinux.AT_REMOVEDIR != 0 {
		return abilinux.EINVAL
	}
	return withPath(t, dirfd, pathAddr, false, false, func(pop *vfs.PathOperation) error {
		if flags&abilinux.AT_REMOVEDIR != 0 {
			return t.Kernel().VFS.RmdirAt(t.Context(), t.Credentials(), pop)
		}
		return t.Kernel().VFS.UnlinkAt(t.Context(), t.Credentials(), pop)
	})
}

// Mkdir implements mkdir(2).
func Mkdir(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, mkdirat(t, abilinux.AT_FDCWD, args[0].Pointer(), args[1].Uint())
}

// Mkdirat implements mkdirat(2).
func Mkdirat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, mkdirat(t, args[0].Int(), args[1].Pointer(), args[2].Uint())
}

func mkdirat(t *kernel.Task, dirfd int32, pathAddr uintptr, mode uint32) error {
	return withPath(t, dirfd, pathAddr, false, false, func(pop *vfs.PathOperation) error {
		m := abilinux.FileMode(mode &^ t.FSContext().Umask())
		return t.Kernel().VFS.MkdirAt(t.Context(), t.Credentials(), pop, m)
	})
}

// Mknod implements mknod(2).
func Mknod(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, mknodat(t, abilinux.AT_FDCWD, args[0].Pointer(), args[1].Uint(), args[2].Uint())
}

// Mknodat implements mknodat(2).
func Mknodat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, mknodat(t, args[0].Int(), args[1].Pointer(), args[2].Uint(), args[3].Uint())
}

func mknodat(t *kernel.Task, dirfd int32, pathAddr uintptr, mode, dev uint32) error {
	return withPath(t, dirfd, pathAddr, false, false, func(pop *vfs.PathOperation) error {
		// mode is a umode_t: only its low 16 bits reach the kernel.
		m := abilinux.FileMode(mode)
		perm := abilinux.FileMode(uint32(m.Permissions()) &^ t.FSContext().Umask())
		// The 32-bit dev_t of the syscall ABI uses the same layout as the
		// low half of the 64-bit one.
		major, minor := abilinux.DecodeDeviceID(uint64(dev))
		return t.Kernel().VFS.MknodAt(t.Context(), t.Credentials(), pop, vfs.CreateOptions{
			Mode:     m.FileType() | perm,
			DevMajor: major,
			DevMinor: minor,
		})
	})
}

// Symlink implements symlink(2).
func Symlink(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, symlinkat(t, args[0].Pointer(), abilinux.AT_FDCWD, args[1].Pointer())
}

// Symlinkat implements symlinkat(2).
func Symlinkat(t *kernel.Task, _ uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, symlinkat(t, args[0].Pointer(), args[1].Int(), args[2].Pointer())
}

func symlinkat(t *kernel.Task, targetAddr uintptr, dirfd int32, pathAddr uintptr) error {
	target, err := copyInPath(t, targetAddr)
	if err != nil {
		return err
	}
	return withPath(t, dirfd, pathAddr, false, false, func(pop *vfs.PathOperation) error {
		return t.Kernel().VFS.SymlinkAt(t.Context(), t.Credentials(), pop, target)
	})
}
