package gofer

import (
	"strconv"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
)

// writableDir returns the directory handle id names, checking that its
// export accepts mutations and that name is a single component.
func (s *session) writableDir(id lisafs.FDID, name string) (*handle, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	dir, err := s.getDir(id)
	if err != nil {
		return nil, err
	}
	if dir.exp.readOnly {
		s.put(dir)
		return nil, linux.EROFS
	}
	return dir, nil
}

// finishCreate makes a node handle for name, just created in dir, and
// gives it its owner. Any failure removes the new entry again, so a
// create either fully happens or leaves nothing. wantType guards against
// a concurrent rename swapping in another file between the two steps.
func (s *session) finishCreate(dir *handle, name string, wantType, uid, gid uint32, unlinkFlags int) (*lisafs.InodeResp, error) {
	undo := func(err error) (*lisafs.InodeResp, error) {
		unix.Unlinkat(dir.fd, name, unlinkFlags)
		return nil, err
	}
	fd, err := openBeneath(dir.fd, name, unix.O_PATH, 0)
	if err != nil {
		return undo(err)
	}
	if err := chown(fd, uid, gid); err != nil {
		unix.Close(fd)
		return undo(err)
	}
	node, err := s.addNode(dir.exp, fd)
	if err != nil {
		return undo(err)
	}
	if node.Stat.FileType() != wantType {
		s.Close(&lisafs.FDsReq{FDs: []lisafs.FDID{node.FD}})
		return nil, linux.EAGAIN
	}
	return &lisafs.InodeResp{Inode: node}, nil
}

// Mkdir implements lisafs.Session.Mkdir.
func (s *session) Mkdir(req *lisafs.MkdirReq) (*lisafs.InodeResp, error) {
	dir, err := s.writableDir(req.Dir, req.Name)
	if err != nil {
		return nil, err
	}
	defer s.put(dir)
	if err := unix.Mkdirat(dir.fd, req.Name, req.Mode&07777); err != nil {
		return nil, err
	}
	return s.finishCreate(dir, req.Name, linux.S_IFDIR, req.UID, req.GID, unix.AT_REMOVEDIR)
}

// Mknod implements lisafs.Session.Mknod. Device nodes are refused: the
// Sentry serves /dev itself, and a host device node in a container's
// files would reach host hardware.
func (s *session) Mknod(req *lisafs.MknodReq) (*lisafs.InodeResp, error) {
	ftype := req.Mode & linux.S_IFMT
	switch ftype {
	case 0:
		ftype = linux.S_IFREG
	case linux.S_IFREG, linux.S_IFIFO, linux.S_IFSOCK:
	case linux.S_IFDIR:
		return nil, linux.EINVAL
	default:
		return nil, linux.EPERM
	}
	dir, err := s.writableDir(req.Dir, req.Name)
	if err != nil {
		return nil, err
	}
	defer s.put(dir)
	if err := unix.Mknodat(dir.fd, req.Name, ftype|req.Mode&07777, 0); err != nil {
		return nil, err
	}
	return s.finishCreate(dir, req.Name, ftype, req.UID, req.GID, 0)
}

// Symlink implements lisafs.Session.Symlink. The target is stored as
// given; only the Sentry ever interprets it.
func (s *session) Symlink(req *lisafs.SymlinkReq) (*lisafs.InodeResp, error) {
	if req.Target == "" || len(req.Target) >= lisafs.PathMax {
		if req.Target == "" {
			return nil, linux.ENOENT
		}
		return nil, linux.ENAMETOOLONG
	}
	dir, err := s.writableDir(req.Dir, req.Name)
	if err != nil {
		return nil, err
	}
	defer s.put(dir)
	if err := unix.Symlinkat(req.Target, dir.fd, req.Name); err != nil {
		return nil, err
	}
	return s.finishCreate(dir, req.Name, linux.S_IFLNK, req.UID, req.GID, 0)
}

// Link implements lisafs.Session.Link. Both ends are handles of one
// export, so a link can neither bring a file in from outside nor take one
// out.
func (s *session) Link(req *lisafs.LinkReq) (*lisafs.InodeResp, error) {
	dir, err := s.writableDir(req.Dir, req.Name)
	if err != nil {
		return nil, err
	}
	defer s.put(dir)
	target, err := s.getNode(req.Target)
	if err != nil {
		return nil, err
	}
	defer s.put(target)
	if target.exp != dir.exp {
		return nil, linux.EXDEV
	}
	if target.isDir() {
		return nil, linux.EPERM
	}
	if s.g.procSelfFD >= 0 && target.ftype != linux.S_IFLNK {
		// Following our own /proc entry links the very inode, and needs
		// no CAP_DAC_READ_SEARCH, unlike AT_EMPTY_PATH.
		err = unix.Linkat(s.g.procSelfFD, strconv.Itoa(target.fd), dir.fd, req.Name, unix.AT_SYMLINK_FOLLOW)
	} else {
		err = unix.Linkat(target.fd, "", dir.fd, req.Name, unix.AT_EMPTY_PATH)
	}
	if err != nil {
		return nil, err
	}
	fd, err := openBeneath(dir.fd, req.Name, unix.O_PATH, 0)
	if err != nil {
		return nil, err
	}
	node, err := s.addNode(dir.exp, fd)
	if err != nil {
		return nil, err
	}
	// The name could have been replaced between linkat and the lookup.
	if want, err := fstat(target.fd); err != nil || want.Ino != node.Stat.Ino ||
		want.DevMajor != node.Stat.DevMajor || want.DevMinor != node.Stat.DevMinor {
		s.Close(&lisafs.FDsReq{FDs: []lisafs.FDID{node.FD}})
		return nil, linux.EAGAIN
	}
	return &lisafs.InodeResp{Inode: node}, nil
}

// Unlink implements lisafs.Session.Unlink.
func (s *session) Unlink(req *lisafs.UnlinkReq) error {
	if req.Flags&^unix.AT_REMOVEDIR != 0 {
		return linux.EINVAL
	}
	dir, err := s.writableDir(req.Dir, req.Name)
	if err != nil {
		return err
	}
	defer s.put(dir)
	return unix.Unlinkat(dir.fd, req.Name, int(req.Flags))
}

// Rename implements lisafs.Session.Rename.
func (s *session) Rename(req *lisafs.RenameReq) error {
	if req.Flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE) != 0 {
		return linux.EINVAL
	}
	if err := checkName(req.NewName); err != nil {
		return err
	}
	oldDir, err := s.writableDir(req.OldDir, req.OldName)
	if err != nil {
		return err
	}
	defer s.put(oldDir)
	newDir, err := s.getDir(req.NewDir)
	if err != nil {
		return err
	}
	defer s.put(newDir)
	if newDir.exp != oldDir.exp {
		return linux.EXDEV
	}
	return unix.Renameat2(oldDir.fd, req.OldName, newDir.fd, req.NewName, uint(req.Flags))
}
