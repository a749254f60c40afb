package vfs

import (
	"context"
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// inotify(7): watches on inodes, and the events the VFS generates as its
// operations complete.
//
// A watch belongs to one Inotify file and names one Inode; the registry
// below finds the watches of an inode when an event happens. Events are
// generated here, where each VFS operation completes, so every
// filesystem (tmpfs, the gofer, the overlay) reports the changes the
// sandbox itself makes; changes made behind the Sentry's back (on the
// host, under a gofer mount) are not seen.
//
// Which inode gets which event follows Linux's fsnotify: a file event
// (access, modify, attrib, open, close) goes to the parent directory's
// watches, with the file's name, and then to the file's own watches;
// directory events (create, delete, moves) go to the directory with the
// child's name; IN_DELETE_SELF goes out when the last link is gone and
// the last open file of the dentry is closed, followed by IN_IGNORED and
// the end of the file's watches.
//
// Lock order: Inotify.mu, then inotifyRegistry.mu. Delivery takes the
// registry lock only to copy a watch list, and then each Inotify's mu in
// turn, so events can be generated with any VFS lock held.

// inotifyRegistry maps inodes to their watches. It is process-wide:
// inodes are distinct objects whichever VirtualFilesystem they belong
// to. It is not saved; a restored sandbox has no watches.
var inotifyRegistry struct {
	// active counts watches, and dnotify's registrations (dnotify.go),
	// so that operations on files nobody watches (nearly all of them)
	// pay one atomic load.
	active atomic.Int64
	// mu guards byInode. Lists are copied on write, so a reader may
	// keep a list after unlocking.
	mu      sync.RWMutex
	byInode map[Inode][]*inotifyWatch
}

// inotifyWatch is one watch: wd of owner on inode.
type inotifyWatch struct {
	owner *Inotify
	wd    int32
	inode Inode
	// mask and removed are guarded by owner.mu. mask holds the events
	// and the IN_EXCL_UNLINK and IN_ONESHOT flags.
	mask    uint32
	removed bool
}

func inotifyWatched() bool { return inotifyRegistry.active.Load() != 0 }

func inotifyWatchesOf(inode Inode) []*inotifyWatch {
	inotifyRegistry.mu.RLock()
	defer inotifyRegistry.mu.RUnlock()
	return inotifyRegistry.byInode[inode]
}

func inotifyRegister(w *inotifyWatch) {
	inotifyRegistry.mu.Lock()
	defer inotifyRegistry.mu.Unlock()
	if inotifyRegistry.byInode == nil {
		inotifyRegistry.byInode = make(map[Inode][]*inotifyWatch)
	}
	old := inotifyRegistry.byInode[w.inode]
	l := make([]*inotifyWatch, len(old), len(old)+1)
	copy(l, old)
	inotifyRegistry.byInode[w.inode] = append(l, w)
	inotifyRegistry.active.Add(1)
}

func inotifyUnregister(w *inotifyWatch) {
	inotifyRegistry.mu.Lock()
	defer inotifyRegistry.mu.Unlock()
	old := inotifyRegistry.byInode[w.inode]
	l := make([]*inotifyWatch, 0, len(old))
	for _, o := range old {
		if o != w {
			l = append(l, o)
		}
	}
	if len(l) == len(old) {
		return
	}
	if len(l) == 0 {
		delete(inotifyRegistry.byInode, w.inode)
	} else {
		inotifyRegistry.byInode[w.inode] = l
	}
	inotifyRegistry.active.Add(-1)
}

// inotifyNotify delivers an event to the watches of inode. name is the
// child's name for events on a directory's entry, unlinked says the
// event is about an open file whose name is gone (IN_EXCL_UNLINK watches
// skip those).
func inotifyNotify(inode Inode, ev, cookie uint32, name string, unlinked bool) {
	for _, w := range inotifyWatchesOf(inode) {
		w.owner.deliver(w, ev, cookie, name, unlinked)
	}
	dnotifyNotify(inode, dnotifyEvents(ev))
}

// inotifySelfGone sends IN_DELETE_SELF to inode's watches and ends them
// all with IN_IGNORED, as Linux does when the inode is freed.
func inotifySelfGone(inode Inode) {
	ws := inotifyWatchesOf(inode)
	for _, w := range ws {
		w.owner.deliver(w, linux.IN_DELETE_SELF, 0, "", false)
	}
	for _, w := range ws {
		w.owner.removeWatch(w)
	}
}

// inotifyFileEvent reports a file event (access, modify, attrib, open,
// close) on d: to its parent's watches with its name, then to its own.
// No dentry lock may be held, and not vfs.renameMu.
func inotifyFileEvent(d *Dentry, ev uint32) {
	if !inotifyWatched() || d == nil {
		return
	}
	if d.isDir() {
		ev |= linux.IN_ISDIR
	}
	dead := d.IsDead()
	if !d.disconnected && d.fs != nil && d.fs.vfs != nil {
		v := d.fs.vfs
		v.renameMu.RLock()
		parent, name := d.parent, d.name
		v.renameMu.RUnlock()
		if parent != nil {
			inotifyNotify(parent.inode, ev, 0, name, dead)
		}
	}
	inotifyNotify(d.inode, ev, 0, "", dead)
}

// inotifyDirEvent reports an event on dir's entry name (create, delete),
// whose inode is child.
func inotifyDirEvent(dir *Dentry, ev uint32, name string, child Inode) {
	if !inotifyWatched() {
		return
	}
	if child != nil && child.Type() == linux.S_IFDIR {
		ev |= linux.IN_ISDIR
	}
	inotifyNotify(dir.inode, ev, 0, name, false)
}

// inotifyInodeEvent reports an event to inode's own watches only (the
// IN_ATTRIB of a link count change, IN_MOVE_SELF).
func inotifyInodeEvent(inode Inode, ev uint32) {
	if !inotifyWatched() {
		return
	}
	if inode.Type() == linux.S_IFDIR {
		ev |= linux.IN_ISDIR
	}
	inotifyNotify(inode, ev, 0, "", false)
}

// inotifyCookie numbers rename event pairs.
var inotifyCookie atomic.Uint32

// inotifyMove reports a rename of child from oldDir/oldName to
// newDir/newName: IN_MOVED_FROM and IN_MOVED_TO with a shared cookie,
// IN_ATTRIB for the link count of the file it replaced, if any, then
// IN_MOVE_SELF on the file.
func inotifyMove(oldDir *Dentry, oldName string, newDir *Dentry, newName string, child, replaced Inode) {
	if !inotifyWatched() {
		return
	}
	var isDir uint32
	if child.Type() == linux.S_IFDIR {
		isDir = linux.IN_ISDIR
	}
	if oldDir == newDir {
		// Linux's FS_RENAME, which only dnotify hears of within one
		// directory, comes first.
		dnotifyNotify(oldDir.inode, linux.DN_RENAME)
	}
	cookie := inotifyCookie.Add(1)
	inotifyNotify(oldDir.inode, linux.IN_MOVED_FROM|isDir, cookie, oldName, false)
	inotifyNotify(newDir.inode, linux.IN_MOVED_TO|isDir, cookie, newName, false)
	if replaced != nil {
		inotifyInodeEvent(replaced, linux.IN_ATTRIB)
	}
	// Self events carry no IN_ISDIR.
	inotifyNotify(child, linux.IN_MOVE_SELF, 0, "", false)
}

// inotifyLinks returns inode's link count, for inotifyRemoved, when
// anyone watches it; -1 otherwise.
func inotifyLinks(ctx context.Context, inode Inode) int64 {
	if !inotifyWatched() || len(inotifyWatchesOf(inode)) == 0 {
		return -1
	}
	st, err := inode.Stat(ctx, StatOptions{Mask: linux.STATX_NLINK})
	if err != nil {
		return 0
	}
	return int64(st.Nlink)
}

// inotifyRemoved runs after d lost its name (unlink, rmdir, or replaced
// by a rename); before is inotifyLinks from before the removal. The file
// is gone once its link count is 0, or did not move (a filesystem that
// does not track the count, such as the overlay for a lower-layer
// file); it then gets IN_DELETE_SELF, at once or when the last open file
// of d is closed.
func inotifyRemoved(ctx context.Context, d *Dentry, before int64) {
	if before < 0 {
		return
	}
	if !d.isDir() {
		after := inotifyLinks(ctx, d.inode)
		if after != 0 && after != before {
			return
		}
		if d.inotifyOpens.Load() > 0 {
			d.inotifyDeletePending.Store(true)
			return
		}
	}
	inotifySelfGone(d.inode)
}

// inotifyOpened and inotifyClosed count d's open files, so that
// IN_DELETE_SELF waits for the last close as it does on Linux.
func (d *Dentry) inotifyOpened() { d.inotifyOpens.Add(1) }

func (d *Dentry) inotifyClosed() {
	if d.inotifyOpens.Add(-1) == 0 && d.inotifyDeletePending.Load() {
		d.inotifyDeletePending.Store(false)
		inotifySelfGone(d.inode)
	}
}

// inotifySetStatEvents returns the events of an attribute change, as
// Linux's fsnotify_change computes them.
func inotifySetStatEvents(mask uint32) uint32 {
	var ev uint32
	if mask&(linux.STATX_UID|linux.STATX_GID|linux.STATX_MODE) != 0 {
		ev |= linux.IN_ATTRIB
	}
	if mask&linux.STATX_SIZE != 0 {
		ev |= linux.IN_MODIFY
	}
	switch mask & (linux.STATX_ATIME | linux.STATX_MTIME) {
	case linux.STATX_ATIME | linux.STATX_MTIME:
		ev |= linux.IN_ATTRIB
	case linux.STATX_ATIME:
		ev |= linux.IN_ACCESS
	case linux.STATX_MTIME:
		ev |= linux.IN_MODIFY
	}
	return ev
}

// inotifyOpenEvent reports the open of fd (IN_OPEN) and counts it for
// IN_DELETE_SELF. O_PATH files are not opens of the file.
func (fd *FileDescription) inotifyOpenEvent() {
	if !fd.vd.Ok() || fd.isPath() {
		return
	}
	fd.vd.dentry.inotifyOpened()
	fd.inotifyOpenCounted = true
	inotifyFileEvent(fd.vd.dentry, linux.IN_OPEN)
}

// inotifyCloseEvent reports the last close of fd.
func (fd *FileDescription) inotifyCloseEvent() {
	if !fd.inotifyOpenCounted {
		return
	}
	ev := uint32(linux.IN_CLOSE_NOWRITE)
	if fd.IsWritable() {
		ev = linux.IN_CLOSE_WRITE
	}
	inotifyFileEvent(fd.vd.dentry, ev)
	fd.vd.dentry.inotifyClosed()
}

// inotifyEvent reports a file event on fd's file. Only files opened by
// path report events: files a filesystem opens for itself (the overlay's
// layer files) stay silent, as Linux's FMODE_NONOTIFY keeps them, and
// may be used with VFS locks held.
func (fd *FileDescription) inotifyEvent(ev uint32) {
	if ev == 0 || !fd.inotifyOpenCounted || !inotifyWatched() {
		return
	}
	inotifyFileEvent(fd.vd.dentry, ev)
}
