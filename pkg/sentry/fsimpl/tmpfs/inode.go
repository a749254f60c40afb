package tmpfs

import (
	"context"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// now is the clock timestamps come from, in nanoseconds since the epoch.
func now() int64 { return time.Now().UnixNano() }

// inode is what every tmpfs file has. The kinds (regularFile, directory,
// symlink, fifo, special) embed it and add their contents.
//
// +stateify savable
type inode struct {
	fs  *filesystem
	ino uint64
	typ linux.FileMode
	// kind is the embedding value, for per-kind size and truncation.
	kind kind

	// mu guards the attributes below and the kind's contents.
	mu    sync.RWMutex // +state:nosave
	mode  linux.FileMode
	uid   auth.KUID
	gid   auth.KGID
	nlink uint32
	// Timestamps in nanoseconds since the epoch.
	atime, mtime, ctime, btime int64
	// rdev is the device number of a device node.
	rdevMajor, rdevMinor uint32
}

// kind is implemented by each tmpfs file type.
type kind interface {
	vfs.Inode
	// sizeLocked returns st_size and st_blocks (512-byte units).
	sizeLocked() (size, blocks uint64)
}

func (fs *filesystem) initInode(i *inode, k kind, typ linux.FileMode, uid auth.KUID, gid auth.KGID, perm linux.FileMode) {
	t := now()
	*i = inode{fs: fs, ino: fs.nextIno.Add(1), typ: typ, kind: k, mode: perm & linux.PermissionsMask,
		uid: uid, gid: gid, nlink: 1, atime: t, mtime: t, ctime: t, btime: t}
}

// Type implements vfs.Inode.
func (i *inode) Type() linux.FileMode { return i.typ }

// CheckPermission implements vfs.Inode.
func (i *inode) CheckPermission(_ context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return auth.CheckPermission(creds, i.typ|i.mode, i.uid, i.gid, ats)
}

func (i *inode) attrLocked() vfs.FileAttr {
	return vfs.FileAttr{Mode: i.typ | i.mode, UID: i.uid, GID: i.gid}
}

func statxTime(ns int64) linux.StatxTimestamp {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		sec, nsec = sec-1, nsec+1e9
	}
	return linux.StatxTimestamp{Sec: sec, Nsec: uint32(nsec)}
}

// Stat implements vfs.Inode.
func (i *inode) Stat(context.Context, vfs.StatOptions) (linux.Statx, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	size, blocks := i.kind.sizeLocked()
	return linux.Statx{
		Mask:      linux.STATX_BASIC_STATS | linux.STATX_BTIME,
		Blksize:   linux.PageSize,
		Nlink:     i.nlink,
		UID:       uint32(i.uid),
		GID:       uint32(i.gid),
		Mode:      uint16(i.typ | i.mode),
		Ino:       i.ino,
		Size:      size,
		Blocks:    blocks,
		Atime:     statxTime(i.atime),
		Btime:     statxTime(i.btime),
		Ctime:     statxTime(i.ctime),
		Mtime:     statxTime(i.mtime),
		RdevMajor: i.rdevMajor,
		RdevMinor: i.rdevMinor,
		DevMinor:  i.fs.devMinor,
	}, nil
}

// SetStat implements vfs.Inode.
func (i *inode) SetStat(ctx context.Context, creds *auth.Credentials, opts vfs.SetStatOptions) error {
	if f, ok := i.kind.(*regularFile); ok && opts.Mask&linux.STATX_SIZE != 0 {
		// Truncation is a change of contents: it waits for writes.
		f.ioMu.Lock()
		defer f.ioMu.Unlock()
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if err := vfs.PrepareSetStat(creds, &opts, i.attrLocked()); err != nil {
		return err
	}
	if f, ok := i.kind.(*regularFile); ok && f.seals&linux.F_SEAL_EXEC != 0 &&
		opts.Mask&linux.STATX_MODE != 0 && (linux.FileMode(opts.Mode)^i.mode)&0111 != 0 {
		// F_SEAL_EXEC freezes the execute bits.
		return linux.EPERM
	}
	t := now()
	if opts.Mask&linux.STATX_SIZE != 0 {
		f, ok := i.kind.(*regularFile)
		if !ok {
			return linux.EINVAL
		}
		if err := f.truncateAllowedLocked(opts.Size); err != nil {
			return err
		}
		if err := f.truncateLocked(opts.Size); err != nil {
			return err
		}
		i.mtime = t
		i.killPrivsLocked(creds)
	}
	if opts.Mask&linux.STATX_MODE != 0 {
		i.mode = linux.FileMode(opts.Mode) & linux.PermissionsMask
	}
	if opts.Mask&linux.STATX_UID != 0 {
		i.uid = opts.UID
	}
	if opts.Mask&linux.STATX_GID != 0 {
		i.gid = opts.GID
	}
	if opts.Mask&linux.STATX_ATIME != 0 {
		i.atime = timespecOrNow(opts.Atime, t)
	}
	if opts.Mask&linux.STATX_MTIME != 0 {
		i.mtime = timespecOrNow(opts.Mtime, t)
	}
	i.ctime = t
	return nil
}

func timespecOrNow(ts linux.Timespec, t int64) int64 {
	if ts.Nsec == linux.UTIME_NOW {
		return t
	}
	return ts.ToNsec()
}

// killPrivsLocked clears set-user-ID, and set-group-ID when group-execute
// is set, after a change of the file's contents by a caller without
// CAP_FSETID, so that a modified program does not keep privileges.
func (i *inode) killPrivsLocked(creds *auth.Credentials) {
	if i.typ != linux.S_IFREG || i.mode&(linux.S_ISUID|linux.S_ISGID) == 0 {
		return
	}
	if creds.HasCapability(linux.CAP_FSETID) {
		return
	}
	i.mode &^= linux.S_ISUID
	if i.mode&linux.S_IXGRP != 0 {
		i.mode &^= linux.S_ISGID
	}
}

// touchAtime updates the access time after a read, with relatime rules:
// only if atime is not newer than mtime or ctime, or is a day old.
func (i *inode) touchAtime(mnt *vfs.Mount, fdFlags uint32) {
	if fdFlags&linux.O_NOATIME != 0 || mnt.Flags()&linux.MS_NOATIME != 0 {
		return
	}
	t := now()
	i.mu.RLock()
	need := i.atime <= i.mtime || i.atime <= i.ctime || t-i.atime >= int64(24*time.Hour)
	i.mu.RUnlock()
	if need {
		i.mu.Lock()
		i.atime = t
		i.mu.Unlock()
	}
}

// incLinksLocked and decLinksLocked change the link count and ctime.
func (i *inode) incLinks(t int64) {
	i.mu.Lock()
	i.nlink++
	i.ctime = t
	i.mu.Unlock()
}

func (i *inode) decLinks(t int64) {
	i.mu.Lock()
	i.nlink--
	i.ctime = t
	i.mu.Unlock()
}
