package gofer

import (
	"sync"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
)

// handle is what an FDID names: a node (O_PATH descriptor) or an open
// file (the server's copy of a description also donated to the client).
type handle struct {
	exp *export
	fd  int
	// ftype is the S_IFMT bits, fixed for the life of an inode.
	ftype uint32
	open  bool

	// refs counts the table's reference plus one per request using the
	// handle, so that Close never closes a descriptor another request is
	// using (its number could be reused for some other file). Guarded by
	// the session's mu.
	refs int

	// dirMu guards dirFD, a directory description of the handle's own
	// opened for Getdents64 so that its offset is never shared with the
	// client's.
	dirMu sync.Mutex
	dirFD int
}

func (h *handle) isDir() bool { return h.ftype == linux.S_IFDIR }

func (h *handle) destroy() {
	unix.Close(h.fd)
	if h.dirFD >= 0 {
		unix.Close(h.dirFD)
	}
}

// session is one connection's handle table; it implements lisafs.Session.
type session struct {
	g *Gofer

	// mu guards handles, next and every handle's refs.
	mu      sync.Mutex
	handles map[lisafs.FDID]*handle
	next    lisafs.FDID
}

// add enters a new handle owning fd and returns its id.
func (s *session) add(exp *export, fd int, ftype uint32, open bool) lisafs.FDID {
	id, _ := s.addHeld(exp, fd, ftype, open, false)
	return id
}

// addHeld is add that, when hold is set, also returns the handle with a
// reference for the caller to put: a client may guess the new id and
// Close it before the caller is done with fd.
func (s *session) addHeld(exp *export, fd int, ftype uint32, open, hold bool) (lisafs.FDID, *handle) {
	h := &handle{exp: exp, fd: fd, ftype: ftype, open: open, refs: 1, dirFD: -1}
	if hold {
		h.refs++
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.handles[s.next] = h
	return s.next, h
}

// addNode enters a node handle for fd and returns it with its stat. On
// error fd is closed.
func (s *session) addNode(exp *export, fd int) (lisafs.Inode, error) {
	st, err := fstat(fd)
	if err != nil {
		unix.Close(fd)
		return lisafs.Inode{}, err
	}
	return lisafs.Inode{FD: s.add(exp, fd, st.FileType(), false), Stat: st}, nil
}

// get returns the handle id names, holding a reference the caller drops
// with put.
func (s *session) get(id lisafs.FDID) (*handle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.handles[id]
	if !ok {
		return nil, linux.EBADF
	}
	h.refs++
	return h, nil
}

// getNode is get for handles that must be nodes.
func (s *session) getNode(id lisafs.FDID) (*handle, error) {
	h, err := s.get(id)
	if err == nil && h.open {
		s.put(h)
		return nil, linux.EBADF
	}
	return h, err
}

// getDir is get for node handles that must be directories.
func (s *session) getDir(id lisafs.FDID) (*handle, error) {
	h, err := s.getNode(id)
	if err == nil && !h.isDir() {
		s.put(h)
		return nil, linux.ENOTDIR
	}
	return h, err
}

func (s *session) put(h *handle) {
	s.mu.Lock()
	h.refs--
	last := h.refs == 0
	s.mu.Unlock()
	if last {
		h.destroy()
	}
}

// Close implements lisafs.Session.Close.
func (s *session) Close(req *lisafs.FDsReq) error {
	var err error
	for _, id := range req.FDs {
		s.mu.Lock()
		h, ok := s.handles[id]
		delete(s.handles, id)
		s.mu.Unlock()
		if !ok {
			err = linux.EBADF
			continue
		}
		s.put(h)
	}
	return err
}

// Release implements lisafs.Session.Release.
func (s *session) Release() {
	s.mu.Lock()
	hs := s.handles
	s.handles = nil
	s.mu.Unlock()
	for _, h := range hs {
		s.put(h)
	}
}

// Mount implements lisafs.Session.Mount.
func (s *session) Mount(req *lisafs.MountReq) (*lisafs.MountResp, error) {
	exp, ok := s.g.exports[req.Export]
	if !ok {
		return nil, linux.ENOENT
	}
	fd, err := dupFD(exp.rootFD)
	if err != nil {
		return nil, err
	}
	root, err := s.addNode(exp, fd)
	if err != nil {
		return nil, err
	}
	return &lisafs.MountResp{Root: root, ReadOnly: exp.readOnly}, nil
}
