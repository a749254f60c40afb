package vfs

import (
	"context"
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Dentry is a name in a filesystem's tree, cached by the VFS. Directories
// have exactly one dentry per Filesystem; other files have one per hard
// link that has been looked up. Dentries are kept while their parent is
// in the tree; unlinked ones live on while something (an open file, a
// working directory) refers to them, and the Go collector frees them.
//
// +stateify savable
type Dentry struct {
	fs    *Filesystem
	inode Inode

	// name and parent place the dentry in the tree; parent is nil for a
	// filesystem root and for disconnected dentries. Guarded by
	// vfs.renameMu, and written only with the old and new parents' mu
	// held too.
	name   string
	parent *Dentry

	// disconnected marks a dentry that was never in a tree (pipes).
	disconnected bool

	// mu serializes operations that change this directory's entries, as
	// Linux's i_rwsem does, and guards children and dead.
	mu sync.Mutex // +state:nosave
	// children caches looked-up entries of a directory.
	children map[string]*Dentry
	// dead is set when the dentry has been removed from its parent;
	// nothing can be created in a dead directory.
	dead bool

	// mounts counts the mounts attached at this dentry, so walks skip
	// the mount table for the common unmounted case.
	mounts atomic.Int32

	// inotifyOpens counts the open files of the dentry, and
	// inotifyDeletePending marks a removed file whose IN_DELETE_SELF
	// waits for the last of them to close (inotify.go).
	inotifyOpens         atomic.Int32 // +state:nosave
	inotifyDeletePending atomic.Bool  // +state:nosave
}

// Inode returns the dentry's inode.
func (d *Dentry) Inode() Inode { return d.inode }

// Filesystem returns the filesystem d belongs to.
func (d *Dentry) Filesystem() *Filesystem { return d.fs }

// IsDead reports whether d has been unlinked or removed.
func (d *Dentry) IsDead() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dead
}

func (d *Dentry) isDir() bool { return d.inode.Type() == linux.S_IFDIR }

func (d *Dentry) isMountPoint() bool { return d.mounts.Load() != 0 }

// lookupChildLocked returns parent's child called name, from the cache or
// from the filesystem. parent.mu must be held.
func (vfs *VirtualFilesystem) lookupChildLocked(ctx context.Context, parent *Dentry, name string) (*Dentry, error) {
	if parent.dead {
		return nil, linux.ENOENT
	}
	dir, ok := parent.inode.(DirectoryInode)
	if !ok {
		return nil, linux.ENOTDIR
	}
	if c, ok := parent.children[name]; ok {
		rv, ok := parent.inode.(DentryRevalidator)
		if !ok || c.isMountPoint() || rv.Revalidate(ctx, name, c.inode) {
			return c, nil
		}
		delete(parent.children, name)
	}
	inode, err := dir.Lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	return parent.insertChildLocked(name, inode), nil
}

// insertChildLocked caches a new dentry for inode as parent's child name.
// parent.mu must be held. The new dentry is not yet visible to anyone, so
// its name and parent may be set without renameMu.
func (parent *Dentry) insertChildLocked(name string, inode Inode) *Dentry {
	c := &Dentry{fs: parent.fs, inode: inode, name: name, parent: parent}
	if parent.children == nil {
		parent.children = make(map[string]*Dentry)
	}
	parent.children[name] = c
	return c
}

func (vfs *VirtualFilesystem) lookupChild(ctx context.Context, parent *Dentry, name string) (*Dentry, error) {
	parent.mu.Lock()
	defer parent.mu.Unlock()
	return vfs.lookupChildLocked(ctx, parent, name)
}
