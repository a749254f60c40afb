package gofer

import (
	"container/list"
	"sync"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
)

// Access modes a host handle is opened with, indexing regularFile.handles.
const (
	accRead = iota
	accWrite
	accReadWrite
	numAcc
)

var accFlags = [numAcc]uint32{accRead: linux.O_RDONLY, accWrite: linux.O_WRONLY, accReadWrite: linux.O_RDWR}

// hostHandle is an open handle on the gofer and the host descriptor it
// donated. File descriptions of one file share a handle per access mode,
// so opening a file that is already open costs no round trip.
type hostHandle struct {
	file *regularFile
	acc  int
	fdid lisafs.FDID
	host int

	// refs counts file descriptions and mappings using the handle;
	// guarded by file.handleMu. At zero the handle is idle: closed, or
	// kept in the filesystem's idle cache.
	refs int
	// idleElem is the handle's place in the idle cache; guarded by the
	// cache's mu.
	idleElem *list.Element
}

func (h *hostHandle) close() {
	unix.Close(h.host)
	h.file.fs.closer.closeLater(h.fdid)
}

// acquireHandle returns a handle that can read and/or write the file,
// with a reference the caller releases with releaseHandle.
func (f *regularFile) acquireHandle(read, write bool) (*hostHandle, error) {
	var cands []int
	switch {
	case read && write:
		cands = []int{accReadWrite}
	case write:
		cands = []int{accWrite, accReadWrite}
	default:
		cands = []int{accRead, accReadWrite}
	}
	f.handleMu.Lock()
	defer f.handleMu.Unlock()
	for _, a := range cands {
		if h := f.handles[a]; h != nil {
			f.refLocked(h)
			return h, nil
		}
	}
	// Held across the round trip so that concurrent opens of one file
	// share one handle rather than each making its own.
	acc := cands[0]
	id, host, err := f.fs.client.Open(f.fdid, accFlags[acc])
	if err != nil {
		return nil, toErrno(err)
	}
	h := &hostHandle{file: f, acc: acc, fdid: id, host: host, refs: 1}
	f.handles[acc] = h
	return h, nil
}

func (f *regularFile) refLocked(h *hostHandle) {
	h.refs++
	if h.refs == 1 {
		f.fs.idle.remove(h)
	}
}

// releaseHandle drops a reference from acquireHandle.
func (f *regularFile) releaseHandle(h *hostHandle) {
	f.handleMu.Lock()
	h.refs--
	if h.refs > 0 {
		f.handleMu.Unlock()
		return
	}
	f.mu.Lock()
	linked := f.attr.Nlink > 0
	f.mu.Unlock()
	var victims []*hostHandle
	keep := linked && f.fs.idle.max > 0
	if keep {
		victims = f.fs.idle.add(h)
	} else {
		f.handles[h.acc] = nil
	}
	f.handleMu.Unlock()
	if !keep {
		h.close()
	}
	for _, v := range victims {
		v.evict()
	}
}

// evict closes h, which the idle cache let go of, unless it was taken
// again meanwhile.
func (h *hostHandle) evict() {
	f := h.file
	f.handleMu.Lock()
	f.fs.idle.mu.Lock()
	dead := h.refs == 0 && h.idleElem == nil && f.handles[h.acc] == h
	f.fs.idle.mu.Unlock()
	if dead {
		f.handles[h.acc] = nil
	}
	f.handleMu.Unlock()
	if dead {
		h.close()
	}
}

// dropIdleHandles closes f's handles that nothing uses.
func (f *regularFile) dropIdleHandles() {
	var idle []*hostHandle
	f.handleMu.Lock()
	for _, h := range f.handles {
		if h != nil && h.refs == 0 && f.fs.idle.remove(h) {
			idle = append(idle, h)
		}
	}
	f.handleMu.Unlock()
	for _, h := range idle {
		h.evict()
	}
}

// idleHandles keeps up to max handles whose files were closed, most
// recently used first, so that reopening a file soon costs nothing.
type idleHandles struct {
	max int

	mu sync.Mutex
	// lru holds *hostHandle; guarded by mu.
	lru list.List
}

// add puts h in the cache and returns the handles pushed out, which the
// caller evicts once it holds no file's handleMu.
func (c *idleHandles) add(h *hostHandle) []*hostHandle {
	c.mu.Lock()
	defer c.mu.Unlock()
	h.idleElem = c.lru.PushFront(h)
	var out []*hostHandle
	for c.lru.Len() > c.max {
		v := c.lru.Remove(c.lru.Back()).(*hostHandle)
		v.idleElem = nil
		out = append(out, v)
	}
	return out
}

// remove takes h out of the cache and reports whether it was there.
func (c *idleHandles) remove(h *hostHandle) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.idleElem == nil {
		return false
	}
	c.lru.Remove(h.idleElem)
	h.idleElem = nil
	return true
}

// drain evicts every cached handle.
func (c *idleHandles) drain() {
	c.mu.Lock()
	var all []*hostHandle
	for e := c.lru.Front(); e != nil; e = e.Next() {
		h := e.Value.(*hostHandle)
		h.idleElem = nil
		all = append(all, h)
	}
	c.lru.Init()
	c.mu.Unlock()
	for _, h := range all {
		h.evict()
	}
}
