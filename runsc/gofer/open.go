package gofer

import (
	"strconv"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
)

// openFlagsAllowed are the open(2) flags a client may pass. Creation,
// O_PATH and O_TMPFILE have their own operations or none.
const openFlagsAllowed = unix.O_ACCMODE | unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC |
	unix.O_SYNC | unix.O_DIRECT | unix.O_LARGEFILE | unix.O_DIRECTORY | unix.O_NOFOLLOW |
	unix.O_NOATIME | unix.O_CLOEXEC | unix.O_TRUNC | unix.O_NOCTTY | unix.O_ASYNC

// checkOpenFlags validates client open flags against the export and
// returns the flags to use on the host.
func checkOpenFlags(exp *export, flags uint32) (int, error) {
	f := int(flags)
	if f&^openFlagsAllowed != 0 || f&unix.O_ACCMODE == unix.O_ACCMODE {
		return 0, linux.EINVAL
	}
	if exp.readOnly && (f&unix.O_ACCMODE != unix.O_RDONLY || f&unix.O_TRUNC != 0) {
		return 0, linux.EROFS
	}
	// The server checked the node is not a symlink; O_NOFOLLOW would make
	// the reopen through /proc fail. O_NOCTTY always: no host terminal
	// may become the gofer's.
	return f&^unix.O_NOFOLLOW | unix.O_NOCTTY | unix.O_CLOEXEC, nil
}

// reopen opens the file node h pins with flags. Directories reopen as
// "." beneath themselves; anything else goes through the server's own
// /proc/self/fd entry, the only way Linux reopens an O_PATH descriptor.
func (s *session) reopen(h *handle, flags int) (int, error) {
	flags |= unix.O_CLOEXEC | unix.O_NOCTTY
	if h.isDir() {
		return unix.Openat(h.fd, ".", flags|unix.O_DIRECTORY, 0)
	}
	if s.g.procSelfFD < 0 {
		return -1, linux.EOPNOTSUPP
	}
	for {
		fd, err := unix.Openat(s.g.procSelfFD, strconv.Itoa(h.fd), flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// checkOpenable refuses files the gofer never opens for a client:
// symlinks (the Sentry resolves them), and devices, FIFOs and sockets,
// whose behaviour the Sentry implements itself; opening a host device
// node found in a container image would hand the host device to the
// sandbox.
func checkOpenable(h *handle, flags int) error {
	switch h.ftype {
	case linux.S_IFREG:
		if flags&unix.O_DIRECTORY != 0 {
			return linux.ENOTDIR
		}
		return nil
	case linux.S_IFDIR:
		return nil
	case linux.S_IFLNK:
		return linux.ELOOP
	case linux.S_IFSOCK:
		return linux.ENXIO
	}
	return linux.EACCES
}

// Open implements lisafs.Session.Open.
func (s *session) Open(req *lisafs.OpenReq) (*lisafs.OpenResp, int, error) {
	h, err := s.getNode(req.FD)
	if err != nil {
		return nil, -1, err
	}
	defer s.put(h)
	flags, err := checkOpenFlags(h.exp, req.Flags)
	if err != nil {
		return nil, -1, err
	}
	if err := checkOpenable(h, flags); err != nil {
		return nil, -1, err
	}
	fd, err := s.reopen(h, flags)
	if err != nil {
		return nil, -1, err
	}
	donated, err := dupFD(fd)
	if err != nil {
		unix.Close(fd)
		return nil, -1, err
	}
	id := s.add(h.exp, fd, h.ftype, true)
	return &lisafs.OpenResp{FD: id}, donated, nil
}

// OpenCreate implements lisafs.Session.OpenCreate.
func (s *session) OpenCreate(req *lisafs.OpenCreateReq) (*lisafs.OpenCreateResp, int, error) {
	if err := checkName(req.Name); err != nil {
		return nil, -1, err
	}
	dir, err := s.getDir(req.Dir)
	if err != nil {
		return nil, -1, err
	}
	defer s.put(dir)
	if dir.exp.readOnly {
		return nil, -1, linux.EROFS
	}
	flags, err := checkOpenFlags(dir.exp, req.Flags)
	if err != nil {
		return nil, -1, err
	}
	if flags&unix.O_DIRECTORY != 0 {
		return nil, -1, linux.EINVAL
	}
	fd, err := openBeneath(dir.fd, req.Name, flags|unix.O_CREAT|unix.O_EXCL, req.Mode&07777)
	if err != nil {
		return nil, -1, err
	}
	// O_EXCL guarantees fd is the file just made; if it cannot be given
	// its owner, it must not stay behind.
	undo := func(err error) (*lisafs.OpenCreateResp, int, error) {
		unix.Close(fd)
		unix.Unlinkat(dir.fd, req.Name, 0)
		return nil, -1, err
	}
	if err := chown(fd, req.UID, req.GID); err != nil {
		return undo(err)
	}
	node, err := s.nodeOfOpen(dir, req.Name, fd)
	if err != nil {
		return undo(err)
	}
	donated, err := dupFD(fd)
	if err != nil {
		s.Close(&lisafs.FDsReq{FDs: []lisafs.FDID{node.FD}})
		return undo(err)
	}
	id := s.add(dir.exp, fd, linux.S_IFREG, true)
	return &lisafs.OpenCreateResp{Node: node, FD: id}, donated, nil
}

// nodeOfOpen makes a node handle for the file fd (just created as name in
// dir) has open. Through /proc it is the very same inode; without /proc
// the name is looked up again and the inode compared, so a concurrent
// rename cannot swap in another file.
func (s *session) nodeOfOpen(dir *handle, name string, fd int) (lisafs.Inode, error) {
	var pathFD int
	var err error
	if s.g.procSelfFD >= 0 {
		pathFD, err = unix.Openat(s.g.procSelfFD, strconv.Itoa(fd), unix.O_PATH|unix.O_CLOEXEC, 0)
	} else {
		pathFD, err = openBeneath(dir.fd, name, unix.O_PATH, 0)
	}
	if err != nil {
		return lisafs.Inode{}, err
	}
	node, err := s.addNode(dir.exp, pathFD)
	if err != nil {
		return node, err
	}
	if s.g.procSelfFD < 0 {
		if want, err := fstat(fd); err != nil || want.Ino != node.Stat.Ino ||
			want.DevMajor != node.Stat.DevMajor || want.DevMinor != node.Stat.DevMinor {
			s.Close(&lisafs.FDsReq{FDs: []lisafs.FDID{node.FD}})
			return lisafs.Inode{}, linux.EAGAIN
		}
	}
	return node, nil
}

// Fsync implements lisafs.Session.Fsync. A node handle is reopened
// read-only for the call, which is enough for fsync(2).
func (s *session) Fsync(req *lisafs.FDsReq) error {
	var first error
	for _, id := range req.FDs {
		if err := s.fsyncOne(id); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *session) fsyncOne(id lisafs.FDID) error {
	h, err := s.get(id)
	if err != nil {
		return err
	}
	defer s.put(h)
	if h.open {
		return unix.Fsync(h.fd)
	}
	if h.ftype != linux.S_IFREG && h.ftype != linux.S_IFDIR {
		return linux.EINVAL
	}
	fd, err := s.reopen(h, unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fsync(fd)
}

// Flush implements lisafs.Session.Flush: closing a duplicate of the
// server's descriptor runs the filesystem's flush (as close(2) does)
// without ending the open file.
func (s *session) Flush(req *lisafs.FDReq) error {
	h, err := s.get(req.FD)
	if err != nil {
		return err
	}
	defer s.put(h)
	if !h.open {
		return linux.EBADF
	}
	fd, err := dupFD(h.fd)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}
