package vfs

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// isAncestorOrSelf reports whether a is b or above it. vfs.renameMu must
// be held.
func isAncestorOrSelf(a, b *Dentry) bool {
	for d := b; d != nil; d = d.parent {
		if d == a {
			return true
		}
	}
	return false
}

// RenameAt implements rename(2) and renameat2(2) with RENAME_NOREPLACE
// and RENAME_EXCHANGE.
func (vfs *VirtualFilesystem) RenameAt(ctx context.Context, creds *auth.Credentials, oldpop, newpop *PathOperation, flags uint32) error {
	if flags&^(linux.RENAME_NOREPLACE|linux.RENAME_EXCHANGE) != 0 ||
		flags&(linux.RENAME_NOREPLACE|linux.RENAME_EXCHANGE) == linux.RENAME_NOREPLACE|linux.RENAME_EXCHANGE {
		return linux.EINVAL
	}
	exchange := flags&linux.RENAME_EXCHANGE != 0
	oldR, oldName, err := vfs.resolveParent(ctx, creds, oldpop)
	if err != nil {
		return err
	}
	newR, newName, err := vfs.resolveParent(ctx, creds, newpop)
	if err != nil {
		return err
	}
	if oldR.cur.mount != newR.cur.mount {
		return linux.EXDEV
	}
	if oldName == "" || oldName == "." || oldName == ".." {
		return linux.EBUSY
	}
	if newName == "" || newName == "." || newName == ".." {
		if flags&linux.RENAME_NOREPLACE != 0 {
			return linux.EEXIST
		}
		return linux.EBUSY
	}
	mnt := oldR.cur.mount
	if mnt.ReadOnly() {
		return linux.EROFS
	}

	vfs.renameMu.Lock()
	defer vfs.renameMu.Unlock()
	oldDir, newDir := oldR.cur.dentry, newR.cur.dentry
	switch {
	case oldDir == newDir:
		oldDir.mu.Lock()
		defer oldDir.mu.Unlock()
	case isAncestorOrSelf(newDir, oldDir):
		newDir.mu.Lock()
		defer newDir.mu.Unlock()
		oldDir.mu.Lock()
		defer oldDir.mu.Unlock()
	default:
		oldDir.mu.Lock()
		defer oldDir.mu.Unlock()
		newDir.mu.Lock()
		defer newDir.mu.Unlock()
	}

	child, err := vfs.lookupChildLocked(ctx, oldDir, oldName)
	if err != nil {
		return err
	}
	replaced, err := vfs.lookupChildLocked(ctx, newDir, newName)
	if err == linux.ENOENT {
		replaced, err = nil, nil
	}
	if err != nil {
		return err
	}
	if (oldR.mustBeDir || newR.mustBeDir) && !child.isDir() {
		return linux.ENOTDIR
	}
	if exchange && replaced == nil {
		return linux.ENOENT
	}
	if replaced != nil && flags&linux.RENAME_NOREPLACE != 0 {
		return linux.EEXIST
	}
	if replaced != nil && (replaced == child || replaced.inode == child.inode) {
		// Two names for one file: POSIX says do nothing.
		return nil
	}

	oldVD, newVD := VirtualDentry{mnt, oldDir}, VirtualDentry{mnt, newDir}
	if err := mayDelete(ctx, creds, oldVD, child); err != nil {
		return err
	}
	if replaced != nil {
		if err := mayDelete(ctx, creds, newVD, replaced); err != nil {
			return err
		}
	} else if err := newDir.inode.CheckPermission(ctx, creds, auth.MayWrite|auth.MayExec); err != nil {
		return err
	}
	// Moving a directory to another parent rewrites its "..".
	if oldDir != newDir {
		if child.isDir() {
			if err := child.inode.CheckPermission(ctx, creds, auth.MayWrite); err != nil {
				return err
			}
		}
		if exchange && replaced.isDir() {
			if err := replaced.inode.CheckPermission(ctx, creds, auth.MayWrite); err != nil {
				return err
			}
		}
	}
	if replaced != nil && !exchange {
		if child.isDir() && !replaced.isDir() {
			return linux.ENOTDIR
		}
		if !child.isDir() && replaced.isDir() {
			return linux.EISDIR
		}
	}
	if child.isDir() && isAncestorOrSelf(child, newDir) {
		return linux.EINVAL
	}
	if replaced != nil && isAncestorOrSelf(replaced, oldDir) {
		if exchange {
			return linux.EINVAL
		}
		return linux.ENOTEMPTY
	}
	if child.isMountPoint() || (replaced != nil && replaced.isMountPoint()) {
		return linux.EBUSY
	}

	var replacedInode Inode
	replacedLinks := int64(-1)
	if replaced != nil {
		replacedInode = replaced.inode
		replacedLinks = inotifyLinks(ctx, replaced.inode)
		if !exchange {
			replaced.mu.Lock()
			defer replaced.mu.Unlock()
		}
	}
	if err := oldDir.inode.(DirectoryInode).Rename(ctx, oldName, child.inode, newDir.inode.(DirectoryInode), newName, replacedInode, flags&linux.RENAME_EXCHANGE); err != nil {
		return err
	}

	if exchange {
		oldDir.children[oldName] = replaced
		newDir.children[newName] = child
		replaced.parent, replaced.name = oldDir, oldName
	} else {
		delete(oldDir.children, oldName)
		if replaced != nil {
			replaced.dead = true
		}
		if newDir.children == nil {
			newDir.children = make(map[string]*Dentry)
		}
		newDir.children[newName] = child
	}
	child.parent, child.name = newDir, newName
	if exchange {
		inotifyMove(oldDir, oldName, newDir, newName, child.inode, nil)
		inotifyMove(newDir, newName, oldDir, oldName, replaced.inode, nil)
	} else {
		inotifyMove(oldDir, oldName, newDir, newName, child.inode, replacedInode)
		if replaced != nil {
			inotifyRemoved(ctx, replaced, replacedLinks)
		}
	}
	return nil
}
