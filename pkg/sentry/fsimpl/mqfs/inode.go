package mqfs

import (
	"context"
	"sort"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// inode holds the attributes every mqueue file has.
type inode struct {
	fs  *filesystem
	typ linux.FileMode
	ino uint64

	// mu guards the attributes.
	mu                  sync.Mutex
	mode                linux.FileMode
	uid                 auth.KUID
	gid                 auth.KGID
	atime, mtime, ctime int64
}

func (i *inode) init(fs *filesystem, typ linux.FileMode, uid auth.KUID, gid auth.KGID, perm linux.FileMode) {
	t := time.Now().UnixNano()
	i.fs, i.typ, i.mode, i.uid, i.gid = fs, typ, perm&linux.PermissionsMask, uid, gid
	i.atime, i.mtime, i.ctime = t, t, t
}

// Type implements vfs.Inode.
func (i *inode) Type() linux.FileMode { return i.typ }

// CheckPermission implements vfs.Inode.
func (i *inode) CheckPermission(_ context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return auth.CheckPermission(creds, i.typ|i.mode, i.uid, i.gid, ats)
}

func statxTime(ns int64) linux.StatxTimestamp {
	return linux.StatxTimestamp{Sec: ns / 1e9, Nsec: uint32(ns % 1e9)}
}

// stat fills the attributes all files share.
func (i *inode) stat(nlink uint32, size uint64) linux.Statx {
	i.mu.Lock()
	defer i.mu.Unlock()
	return linux.Statx{
		Mask:     linux.STATX_BASIC_STATS,
		Blksize:  linux.PageSize,
		Nlink:    nlink,
		UID:      uint32(i.uid),
		GID:      uint32(i.gid),
		Mode:     uint16(i.typ | i.mode),
		Ino:      i.ino,
		Size:     size,
		Atime:    statxTime(i.atime),
		Ctime:    statxTime(i.ctime),
		Mtime:    statxTime(i.mtime),
		DevMinor: i.fs.devMinor,
	}
}

// SetStat implements vfs.Inode: mode, owner and times; no size.
func (i *inode) SetStat(_ context.Context, creds *auth.Credentials, opts vfs.SetStatOptions) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if err := vfs.PrepareSetStat(creds, &opts, vfs.FileAttr{Mode: i.typ | i.mode, UID: i.uid, GID: i.gid}); err != nil {
		return err
	}
	if opts.Mask&linux.STATX_SIZE != 0 {
		return linux.EINVAL
	}
	t := time.Now().UnixNano()
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
		i.atime = orNow(opts.Atime, t)
	}
	if opts.Mask&linux.STATX_MTIME != 0 {
		i.mtime = orNow(opts.Mtime, t)
	}
	i.ctime = t
	return nil
}

func orNow(ts linux.Timespec, t int64) int64 {
	if ts.Nsec == linux.UTIME_NOW {
		return t
	}
	return ts.ToNsec()
}

// directory is the instance's only directory: it holds queues and
// nothing else.
type directory struct {
	inode
	// entries is guarded by inode.mu.
	entries map[string]*queueInode
}

// Stat implements vfs.Inode.
func (d *directory) Stat(context.Context, vfs.StatOptions) (linux.Statx, error) {
	d.mu.Lock()
	n := len(d.entries)
	d.mu.Unlock()
	// Linux counts 20 bytes per entry, "." and ".." included.
	return d.stat(2, uint64(n+2)*20), nil
}

// Open implements vfs.Inode.
func (d *directory) Open(_ context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	fd := &dirFD{dir: d}
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

// Lookup implements vfs.DirectoryInode.
func (d *directory) Lookup(_ context.Context, name string) (vfs.Inode, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if q, ok := d.entries[name]; ok {
		return q, nil
	}
	if len(name) > linux.NAME_MAX {
		return nil, linux.ENAMETOOLONG
	}
	return nil, linux.ENOENT
}

// Create implements vfs.DirectoryInode: only queues can be made, by
// mq_open (with its attributes in ctx) or by open(O_CREAT) (with the
// defaults).
func (d *directory) Create(ctx context.Context, creds *auth.Credentials, name string, opts vfs.CreateOptions) (vfs.Inode, error) {
	if opts.Mode.FileType() != linux.S_IFREG {
		return nil, linux.EPERM
	}
	if len(name) > linux.NAME_MAX {
		return nil, linux.ENAMETOOLONG
	}
	attr := linux.MqAttr{MaxMsg: MsgDefault, MsgSize: MsgSizeDefault}
	if a, ok := ctx.Value(createAttrKey{}).(*linux.MqAttr); ok && a != nil {
		if err := CheckAttr(creds, a); err != nil {
			return nil, err
		}
		attr = *a
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.entries) >= QueuesMax && !creds.HasCapability(linux.CAP_SYS_RESOURCE) {
		return nil, linux.ENOSPC
	}
	uid, gid, mode := vfs.InitialOwner(creds, vfs.FileAttr{Mode: d.typ | d.mode, UID: d.uid, GID: d.gid}, opts.Mode)
	q := &queueInode{maxMsg: int(attr.MaxMsg), msgSize: int(attr.MsgSize)}
	q.init(d.fs, linux.S_IFREG, uid, gid, mode.Permissions())
	d.fs.nextIno++
	q.ino = d.fs.nextIno
	d.entries[name] = q
	d.touchLocked()
	return q, nil
}

func (d *directory) touchLocked() {
	t := time.Now().UnixNano()
	d.mtime, d.ctime = t, t
}

// Link implements vfs.DirectoryInode: queues have one name.
func (d *directory) Link(context.Context, string, vfs.Inode) error { return linux.EPERM }

// Unlink implements vfs.DirectoryInode (mq_unlink). Open descriptions
// keep the queue.
func (d *directory) Unlink(_ context.Context, name string, child vfs.Inode) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.entries[name] != child {
		return linux.ENOENT
	}
	delete(d.entries, name)
	d.touchLocked()
	q := child.(*queueInode)
	q.mu.Lock()
	q.unlinked = true
	q.mu.Unlock()
	return nil
}

// Rmdir implements vfs.DirectoryInode.
func (d *directory) Rmdir(context.Context, string, vfs.Inode) error { return linux.EPERM }

// Rename implements vfs.DirectoryInode: the mqueue directory has no
// rename, which Linux reports as EPERM.
func (d *directory) Rename(context.Context, string, vfs.Inode, vfs.DirectoryInode, string, vfs.Inode, uint32) error {
	return linux.EPERM
}

// IterDirents implements vfs.DirectoryInode: ".", "..", then the queues
// by name; an entry's offset is its position in that order plus one.
func (d *directory) IterDirents(_ context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	d.mu.Lock()
	names := make([]string, 0, len(d.entries))
	for n := range d.entries {
		names = append(names, n)
	}
	inos := make(map[string]uint64, len(names))
	for n, q := range d.entries {
		inos[n] = q.ino
	}
	d.mu.Unlock()
	sort.Strings(names)
	ents := []vfs.Dirent{{Name: ".", Type: linux.DT_DIR, Ino: d.ino}, {Name: "..", Type: linux.DT_DIR, Ino: d.ino}}
	for _, n := range names {
		ents = append(ents, vfs.Dirent{Name: n, Type: linux.DT_REG, Ino: inos[n]})
	}
	for i := offset; i < int64(len(ents)); i++ {
		e := ents[i]
		e.NextOff = i + 1
		if err := cb(e); err != nil {
			return err
		}
	}
	return nil
}

// dirFD is an open mqueue directory.
type dirFD struct {
	vfs.DirectoryFileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	dir   *directory
}

// IterDirents implements vfs.FileDescriptionImpl.
func (fd *dirFD) IterDirents(ctx context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	return fd.dir.IterDirents(ctx, offset, cb)
}
