package vfs

import (
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// dnotify: fcntl(2) F_NOTIFY, the directory change notification that
// predates inotify. A registration names an open directory, the
// descriptor table it was made through and a mask of DN_* events; when
// such an event happens in the directory (or to the directory itself),
// the file's owner gets a signal, as with O_ASYNC: SIGIO, or the F_SETSIG
// signal with si_code POLL_MSG and si_fd set to the F_NOTIFY descriptor.
//
// The events are inotify's (inotify.go): every event inotifyNotify
// delivers to an inode is also offered to the inode's dnotify
// registrations, mapped to DN_* bits below, and a rename within one
// directory adds DN_RENAME. Which operation fires which bit follows
// Linux, where dnotify is a client of fsnotify:
//
//	DN_ACCESS  read of an entry, getdents of the directory, atime-only utimes
//	DN_MODIFY  write, truncate, fallocate, open with O_TRUNC
//	DN_ATTRIB  chmod, chown, utimes, on an entry or the directory
//	DN_CREATE  create, mkdir, mknod, link, symlink, rename into
//	DN_DELETE  unlink, rmdir, rename out of
//	DN_RENAME  rename within the directory (which also fires DN_CREATE
//	           and DN_DELETE)
//
// As on Linux, a registration is keyed by (descriptor table, file
// description): a second F_NOTIFY through the same pair adds its bits to
// the first (and moves si_fd to the new descriptor), and closing any
// descriptor of the description in that table ends it (FDTable.closed),
// as does a mask without event bits. Without DN_MULTISHOT, a
// registration ends when it fires. F_NOTIFY makes the caller's process
// the file's owner unless it has one already.
//
// Lock order: dnotifyRegistry.mu is taken inside any VFS lock an event
// may be generated under, and nothing is taken inside it; signals are
// sent after it is released.

// dnotifyRegistry indexes the registrations by directory inode. Like
// inotifyRegistry it is process-wide and not saved: the registrations
// themselves are saved with their files, and put back by afterLoad.
var dnotifyRegistry struct {
	// count is the number of registrations, so that closes and events
	// pay one atomic load while there are none.
	count atomic.Int64
	mu    sync.Mutex
	// byInode holds the live registrations of each directory.
	byInode map[Inode][]*dnotifyWatch
}

// dnotifyWatch is one F_NOTIFY registration.
//
// +stateify savable
type dnotifyWatch struct {
	// file is the directory's description and table the table the
	// registration was made through.
	file  *FileDescription
	table *FDTable
	// async is file's signal-driven I/O state, which holds the owner
	// and the F_SETSIG signal.
	async *fileAsync
	// fd and mask are guarded by dnotifyRegistry.mu. fd is the
	// descriptor of the last F_NOTIFY (si_fd); mask holds DN_* events
	// and DN_MULTISHOT.
	fd   int32
	mask uint32
}

func (w *dnotifyWatch) inode() Inode { return w.file.vd.dentry.inode }

// afterLoad puts a restored registration back in the index.
func (w *dnotifyWatch) afterLoad() {
	dnotifyRegistry.mu.Lock()
	defer dnotifyRegistry.mu.Unlock()
	dnotifyAddLocked(w)
}

func dnotifyAddLocked(w *dnotifyWatch) {
	if dnotifyRegistry.byInode == nil {
		dnotifyRegistry.byInode = make(map[Inode][]*dnotifyWatch)
	}
	inode := w.inode()
	dnotifyRegistry.byInode[inode] = append(dnotifyRegistry.byInode[inode], w)
	dnotifyRegistry.count.Add(1)
	// Events are generated only while some watch exists.
	inotifyRegistry.active.Add(1)
}

// dnotifyRemoveLocked ends w: it leaves the index and its file's list.
func dnotifyRemoveLocked(w *dnotifyWatch) {
	inode := w.inode()
	old := dnotifyRegistry.byInode[inode]
	l := make([]*dnotifyWatch, 0, len(old))
	for _, o := range old {
		if o != w {
			l = append(l, o)
		}
	}
	if len(l) == len(old) {
		return
	}
	if len(l) == 0 {
		delete(dnotifyRegistry.byInode, inode)
	} else {
		dnotifyRegistry.byInode[inode] = l
	}
	f := w.file
	for i, o := range f.dnotify {
		if o == w {
			f.dnotify = append(f.dnotify[:i:i], f.dnotify[i+1:]...)
			break
		}
	}
	dnotifyRegistry.count.Add(-1)
	inotifyRegistry.active.Add(-1)
}

// SetDirNotify implements fcntl(F_NOTIFY) through descriptor fdNum of
// table: mask's DN_* events (with DN_MULTISHOT to fire more than once)
// are added to the registration of (table, fd); a mask without events
// removes it. caller is the owner F_NOTIFY sets if the file has none
// (Linux: the calling task's PID, as a process).
func (fd *FileDescription) SetDirNotify(table *FDTable, fdNum int32, mask uint32, caller FileOwner) error {
	if fd.isPath() {
		return linux.EBADF
	}
	if mask&^linux.DN_MULTISHOT == 0 {
		dnotifyFlush(table, fd)
		return nil
	}
	if fd.vd.dentry == nil || !fd.vd.dentry.isDir() {
		return linux.ENOTDIR
	}

	fd.flagsMu.Lock()
	a := fd.asyncLocked()
	a.mu.Lock()
	if a.owner == nil || !a.owner.Named() {
		a.owner = caller
	}
	a.mu.Unlock()
	fd.flagsMu.Unlock()

	dnotifyRegistry.mu.Lock()
	added := true
	for _, w := range fd.dnotify {
		if w.table == table {
			w.fd = fdNum
			w.mask |= mask
			added = false
			break
		}
	}
	if added {
		w := &dnotifyWatch{file: fd, table: table, async: a, fd: fdNum, mask: mask}
		fd.dnotify = append(fd.dnotify, w)
		dnotifyAddLocked(w)
	}
	dnotifyRegistry.mu.Unlock()

	// A close of fdNum racing with this call may have flushed before
	// the registration existed; it must not outlive the descriptor.
	if added && !table.holds(fdNum, fd) {
		dnotifyFlush(table, fd)
	}
	return nil
}

// holds reports whether descriptor n of t is f.
func (t *FDTable) holds(n int32, f *FileDescription) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return n >= 0 && int(n) < len(t.files) && t.files[n].file == f
}

// dnotifyFlush ends the registration of (table, fd), if any: a close of
// any of table's descriptors for fd (Linux's dnotify_flush).
func dnotifyFlush(table *FDTable, fd *FileDescription) {
	if dnotifyRegistry.count.Load() == 0 {
		return
	}
	dnotifyRegistry.mu.Lock()
	defer dnotifyRegistry.mu.Unlock()
	for _, w := range fd.dnotify {
		if w.table == table {
			dnotifyRemoveLocked(w)
			return
		}
	}
}

// dnotifyRelease ends every registration of fd at its last close.
// Each normally went when its table closed fd; this covers the rest.
func (fd *FileDescription) dnotifyRelease() {
	if dnotifyRegistry.count.Load() == 0 {
		return
	}
	dnotifyRegistry.mu.Lock()
	defer dnotifyRegistry.mu.Unlock()
	for len(fd.dnotify) > 0 {
		dnotifyRemoveLocked(fd.dnotify[0])
	}
}

// dnotifyEvents maps inotify events to DN_* events.
func dnotifyEvents(ev uint32) uint32 {
	var dn uint32
	if ev&linux.IN_ACCESS != 0 {
		dn |= linux.DN_ACCESS
	}
	if ev&linux.IN_MODIFY != 0 {
		dn |= linux.DN_MODIFY
	}
	if ev&linux.IN_ATTRIB != 0 {
		dn |= linux.DN_ATTRIB
	}
	if ev&(linux.IN_CREATE|linux.IN_MOVED_TO) != 0 {
		dn |= linux.DN_CREATE
	}
	if ev&(linux.IN_DELETE|linux.IN_MOVED_FROM) != 0 {
		dn |= linux.DN_DELETE
	}
	return dn
}

// dnotifySignal is one signal to send for a fired registration.
type dnotifySignal struct {
	async *fileAsync
	fd    int32
}

// dnotifyNotify fires the registrations of directory inode that ask for
// any of the DN_* events in dn, ending the one-shot ones.
func dnotifyNotify(inode Inode, dn uint32) {
	if dn == 0 || dnotifyRegistry.count.Load() == 0 {
		return
	}
	var fired []dnotifySignal
	dnotifyRegistry.mu.Lock()
	for _, w := range dnotifyRegistry.byInode[inode] {
		if w.mask&dn == 0 {
			continue
		}
		fired = append(fired, dnotifySignal{w.async, w.fd})
		if w.mask&linux.DN_MULTISHOT == 0 {
			// The list is copied on removal, so the loop goes on
			// over the old one.
			dnotifyRemoveLocked(w)
		}
	}
	dnotifyRegistry.mu.Unlock()
	for _, s := range fired {
		s.async.mu.Lock()
		owner, sig := s.async.owner, s.async.sig
		s.async.mu.Unlock()
		if owner != nil {
			owner.SendFileSignal(asyncSignalInfo(sig, linux.POLL_MSG, s.fd))
		}
	}
}
