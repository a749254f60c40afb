package gofer

import (
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
)

// checkName enforces the single-component rule for every name a client
// sends.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return linux.EINVAL
	case strings.ContainsAny(name, "/\x00"):
		return linux.EINVAL
	case len(name) > lisafs.NameMax:
		return linux.ENAMETOOLONG
	}
	return nil
}

// resolveFlags confine every lookup of a client name: one component that
// must not be "..", a symlink or a magic link (checkName already refused
// "..", this is the second lock on the door).
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// noOpenat2 is set when the host kernel lacks openat2 (before 5.6); then
// O_NOFOLLOW on a checked single component gives the same confinement.
var noOpenat2 atomic.Bool

// openBeneath opens name, one checked component, relative to dirfd without
// following any link. O_NOFOLLOW and O_CLOEXEC are always added; with
// O_PATH a trailing symlink is opened itself.
func openBeneath(dirfd int, name string, flags int, mode uint32) (int, error) {
	flags |= unix.O_NOFOLLOW | unix.O_CLOEXEC
	if !noOpenat2.Load() {
		how := unix.OpenHow{Flags: uint64(flags), Mode: uint64(mode), Resolve: resolveFlags}
		for try := 0; ; try++ {
			fd, err := unix.Openat2(dirfd, name, &how)
			if (err == unix.EINTR || err == unix.EAGAIN) && try < 16 {
				// EAGAIN: a concurrent rename raced the lookup.
				continue
			}
			if err != unix.ENOSYS {
				return fd, err
			}
			noOpenat2.Store(true)
			break
		}
	}
	for {
		fd, err := unix.Openat(dirfd, name, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// statMask is what the gofer asks statx for.
const statMask = unix.STATX_BASIC_STATS | unix.STATX_BTIME

// statAt returns the attributes of name, one checked component in the
// directory dirfd, never following a symlink.
func statAt(dirfd int, name string) (lisafs.Stat, error) {
	var sx unix.Statx_t
	if err := unix.Statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT|unix.AT_STATX_SYNC_AS_STAT, statMask, &sx); err != nil {
		return lisafs.Stat{}, err
	}
	return statFromStatx(&sx), nil
}

// fstat returns the attributes of the file fd refers to (O_PATH is fine),
// never following a symlink.
func fstat(fd int) (lisafs.Stat, error) {
	var sx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_SYNC_AS_STAT, statMask, &sx); err != nil {
		return lisafs.Stat{}, err
	}
	return statFromStatx(&sx), nil
}

func statFromStatx(sx *unix.Statx_t) lisafs.Stat {
	ts := func(t unix.StatxTimestamp) lisafs.Timestamp { return lisafs.Timestamp{Sec: t.Sec, Nsec: t.Nsec} }
	return lisafs.Stat{
		Mask:      sx.Mask,
		Mode:      uint32(sx.Mode),
		Nlink:     sx.Nlink,
		UID:       sx.Uid,
		GID:       sx.Gid,
		Blksize:   sx.Blksize,
		Ino:       sx.Ino,
		Size:      sx.Size,
		Blocks:    sx.Blocks,
		Atime:     ts(sx.Atime),
		Mtime:     ts(sx.Mtime),
		Ctime:     ts(sx.Ctime),
		Btime:     ts(sx.Btime),
		DevMajor:  sx.Dev_major,
		DevMinor:  sx.Dev_minor,
		RdevMajor: sx.Rdev_major,
		RdevMinor: sx.Rdev_minor,
	}
}

// dupFD duplicates fd close-on-exec.
func dupFD(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}

// chown sets the owner of the file fd refers to, leaving a field alone when
// it is lisafs.NoID; it never follows a symlink.
func chown(fd int, uid, gid uint32) error {
	if uid == lisafs.NoID && gid == lisafs.NoID {
		return nil
	}
	return unix.Fchownat(fd, "", idArg(uid), idArg(gid), unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
}

func idArg(id uint32) int {
	if id == lisafs.NoID {
		return -1
	}
	return int(id)
}
