package gofer

import (
	"context"
	"sync"
	"weak"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// node is any gofer inode: one of the kinds below, each embedding inode.
type node interface {
	vfs.Inode
	base() *inode
}

// inode is what every gofer file has: the server's node handle and the
// cached attributes.
type inode struct {
	fs *filesystem
	// self is the kind embedding this inode.
	self node
	// fdid is the node handle (an O_PATH descriptor in the gofer). It
	// lives as long as the inode and is closed by its cleanup.
	fdid lisafs.FDID
	typ  linux.FileMode
	key  inodeKey
	// wp is the inode's entry in fs.table, fixed at creation.
	wp weak.Pointer[inode]
	// cache holds pages of mapped regular files; nil for other kinds or
	// without a memory file. Fixed at creation.
	cache *pageCache

	// setMu serializes attribute changes, so that the checks of
	// vfs.PrepareSetStat still hold when the change reaches the gofer.
	setMu sync.Mutex

	// mu guards attr, stale and gen.
	mu   sync.Mutex
	attr lisafs.Stat
	// stale says attr (other than a regular file's size, which is kept
	// exact) no longer reflects the host after one of the sandbox's own
	// changes; the next Stat fetches it again. gen counts markStale
	// calls, so a refresh that raced with a change keeps stale set.
	stale bool
	gen   uint64
}

func (i *inode) base() *inode { return i }

// newNode builds the inode of the kind li's type calls for.
func (fs *filesystem) newNode(li lisafs.Inode, parent *directory) node {
	typ := linux.FileMode(li.Stat.FileType())
	var n node
	switch typ {
	case linux.S_IFREG:
		f := &regularFile{}
		if fs.mf != nil {
			f.cache = newPageCache(fs.mf)
		}
		n = f
	case linux.S_IFDIR:
		d := &directory{parent: parent}
		if parent == nil {
			d.parent = d
		}
		n = d
	case linux.S_IFLNK:
		n = &symlink{}
	case linux.S_IFIFO:
		n = &fifo{}
	default:
		n = &special{}
	}
	b := n.base()
	b.fs, b.self, b.fdid, b.typ, b.key, b.attr = fs, n, li.FD, typ, keyOf(&li.Stat), li.Stat
	return n
}

// Type implements vfs.Inode.
func (i *inode) Type() linux.FileMode { return i.typ }

func (i *inode) fileAttr() vfs.FileAttr {
	i.mu.Lock()
	defer i.mu.Unlock()
	return vfs.FileAttr{Mode: linux.FileMode(i.attr.Mode), UID: auth.KUID(i.attr.UID), GID: auth.KGID(i.attr.GID)}
}

// CheckPermission implements vfs.Inode with the host's mode and owner,
// which the sandbox's credentials are compared with directly (no user
// namespace mapping yet).
func (i *inode) CheckPermission(_ context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	a := i.fileAttr()
	return auth.CheckPermission(creds, a.Mode, a.UID, a.GID, ats)
}

// markStale records that the host's attributes changed under the cached
// ones.
func (i *inode) markStale() {
	i.mu.Lock()
	i.stale = true
	i.gen++
	i.mu.Unlock()
}

// refresh fetches the attributes again if they are stale.
func (i *inode) refresh() error {
	i.mu.Lock()
	stale, gen := i.stale, i.gen
	i.mu.Unlock()
	if !stale {
		return nil
	}
	if f, ok := i.self.(*regularFile); ok {
		return f.refreshSize(gen)
	}
	s, err := i.fs.client.Stat(i.fdid)
	if err != nil {
		return toErrno(err)
	}
	i.setAttr(s, gen)
	return nil
}

// setAttr installs attributes fetched when the stale generation was gen.
func (i *inode) setAttr(s lisafs.Stat, gen uint64) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.attr = s
	if i.gen == gen {
		i.stale = false
	}
}

// Stat implements vfs.Inode from the cached attributes.
// AT_STATX_FORCE_SYNC asks the host again, as does any stat of a file
// export's root.
func (i *inode) Stat(_ context.Context, opts vfs.StatOptions) (linux.Statx, error) {
	// A file export's root has another writer (see file_root.go).
	if opts.Sync&linux.AT_STATX_SYNC_TYPE == linux.AT_STATX_FORCE_SYNC || i.isFileRoot() {
		i.markStale()
	}
	if err := i.refresh(); err != nil {
		return linux.Statx{}, err
	}
	i.mu.Lock()
	st := i.attr.Statx()
	i.mu.Unlock()
	st.Mask &= linux.STATX_BASIC_STATS | linux.STATX_BTIME
	// Each instance is its own device to the application, as Linux gives
	// a 9p mount an anonymous one; the host's numbers mean nothing here.
	st.DevMajor, st.DevMinor = 0, i.fs.devMinor
	return st, nil
}

// SetStat implements vfs.Inode: the change goes to the gofer, then the
// cached attributes are marked stale (ctime moved) and refetched on the
// next stat.
func (i *inode) SetStat(ctx context.Context, creds *auth.Credentials, opts vfs.SetStatOptions) error {
	if i.fs.readOnly {
		return linux.EROFS
	}
	i.setMu.Lock()
	defer i.setMu.Unlock()
	if err := vfs.PrepareSetStat(creds, &opts, i.fileAttr()); err != nil {
		return err
	}
	req := lisafs.SetStatReq{FD: i.fdid}
	if opts.Mask&linux.STATX_MODE != 0 {
		req.Mask |= lisafs.SetStatMode
		req.Mode = uint32(opts.Mode) & linux.PermissionsMask
	}
	if opts.Mask&linux.STATX_UID != 0 {
		req.Mask |= lisafs.SetStatUID
		req.UID = uint32(opts.UID)
	}
	if opts.Mask&linux.STATX_GID != 0 {
		req.Mask |= lisafs.SetStatGID
		req.GID = uint32(opts.GID)
	}
	if opts.Mask&linux.STATX_ATIME != 0 {
		req.Mask |= lisafs.SetStatAtime
		req.Atime = lisafs.Timestamp{Sec: opts.Atime.Sec, Nsec: uint32(opts.Atime.Nsec)}
	}
	if opts.Mask&linux.STATX_MTIME != 0 {
		req.Mask |= lisafs.SetStatMtime
		req.Mtime = lisafs.Timestamp{Sec: opts.Mtime.Sec, Nsec: uint32(opts.Mtime.Nsec)}
	}
	if opts.Mask&linux.STATX_SIZE != 0 {
		f, ok := i.self.(*regularFile)
		if !ok {
			return linux.EINVAL
		}
		req.Mask |= lisafs.SetStatSize
		req.Size = opts.Size
		return f.setStatWithSize(&req)
	}
	if req.Mask == 0 {
		if opts.CtimeOnly {
			i.markStale()
		}
		return nil
	}
	err := i.fs.client.SetStat(&req)
	// Even a failed request may have applied a prefix of the changes.
	i.markStale()
	return toErrno(err)
}

// statFromHost converts a host statx result to the protocol's form, for
// attributes read from a donated descriptor.
func statFromHost(x *unix.Statx_t) lisafs.Stat {
	ts := func(t unix.StatxTimestamp) lisafs.Timestamp { return lisafs.Timestamp{Sec: t.Sec, Nsec: t.Nsec} }
	return lisafs.Stat{
		Mask:      x.Mask,
		Mode:      uint32(x.Mode),
		Nlink:     x.Nlink,
		UID:       x.Uid,
		GID:       x.Gid,
		Blksize:   x.Blksize,
		Ino:       x.Ino,
		Size:      x.Size,
		Blocks:    x.Blocks,
		Atime:     ts(x.Atime),
		Mtime:     ts(x.Mtime),
		Ctime:     ts(x.Ctime),
		Btime:     ts(x.Btime),
		DevMajor:  x.Dev_major,
		DevMinor:  x.Dev_minor,
		RdevMajor: x.Rdev_major,
		RdevMinor: x.Rdev_minor,
	}
}

// hostErr converts a host system call error to a Linux errno.
func hostErr(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(unix.Errno); ok {
		return linux.Errno(e)
	}
	return linux.EIO
}
