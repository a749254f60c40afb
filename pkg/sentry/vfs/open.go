package vfs

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// OpenAt implements open(2), openat(2) and openat2(2).
func (vfs *VirtualFilesystem) OpenAt(ctx context.Context, creds *auth.Credentials, pop *PathOperation, opts *OpenOptions) (*FileDescription, error) {
	flags := opts.Flags
	if flags&(linux.O_TMPFILE&^linux.O_DIRECTORY) != 0 {
		return vfs.openTmpfile(ctx, creds, pop, opts) // tmpfile.go
	}
	if flags&linux.O_PATH != 0 {
		flags &= linux.O_PATH | linux.O_DIRECTORY | linux.O_NOFOLLOW | linux.O_CLOEXEC
	}
	if flags&linux.O_CREAT != 0 && flags&linux.O_DIRECTORY != 0 {
		return nil, linux.EINVAL
	}
	follow := flags&linux.O_NOFOLLOW == 0
	o := *opts
	o.Flags = flags
	if flags&linux.O_CREAT == 0 {
		r, err := vfs.newResolver(ctx, creds, pop)
		if err != nil {
			return nil, err
		}
		if _, err := r.walk(false, follow); err != nil {
			return nil, err
		}
		return vfs.openResolved(ctx, creds, r.cur, &o, false)
	}
	return vfs.openCreate(ctx, creds, pop, &o, follow)
}

func (vfs *VirtualFilesystem) openCreate(ctx context.Context, creds *auth.Credentials, pop *PathOperation, opts *OpenOptions, follow bool) (*FileDescription, error) {
	r, err := vfs.newResolver(ctx, creds, pop)
	if err != nil {
		return nil, err
	}
	for {
		name, err := r.walk(true, false)
		if err != nil {
			return nil, err
		}
		if name == "" || name == "." || name == ".." || r.mustBeDir {
			return nil, linux.EISDIR
		}
		parent := r.cur
		parent.dentry.mu.Lock()
		child, err := vfs.lookupChildLocked(ctx, parent.dentry, name)
		if err == nil {
			parent.dentry.mu.Unlock()
			if opts.Flags&linux.O_EXCL != 0 {
				return nil, linux.EEXIST
			}
			vd, err := r.followMounts(VirtualDentry{parent.mount, child})
			if err != nil {
				return nil, err
			}
			if vd.dentry.inode.Type() == linux.S_IFLNK && follow {
				// Linux creates the target of a dangling symlink.
				if err := r.followSymlink(vd); err != nil {
					return nil, err
				}
				continue
			}
			r.cur = vd
			return vfs.openResolved(ctx, creds, vd, opts, false)
		}
		if err != linux.ENOENT {
			parent.dentry.mu.Unlock()
			return nil, err
		}
		if err := mayCreate(ctx, creds, parent); err != nil {
			parent.dentry.mu.Unlock()
			return nil, err
		}
		dir := parent.dentry.inode.(DirectoryInode)
		inode, err := dir.Create(ctx, creds, name, CreateOptions{Mode: linux.S_IFREG | opts.Mode&linux.PermissionsMask})
		if err != nil {
			parent.dentry.mu.Unlock()
			return nil, err
		}
		child = parent.dentry.insertChildLocked(name, inode)
		inotifyDirEvent(parent.dentry, linux.IN_CREATE, name, inode)
		parent.dentry.mu.Unlock()
		return vfs.openResolved(ctx, creds, VirtualDentry{parent.mount, child}, opts, true)
	}
}

// mayCreate checks that creds may add an entry to the directory parent.
func mayCreate(ctx context.Context, creds *auth.Credentials, parent VirtualDentry) error {
	if parent.mount.ReadOnly() {
		return linux.EROFS
	}
	return parent.dentry.inode.CheckPermission(ctx, creds, auth.MayWrite|auth.MayExec)
}

// openResolved opens the file at vd. created says O_CREAT just made it,
// in which case its permissions are not checked (a new file with mode 0
// can be opened by its creator) and there is nothing to truncate.
func (vfs *VirtualFilesystem) openResolved(ctx context.Context, creds *auth.Credentials, vd VirtualDentry, opts *OpenOptions, created bool) (*FileDescription, error) {
	flags := opts.Flags
	inode := vd.dentry.inode
	typ := inode.Type()
	if flags&linux.O_DIRECTORY != 0 && typ != linux.S_IFDIR {
		return nil, linux.ENOTDIR
	}
	if flags&linux.O_PATH != 0 {
		fd := &FileDescription{}
		fd.Init(&opathFD{}, flags, vd, nil)
		return fd, nil
	}
	if typ == linux.S_IFLNK {
		// Only reachable with O_NOFOLLOW.
		return nil, linux.ELOOP
	}
	truncated := false
	if !created {
		ats := auth.AccessTypesForOpenFlags(flags)
		if typ == linux.S_IFDIR && ats&auth.MayWrite != 0 {
			return nil, linux.EISDIR
		}
		if err := inode.CheckPermission(ctx, creds, ats); err != nil {
			return nil, err
		}
		if ats&auth.MayWrite != 0 && vd.mount.ReadOnly() && isOnDiskType(typ) {
			return nil, linux.EROFS
		}
		if (typ == linux.S_IFCHR || typ == linux.S_IFBLK) && vd.mount.NoDev() {
			return nil, linux.EACCES
		}
		if flags&linux.O_NOATIME != 0 {
			st, err := inode.Stat(ctx, StatOptions{Mask: linux.STATX_UID})
			if err != nil {
				return nil, err
			}
			if !auth.CanActAsOwner(creds, auth.KUID(st.UID)) {
				return nil, linux.EPERM
			}
		}
		if flags&linux.O_TRUNC != 0 && typ == linux.S_IFREG {
			if err := inode.SetStat(ctx, creds, SetStatOptions{Mask: linux.STATX_SIZE}); err != nil {
				return nil, err
			}
			truncated = true
		}
	}
	fd, err := inode.Open(ctx, vd, *opts)
	if err != nil {
		return nil, err
	}
	fd.inotifyOpenEvent()
	if truncated {
		inotifyFileEvent(vd.dentry, linux.IN_MODIFY)
	}
	return fd, nil
}
