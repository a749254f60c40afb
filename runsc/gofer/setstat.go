package gofer

import (
	"strconv"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
)

// SetStat implements lisafs.Session.SetStat. Every change goes through
// the handle's descriptor, never a name, so it lands on the file the
// handle pins even if it was renamed meanwhile.
func (s *session) SetStat(req *lisafs.SetStatReq) error {
	const known = lisafs.SetStatMode | lisafs.SetStatUID | lisafs.SetStatGID |
		lisafs.SetStatSize | lisafs.SetStatAtime | lisafs.SetStatMtime
	if req.Mask&^known != 0 {
		return linux.EINVAL
	}
	h, err := s.get(req.FD)
	if err != nil {
		return err
	}
	defer s.put(h)
	if req.Mask == 0 {
		return nil
	}
	if h.exp.readOnly {
		return linux.EROFS
	}
	if req.Mask&lisafs.SetStatSize != 0 {
		if err := s.truncate(h, req.Size); err != nil {
			return err
		}
	}
	if req.Mask&lisafs.SetStatMode != 0 {
		if err := s.chmod(h, req.Mode&07777); err != nil {
			return err
		}
	}
	if req.Mask&(lisafs.SetStatUID|lisafs.SetStatGID) != 0 {
		uid, gid := lisafs.NoID, lisafs.NoID
		if req.Mask&lisafs.SetStatUID != 0 {
			uid = req.UID
		}
		if req.Mask&lisafs.SetStatGID != 0 {
			gid = req.GID
		}
		if err := chown(h.fd, uid, gid); err != nil {
			return err
		}
	}
	if req.Mask&(lisafs.SetStatAtime|lisafs.SetStatMtime) != 0 {
		ts := []unix.Timespec{{Nsec: lisafs.UtimeOmit}, {Nsec: lisafs.UtimeOmit}}
		if req.Mask&lisafs.SetStatAtime != 0 {
			ts[0] = unix.Timespec{Sec: req.Atime.Sec, Nsec: int64(req.Atime.Nsec)}
		}
		if req.Mask&lisafs.SetStatMtime != 0 {
			ts[1] = unix.Timespec{Sec: req.Mtime.Sec, Nsec: int64(req.Mtime.Nsec)}
		}
		if err := s.utimes(h, ts); err != nil {
			return err
		}
	}
	return nil
}

// truncate is truncate(2) on the handle's file: an open handle uses its
// own description (which must be writable, as for ftruncate), a node is
// reopened for writing so the permission check is truncate(2)'s.
func (s *session) truncate(h *handle, size uint64) error {
	if int64(size) < 0 {
		return linux.EINVAL
	}
	if h.open {
		return unix.Ftruncate(h.fd, int64(size))
	}
	switch h.ftype {
	case linux.S_IFREG:
	case linux.S_IFDIR:
		return linux.EISDIR
	default:
		return linux.EINVAL
	}
	fd, err := s.reopen(h, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Ftruncate(fd, int64(size))
}

func (s *session) chmod(h *handle, mode uint32) error {
	if h.open {
		return unix.Fchmod(h.fd, mode)
	}
	err := unix.Fchmodat(h.fd, "", mode, unix.AT_EMPTY_PATH)
	if (err == unix.EOPNOTSUPP || err == unix.ENOSYS) && h.ftype != linux.S_IFLNK && s.g.procSelfFD >= 0 {
		// Kernels before 6.6 lack fchmodat2.
		err = unix.Fchmodat(s.g.procSelfFD, strconv.Itoa(h.fd), mode, 0)
	}
	return err
}

func (s *session) utimes(h *handle, ts []unix.Timespec) error {
	err := unix.UtimesNanoAt(h.fd, "", ts, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.EINVAL && h.ftype != linux.S_IFLNK && s.g.procSelfFD >= 0 {
		// Kernels before 5.8 refuse AT_EMPTY_PATH here.
		err = unix.UtimesNanoAt(s.g.procSelfFD, strconv.Itoa(h.fd), ts, 0)
	}
	return err
}
