package vfs

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// createAt is the common part of mkdir, mknod and symlink: resolve the
// parent, check the name is free, and have the filesystem create it.
func (vfs *VirtualFilesystem) createAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation, opts CreateOptions) error {
	r, name, err := vfs.resolveParent(ctx, creds, pop)
	if err != nil {
		return err
	}
	if name == "" || name == "." || name == ".." {
		return linux.EEXIST
	}
	parent := r.cur
	parent.dentry.mu.Lock()
	defer parent.dentry.mu.Unlock()
	if _, err := vfs.lookupChildLocked(ctx, parent.dentry, name); err == nil {
		return linux.EEXIST
	} else if err != linux.ENOENT {
		return err
	}
	if r.mustBeDir && !opts.Mode.IsDir() {
		return linux.ENOENT
	}
	if err := mayCreate(ctx, creds, parent); err != nil {
		return err
	}
	inode, err := parent.dentry.inode.(DirectoryInode).Create(ctx, creds, name, opts)
	if err != nil {
		return err
	}
	parent.dentry.insertChildLocked(name, inode)
	inotifyDirEvent(parent.dentry, linux.IN_CREATE, name, inode)
	return nil
}

// MkdirAt implements mkdir(2). mode is after the umask.
func (vfs *VirtualFilesystem) MkdirAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation, mode linux.FileMode) error {
	return vfs.createAt(ctx, creds, pop, CreateOptions{Mode: linux.S_IFDIR | mode&(linux.S_IRWXU|linux.S_IRWXG|linux.S_IRWXO|linux.S_ISVTX)})
}

// MknodAt implements mknod(2). opts.Mode is after the umask; type 0
// means a regular file.
func (vfs *VirtualFilesystem) MknodAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation, opts CreateOptions) error {
	switch opts.Mode.FileType() {
	case 0:
		opts.Mode |= linux.S_IFREG
	case linux.S_IFREG, linux.S_IFIFO, linux.S_IFSOCK:
	case linux.S_IFCHR, linux.S_IFBLK:
		if !creds.HasCapability(linux.CAP_MKNOD) {
			return linux.EPERM
		}
	case linux.S_IFDIR:
		return linux.EPERM
	default:
		return linux.EINVAL
	}
	opts.Target = ""
	return vfs.createAt(ctx, creds, pop, opts)
}

// SymlinkAt implements symlink(2): a link at pop holding target.
func (vfs *VirtualFilesystem) SymlinkAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation, target string) error {
	if target == "" {
		return linux.ENOENT
	}
	if len(target) >= linux.PATH_MAX {
		return linux.ENAMETOOLONG
	}
	return vfs.createAt(ctx, creds, pop, CreateOptions{Mode: linux.S_IFLNK | 0777, Target: target})
}

// LinkAt implements link(2): a new name at newpop for the file oldpop
// names (following a final symlink only if oldpop says so, as
// AT_SYMLINK_FOLLOW does).
func (vfs *VirtualFilesystem) LinkAt(ctx context.Context, creds *auth.Credentials, oldpop, newpop *PathOperation) error {
	old, err := vfs.resolve(ctx, creds, oldpop, oldpop.FollowFinalSymlink)
	if err != nil {
		return err
	}
	defer old.DecRef()
	if old.dentry.isDir() {
		return linux.EPERM
	}
	r, name, err := vfs.resolveParent(ctx, creds, newpop)
	if err != nil {
		return err
	}
	if name == "" || name == "." || name == ".." {
		return linux.EEXIST
	}
	parent := r.cur
	if parent.mount != old.mount {
		return linux.EXDEV
	}
	parent.dentry.mu.Lock()
	defer parent.dentry.mu.Unlock()
	if _, err := vfs.lookupChildLocked(ctx, parent.dentry, name); err == nil {
		return linux.EEXIST
	} else if err != linux.ENOENT {
		return err
	}
	if r.mustBeDir {
		return linux.ENOENT
	}
	if err := mayCreate(ctx, creds, parent); err != nil {
		return err
	}
	// A file without links cannot get one back, but for an unlinked
	// O_TMPFILE file (tmpfile.go).
	if old.dentry.IsDead() && !tmpfileLinkable(old.dentry.inode) {
		return linux.ENOENT
	}
	if err := parent.dentry.inode.(DirectoryInode).Link(ctx, name, old.dentry.inode); err != nil {
		return err
	}
	parent.dentry.insertChildLocked(name, old.dentry.inode)
	inotifyInodeEvent(old.dentry.inode, linux.IN_ATTRIB)
	inotifyDirEvent(parent.dentry, linux.IN_CREATE, name, old.dentry.inode)
	return nil
}

// mayDelete checks that creds may remove child from dir: write and
// search permission on dir, and for a sticky dir, ownership of the child
// or of dir (or CAP_FOWNER).
func mayDelete(ctx context.Context, creds *auth.Credentials, dir VirtualDentry, child *Dentry) error {
	if err := dir.dentry.inode.CheckPermission(ctx, creds, auth.MayWrite|auth.MayExec); err != nil {
		return err
	}
	dst, err := dir.dentry.inode.Stat(ctx, StatOptions{Mask: linux.STATX_MODE | linux.STATX_UID})
	if err != nil {
		return err
	}
	if dst.Mode&linux.S_ISVTX == 0 || creds.FSKUID == auth.KUID(dst.UID) || creds.HasCapability(linux.CAP_FOWNER) {
		return nil
	}
	cst, err := child.inode.Stat(ctx, StatOptions{Mask: linux.STATX_UID})
	if err != nil {
		return err
	}
	if creds.FSKUID != auth.KUID(cst.UID) {
		return linux.EPERM
	}
	return nil
}

// UnlinkAt implements unlink(2).
func (vfs *VirtualFilesystem) UnlinkAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation) error {
	r, name, err := vfs.resolveParent(ctx, creds, pop)
	if err != nil {
		return err
	}
	if name == "" || name == "." || name == ".." {
		return linux.EISDIR
	}
	parent := r.cur
	parent.dentry.mu.Lock()
	defer parent.dentry.mu.Unlock()
	child, err := vfs.lookupChildLocked(ctx, parent.dentry, name)
	if err != nil {
		return err
	}
	if child.isDir() {
		return linux.EISDIR
	}
	if r.mustBeDir {
		return linux.ENOTDIR
	}
	if parent.mount.ReadOnly() {
		return linux.EROFS
	}
	if err := mayDelete(ctx, creds, parent, child); err != nil {
		return err
	}
	if child.isMountPoint() {
		return linux.EBUSY
	}
	links := inotifyLinks(ctx, child.inode)
	if err := parent.dentry.inode.(DirectoryInode).Unlink(ctx, name, child.inode); err != nil {
		return err
	}
	delete(parent.dentry.children, name)
	child.mu.Lock()
	child.dead = true
	child.mu.Unlock()
	inotifyInodeEvent(child.inode, linux.IN_ATTRIB)
	inotifyRemoved(ctx, child, links)
	inotifyDirEvent(parent.dentry, linux.IN_DELETE, name, child.inode)
	return nil
}

// RmdirAt implements rmdir(2).
func (vfs *VirtualFilesystem) RmdirAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation) error {
	r, name, err := vfs.resolveParent(ctx, creds, pop)
	if err != nil {
		return err
	}
	switch name {
	case "":
		return linux.EBUSY
	case ".":
		return linux.EINVAL
	case "..":
		return linux.ENOTEMPTY
	}
	parent := r.cur
	parent.dentry.mu.Lock()
	defer parent.dentry.mu.Unlock()
	child, err := vfs.lookupChildLocked(ctx, parent.dentry, name)
	if err != nil {
		return err
	}
	if !child.isDir() {
		return linux.ENOTDIR
	}
	if parent.mount.ReadOnly() {
		return linux.EROFS
	}
	if err := mayDelete(ctx, creds, parent, child); err != nil {
		return err
	}
	if child.isMountPoint() {
		return linux.EBUSY
	}
	child.mu.Lock()
	defer child.mu.Unlock()
	links := inotifyLinks(ctx, child.inode)
	if err := parent.dentry.inode.(DirectoryInode).Rmdir(ctx, name, child.inode); err != nil {
		return err
	}
	delete(parent.dentry.children, name)
	child.dead = true
	inotifyRemoved(ctx, child, links)
	inotifyDirEvent(parent.dentry, linux.IN_DELETE, name, child.inode)
	return nil
}

// fillMountStat adds what the mount knows to a stat result.
func fillMountStat(st *linux.Statx, vd VirtualDentry) {
	st.Mask |= linux.STATX_MNT_ID
	st.MntID = vd.mount.id
	st.AttributesMask |= linux.STATX_ATTR_MOUNT_ROOT
	if vd.dentry == vd.mount.root {
		st.Attributes |= linux.STATX_ATTR_MOUNT_ROOT
	}
}

// StatAt implements stat(2), lstat(2), fstatat(2) and statx(2).
func (vfs *VirtualFilesystem) StatAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation, opts StatOptions) (linux.Statx, error) {
	vd, err := vfs.resolve(ctx, creds, pop, pop.FollowFinalSymlink)
	if err != nil {
		return linux.Statx{}, err
	}
	defer vd.DecRef()
	st, err := vd.dentry.inode.Stat(ctx, opts)
	if err != nil {
		return linux.Statx{}, err
	}
	fillMountStat(&st, vd)
	return st, nil
}

// SetStatAt implements chmod(2), chown(2), truncate(2) and utimensat(2)
// by path. Truncation needs write permission.
func (vfs *VirtualFilesystem) SetStatAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation, opts SetStatOptions) error {
	vd, err := vfs.resolve(ctx, creds, pop, pop.FollowFinalSymlink)
	if err != nil {
		return err
	}
	defer vd.DecRef()
	inode := vd.dentry.inode
	if opts.Mask&linux.STATX_SIZE != 0 {
		switch inode.Type() {
		case linux.S_IFREG:
		case linux.S_IFDIR:
			return linux.EISDIR
		default:
			return linux.EINVAL
		}
		if err := inode.CheckPermission(ctx, creds, auth.MayWrite); err != nil {
			return err
		}
	}
	if vd.mount.ReadOnly() && isOnDiskType(inode.Type()) {
		return linux.EROFS
	}
	if err := inode.SetStat(ctx, creds, opts); err != nil {
		return err
	}
	inotifyFileEvent(vd.dentry, inotifySetStatEvents(opts.Mask))
	return nil
}

// ReadlinkAt implements readlink(2).
func (vfs *VirtualFilesystem) ReadlinkAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation) (string, error) {
	vd, err := vfs.resolve(ctx, creds, pop, false)
	if err != nil {
		return "", err
	}
	defer vd.DecRef()
	sl, ok := vd.dentry.inode.(SymlinkInode)
	if !ok {
		return "", linux.EINVAL
	}
	return sl.Readlink(ctx)
}

// AccessAt implements access(2) and faccessat(2); the caller passes the
// credentials to check with (the real IDs, unless AT_EACCESS).
func (vfs *VirtualFilesystem) AccessAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation, ats auth.AccessTypes) error {
	vd, err := vfs.resolve(ctx, creds, pop, pop.FollowFinalSymlink)
	if err != nil {
		return err
	}
	defer vd.DecRef()
	return vfs.CheckAccess(ctx, creds, vd, ats)
}

// CheckAccess checks ats on the file at vd including the mount's
// restrictions: writing to a read-only mount (EROFS) and executing from a
// noexec one (EACCES). execve uses it with MayExec.
func (vfs *VirtualFilesystem) CheckAccess(ctx context.Context, creds *auth.Credentials, vd VirtualDentry, ats auth.AccessTypes) error {
	typ := vd.dentry.inode.Type()
	if ats&auth.MayWrite != 0 && vd.mount.ReadOnly() && isOnDiskType(typ) {
		return linux.EROFS
	}
	if err := vd.dentry.inode.CheckPermission(ctx, creds, ats); err != nil {
		return err
	}
	if ats&auth.MayExec != 0 && typ == linux.S_IFREG && vd.mount.NoExec() {
		return linux.EACCES
	}
	return nil
}

// StatFSAt implements statfs(2).
func (vfs *VirtualFilesystem) StatFSAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation) (linux.Statfs, error) {
	vd, err := vfs.resolve(ctx, creds, pop, true)
	if err != nil {
		return linux.Statfs{}, err
	}
	defer vd.DecRef()
	return statFS(ctx, vd)
}

func statFS(ctx context.Context, vd VirtualDentry) (linux.Statfs, error) {
	st, err := vd.dentry.fs.impl.StatFS(ctx)
	if err != nil {
		return st, err
	}
	mf := vd.mount.Flags()
	st.Flags |= linux.ST_VALID
	for _, m := range [...][2]uint32{
		{linux.MS_RDONLY, linux.ST_RDONLY}, {linux.MS_NOSUID, linux.ST_NOSUID},
		{linux.MS_NODEV, linux.ST_NODEV}, {linux.MS_NOEXEC, linux.ST_NOEXEC},
		{linux.MS_NOATIME, linux.ST_NOATIME}, {linux.MS_NODIRATIME, linux.ST_NODIRATIME},
		{linux.MS_RELATIME, linux.ST_RELATIME}, {linux.MS_NOSYMFOLLOW, linux.ST_NOSYMFOLLOW},
	} {
		if mf&m[0] != 0 {
			st.Flags |= int64(m[1])
		}
	}
	return st, nil
}
