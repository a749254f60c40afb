package gofer

import (
	"runtime"
	"sync"
	"time"
	"weak"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
)

// inodeKey names a host file: its device and inode number.
type inodeKey struct {
	devMajor, devMinor uint32
	ino                uint64
}

func keyOf(s *lisafs.Stat) inodeKey {
	return inodeKey{s.DevMajor, s.DevMinor, s.Ino}
}

// inodeTable maps host files to their live inodes. Entries are weak: the
// VFS's dentries and open files keep inodes alive, and an inode nobody
// uses is collected and its entry removed by its cleanup.
type inodeTable struct {
	mu sync.Mutex
	// m is guarded by mu.
	m map[inodeKey]weak.Pointer[inode]
}

// inodeFor returns the inode of the file li describes, reusing the live
// one if the file is already known (a hard link, or a name looked up
// again after its dentry was dropped), in which case li's handle is
// redundant and closed. parent is the directory li was found in.
func (fs *filesystem) inodeFor(li lisafs.Inode, parent *directory) node {
	key := keyOf(&li.Stat)
	t := &fs.table
	t.mu.Lock()
	if wp, ok := t.m[key]; ok {
		if old := wp.Value(); old != nil && old.sameFile(&li.Stat) {
			t.mu.Unlock()
			fs.closer.closeLater(li.FD)
			if d, ok := old.self.(*directory); ok && parent != nil {
				d.setParent(parent)
			}
			return old.self
		}
	}
	n := fs.newNode(li, parent)
	b := n.base()
	b.wp = weak.Make(b)
	// The node handle (and any cached pages) go when the inode does.
	runtime.AddCleanup(b, releaseInode, cleanupArg{fs: fs, key: key, wp: b.wp, fdid: b.fdid, cache: b.cache})
	if t.m == nil {
		t.m = make(map[inodeKey]weak.Pointer[inode])
	}
	t.m[key] = b.wp
	t.mu.Unlock()
	return n
}

// sameFile reports whether s, the stat of a file with i's key, is the
// same file as i rather than a new one that reuses an inode number.
func (i *inode) sameFile(s *lisafs.Stat) bool {
	if linux.FileMode(s.FileType()) != i.typ {
		return false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if s.Mask&i.attr.Mask&linux.STATX_BTIME != 0 && s.Btime != i.attr.Btime {
		return false
	}
	return true
}

// forget removes i from the table once its last link is gone, so that a
// new file that reuses the inode number is not mistaken for it.
func (fs *filesystem) forget(i *inode) {
	t := &fs.table
	t.mu.Lock()
	if wp, ok := t.m[i.key]; ok && wp == i.wp {
		delete(t.m, i.key)
	}
	t.mu.Unlock()
}

// cleanupArg is what an inode's cleanup needs; it must not reach the
// inode, or the inode would never be collected.
type cleanupArg struct {
	fs    *filesystem
	key   inodeKey
	wp    weak.Pointer[inode]
	fdid  lisafs.FDID
	cache *pageCache
}

func releaseInode(a cleanupArg) {
	t := &a.fs.table
	t.mu.Lock()
	if wp, ok := t.m[a.key]; ok && wp == a.wp {
		delete(t.m, a.key)
	}
	t.mu.Unlock()
	if a.cache != nil {
		a.cache.dropAll()
	}
	a.fs.closer.closeLater(a.fdid)
}

// handleCloser batches the release of server-side handles, so that
// closing a file or dropping an inode costs no round trip of its own.
type handleCloser struct {
	client *lisafs.Client

	mu sync.Mutex
	// pending and armed are guarded by mu. armed is set while a flush is
	// scheduled.
	pending []lisafs.FDID
	armed   bool
}

// closeBatch is how many handles are queued before a flush starts at
// once; closeDelay bounds how long a handle waits otherwise.
const (
	closeBatch = 64
	closeDelay = 20 * time.Millisecond
)

func (c *handleCloser) closeLater(fd lisafs.FDID) {
	if fd == 0 {
		return
	}
	c.mu.Lock()
	c.pending = append(c.pending, fd)
	full := len(c.pending) >= closeBatch
	arm := !c.armed && !full
	if arm {
		c.armed = true
	}
	c.mu.Unlock()
	switch {
	case full:
		go c.flush()
	case arm:
		time.AfterFunc(closeDelay, c.flush)
	}
}

func (c *handleCloser) flush() {
	c.mu.Lock()
	fds := c.pending
	c.pending = nil
	c.armed = false
	c.mu.Unlock()
	if len(fds) > 0 {
		// Every named handle is released even on error; an error means
		// the connection is gone, which released them all anyway.
		c.client.CloseFDs(fds...)
	}
}
