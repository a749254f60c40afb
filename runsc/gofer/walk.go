package gofer

import (
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
)

func checkWalkNames(names []string) error {
	if len(names) > lisafs.MaxWalkComponents {
		return linux.ENAMETOOLONG
	}
	for _, n := range names {
		if err := checkName(n); err != nil {
			return err
		}
	}
	return nil
}

// walk steps through names from dir, calling visit with each component's
// O_PATH descriptor (which visit owns) and stat. It stops early at a
// symlink with names left, at a missing name, or at any other lookup
// error, and says which.
func walk(dir *handle, names []string, visit func(fd int, st *lisafs.Stat)) (lisafs.WalkStatus, uint16) {
	cur := dir.fd
	for i, name := range names {
		fd, err := openBeneath(cur, name, unix.O_PATH, 0)
		if err != nil {
			if err == unix.ENOENT {
				return lisafs.WalkNotFound, uint16(linux.ENOENT)
			}
			return lisafs.WalkError, errnoNum(err)
		}
		st, err := fstat(fd)
		if err != nil {
			unix.Close(fd)
			return lisafs.WalkError, errnoNum(err)
		}
		visit(fd, &st)
		if st.IsSymlink() && i < len(names)-1 {
			return lisafs.WalkSymlink, 0
		}
		cur = fd
	}
	return lisafs.WalkComplete, 0
}

func errnoNum(err error) uint16 {
	if e, ok := err.(unix.Errno); ok {
		return uint16(e)
	}
	return uint16(linux.EIO)
}

// Walk implements lisafs.Session.Walk.
func (s *session) Walk(req *lisafs.WalkReq) (*lisafs.WalkResp, error) {
	if err := checkWalkNames(req.Names); err != nil {
		return nil, err
	}
	dir, err := s.getNode(req.Dir)
	if err != nil {
		return nil, err
	}
	defer s.put(dir)
	resp := &lisafs.WalkResp{Inodes: make([]lisafs.Inode, 0, len(req.Names))}
	// Each visited fd becomes a handle before the next step uses it as
	// its parent, so the table owns it from the start; the walk holds a
	// reference to each until it is done with them.
	held := make([]*handle, 0, len(req.Names))
	resp.Status, resp.Errno = walk(dir, req.Names, func(fd int, st *lisafs.Stat) {
		id, h := s.addHeld(dir.exp, fd, st.FileType(), false, true)
		held = append(held, h)
		resp.Inodes = append(resp.Inodes, lisafs.Inode{FD: id, Stat: *st})
	})
	for _, h := range held {
		s.put(h)
	}
	return resp, nil
}

// WalkStat implements lisafs.Session.WalkStat.
func (s *session) WalkStat(req *lisafs.WalkStatReq) (*lisafs.WalkStatResp, error) {
	if err := checkWalkNames(req.Names); err != nil {
		return nil, err
	}
	dir, err := s.getNode(req.Dir)
	if err != nil {
		return nil, err
	}
	defer s.put(dir)
	if len(req.Names) == 0 {
		st, err := fstat(dir.fd)
		if err != nil {
			return nil, err
		}
		return &lisafs.WalkStatResp{Stats: []lisafs.Stat{st}}, nil
	}
	resp := &lisafs.WalkStatResp{Stats: make([]lisafs.Stat, 0, len(req.Names))}
	// Each component is stat'ed by name (one checked component, never
	// followed) and only the directories walked through are opened:
	// openat2 is the dearest call here.
	cur := dir.fd
	defer func() {
		if cur != dir.fd {
			unix.Close(cur)
		}
	}()
	for i, name := range req.Names {
		st, err := statAt(cur, name)
		if err != nil {
			if err == unix.ENOENT {
				resp.Status, resp.Errno = lisafs.WalkNotFound, uint16(linux.ENOENT)
			} else {
				resp.Status, resp.Errno = lisafs.WalkError, errnoNum(err)
			}
			return resp, nil
		}
		resp.Stats = append(resp.Stats, st)
		if i == len(req.Names)-1 {
			break
		}
		if st.IsSymlink() {
			resp.Status = lisafs.WalkSymlink
			return resp, nil
		}
		fd, err := openBeneath(cur, name, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			// Not a directory, or replaced since the statx.
			resp.Status, resp.Errno = lisafs.WalkError, errnoNum(err)
			return resp, nil
		}
		if cur != dir.fd {
			unix.Close(cur)
		}
		cur = fd
	}
	return resp, nil
}

// Stat implements lisafs.Session.Stat.
func (s *session) Stat(req *lisafs.FDReq) (*lisafs.StatResp, error) {
	h, err := s.get(req.FD)
	if err != nil {
		return nil, err
	}
	defer s.put(h)
	st, err := fstat(h.fd)
	if err != nil {
		return nil, err
	}
	return &lisafs.StatResp{Stat: st}, nil
}

// Readlink implements lisafs.Session.Readlink.
func (s *session) Readlink(req *lisafs.FDReq) (*lisafs.ReadlinkResp, error) {
	h, err := s.getNode(req.FD)
	if err != nil {
		return nil, err
	}
	defer s.put(h)
	if h.ftype != linux.S_IFLNK {
		return nil, linux.EINVAL
	}
	buf := make([]byte, lisafs.PathMax)
	n, err := unix.Readlinkat(h.fd, "", buf)
	if err != nil {
		return nil, err
	}
	return &lisafs.ReadlinkResp{Target: string(buf[:n])}, nil
}

// StatFS implements lisafs.Session.StatFS.
func (s *session) StatFS(req *lisafs.FDReq) (*lisafs.StatFSResp, error) {
	h, err := s.get(req.FD)
	if err != nil {
		return nil, err
	}
	defer s.put(h)
	var st unix.Statfs_t
	if err := unix.Fstatfs(h.fd, &st); err != nil {
		return nil, err
	}
	return &lisafs.StatFSResp{StatFS: lisafs.StatFS{
		Type:            uint64(st.Type),
		BlockSize:       int64(st.Bsize),
		Blocks:          st.Blocks,
		BlocksFree:      st.Bfree,
		BlocksAvailable: st.Bavail,
		Files:           st.Files,
		FilesFree:       st.Ffree,
		NameLength:      uint64(st.Namelen),
		FragmentSize:    int64(st.Frsize),
		Flags:           uint64(st.Flags),
	}}, nil
}
