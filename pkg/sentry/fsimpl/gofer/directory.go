package gofer

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// directory is a host directory. The VFS caches its children's dentries
// and serializes changes to it; the directory itself remembers names
// known to be absent and the getdents offsets it has handed out.
type directory struct {
	inode

	// dirMu guards the fields below.
	dirMu sync.Mutex
	// parent is the directory this one was found in, for "..": the root
	// is its own parent.
	parent *directory
	// negative holds names a lookup found absent, so that repeated
	// misses (PATH searches, library probing) cost no round trip. Every
	// create in the directory goes through it, so it stays exact for
	// the sandbox's own changes.
	negative map[string]struct{}
	// cookies[k] is the host directory cookie that getdents offset
	// firstDirentOff+k resumes at, and offsets maps it back. Offsets are
	// never reused, so they stay valid across changes to the directory
	// (the host's cookies do).
	cookies []uint64
	offsets map[uint64]int64
}

// maxNegative bounds the negative cache; past it the cache starts over.
const maxNegative = 1024

// Offsets 0 and 1 are "." and "..", which the gofer never returns.
const firstDirentOff = 2

// direntBatch is the size of a Getdents64 request in bytes.
const direntBatch = 32 << 10

func (d *directory) setParent(p *directory) {
	d.dirMu.Lock()
	d.parent = p
	d.dirMu.Unlock()
}

func (d *directory) isNegative(name string) bool {
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	_, ok := d.negative[name]
	return ok
}

func (d *directory) setNegative(name string, absent bool) {
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	if !absent {
		delete(d.negative, name)
		return
	}
	if d.negative == nil || len(d.negative) >= maxNegative {
		d.negative = make(map[string]struct{})
	}
	d.negative[name] = struct{}{}
}

// Lookup implements vfs.DirectoryInode with a one-component walk.
func (d *directory) Lookup(_ context.Context, name string) (vfs.Inode, error) {
	if d.isNegative(name) {
		return nil, linux.ENOENT
	}
	resp, err := d.fs.client.Walk(d.fdid, []string{name})
	if err != nil {
		return nil, toErrno(err)
	}
	switch resp.Status {
	case lisafs.WalkComplete:
	case lisafs.WalkNotFound:
		d.setNegative(name, true)
		return nil, linux.ENOENT
	case lisafs.WalkError:
		return nil, linux.Errno(resp.Errno)
	default:
		d.fs.closeAll(resp.Inodes)
		return nil, linux.EIO
	}
	if len(resp.Inodes) != 1 {
		d.fs.closeAll(resp.Inodes)
		return nil, linux.EIO
	}
	return d.fs.inodeFor(resp.Inodes[0], d), nil
}

func (fs *filesystem) closeAll(inodes []lisafs.Inode) {
	for _, li := range inodes {
		fs.closer.closeLater(li.FD)
	}
}

// created finishes a create in d: the new file's inode, d's changed
// attributes, and the name no longer negative.
func (d *directory) created(name string, li lisafs.Inode) node {
	d.setNegative(name, false)
	d.markStale()
	return d.fs.inodeFor(li, d)
}

// Create implements vfs.DirectoryInode.
func (d *directory) Create(ctx context.Context, creds *auth.Credentials, name string, opts vfs.CreateOptions) (vfs.Inode, error) {
	if d.fs.readOnly {
		return nil, linux.EROFS
	}
	uid, gid, mode := vfs.InitialOwner(creds, d.fileAttr(), opts.Mode)
	c := d.fs.client
	var li lisafs.Inode
	var err error
	switch mode.FileType() {
	case linux.S_IFDIR:
		li, err = c.Mkdir(d.fdid, name, uint32(mode.Permissions()), uint32(uid), uint32(gid))
	case linux.S_IFREG, linux.S_IFIFO, linux.S_IFSOCK:
		li, err = c.Mknod(d.fdid, name, uint32(mode.FileType()|mode.Permissions()), uint32(uid), uint32(gid))
	case linux.S_IFLNK:
		li, err = c.Symlink(d.fdid, name, opts.Target, uint32(uid), uint32(gid))
	case linux.S_IFCHR, linux.S_IFBLK:
		// The gofer never makes host device nodes: a node made here
		// would open a host device outside the sandbox's control.
		return nil, linux.EPERM
	default:
		return nil, linux.EINVAL
	}
	if err != nil {
		if err == linux.EEXIST {
			// Made on the host behind the sandbox's back after a
			// lookup cached its absence; the next lookup finds it.
			d.setNegative(name, false)
		}
		return nil, toErrno(err)
	}
	return d.created(name, li), nil
}

// Link implements vfs.DirectoryInode.
func (d *directory) Link(_ context.Context, name string, target vfs.Inode) error {
	if d.fs.readOnly {
		return linux.EROFS
	}
	t, ok := target.(node)
	if !ok || t.base().fs != d.fs {
		return linux.EXDEV
	}
	li, err := d.fs.client.Link(d.fdid, name, t.base().fdid)
	if err != nil {
		return toErrno(err)
	}
	// The new handle names the file target already pins.
	d.fs.closer.closeLater(li.FD)
	b := t.base()
	b.mu.Lock()
	b.attr.Nlink = li.Stat.Nlink
	b.attr.Ctime = li.Stat.Ctime
	b.mu.Unlock()
	d.setNegative(name, false)
	d.markStale()
	return nil
}

// dropLink accounts for one name of c going away.
func (fs *filesystem) dropLink(c *inode, isDir bool) {
	c.mu.Lock()
	if isDir {
		c.attr.Nlink = 0
	} else if c.attr.Nlink > 0 {
		c.attr.Nlink--
	}
	last := c.attr.Nlink == 0
	c.mu.Unlock()
	c.markStale()
	if last {
		fs.forget(c)
		if f, ok := c.self.(*regularFile); ok {
			// An unlinked file's space comes back when the last host
			// descriptor closes; do not let the idle cache keep it.
			f.dropIdleHandles()
		}
	}
}

// Unlink implements vfs.DirectoryInode.
func (d *directory) Unlink(_ context.Context, name string, child vfs.Inode) error {
	if d.fs.readOnly {
		return linux.EROFS
	}
	if err := d.fs.client.Unlink(d.fdid, name, 0); err != nil {
		return toErrno(err)
	}
	d.setNegative(name, true)
	d.markStale()
	d.fs.dropLink(child.(node).base(), false)
	return nil
}

// Rmdir implements vfs.DirectoryInode; the host says ENOTEMPTY.
func (d *directory) Rmdir(_ context.Context, name string, child vfs.Inode) error {
	if d.fs.readOnly {
		return linux.EROFS
	}
	if err := d.fs.client.Unlink(d.fdid, name, linux.AT_REMOVEDIR); err != nil {
		return toErrno(err)
	}
	d.setNegative(name, true)
	d.markStale()
	d.fs.dropLink(child.(node).base(), true)
	return nil
}

// Rename implements vfs.DirectoryInode; the host checks ENOTEMPTY.
func (d *directory) Rename(_ context.Context, oldName string, child vfs.Inode, newDir vfs.DirectoryInode, newName string, replaced vfs.Inode, flags uint32) error {
	if d.fs.readOnly {
		return linux.EROFS
	}
	nd, ok := newDir.(*directory)
	if !ok || nd.fs != d.fs {
		return linux.EXDEV
	}
	if err := d.fs.client.Rename(d.fdid, oldName, nd.fdid, newName, flags); err != nil {
		return toErrno(err)
	}
	c := child.(node).base()
	exchange := flags&linux.RENAME_EXCHANGE != 0
	d.markStale()
	nd.markStale()
	c.markStale()
	nd.setNegative(newName, false)
	if !exchange {
		d.setNegative(oldName, true)
	}
	if cd, ok := c.self.(*directory); ok {
		cd.setParent(nd)
	}
	if replaced != nil {
		r := replaced.(node).base()
		if exchange {
			r.markStale()
			if rd, ok := r.self.(*directory); ok {
				rd.setParent(d)
			}
		} else {
			d.fs.dropLink(r, r.typ == linux.S_IFDIR)
		}
	}
	return nil
}

// cookieAt returns the host cookie getdents offset off resumes at.
func (d *directory) cookieAt(off int64) (uint64, bool) {
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	k := off - firstDirentOff
	if k == 0 {
		return 0, true
	}
	if k < 0 || k >= int64(len(d.cookies)) {
		return 0, false
	}
	return d.cookies[k], true
}

// offsetOf returns the getdents offset for host cookie c, assigning the
// next one if c is new.
func (d *directory) offsetOf(c uint64) int64 {
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	if d.offsets == nil {
		d.offsets = map[uint64]int64{0: firstDirentOff}
		d.cookies = []uint64{0}
	}
	if off, ok := d.offsets[c]; ok {
		return off
	}
	off := firstDirentOff + int64(len(d.cookies))
	d.cookies = append(d.cookies, c)
	d.offsets[c] = off
	return off
}

// IterDirents implements vfs.DirectoryInode: "." and ".." are made here,
// the rest comes from the host in batches.
func (d *directory) IterDirents(_ context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	d.dirMu.Lock()
	parent := d.parent
	d.dirMu.Unlock()
	if offset <= 0 {
		if err := cb(vfs.Dirent{Name: ".", Type: linux.DT_DIR, Ino: d.key.ino, NextOff: 1}); err != nil {
			return err
		}
	}
	if offset <= 1 {
		if err := cb(vfs.Dirent{Name: "..", Type: linux.DT_DIR, Ino: parent.key.ino, NextOff: firstDirentOff}); err != nil {
			return err
		}
		offset = firstDirentOff
	}
	cookie, ok := d.cookieAt(offset)
	if !ok {
		// An offset this directory never handed out: past the end.
		return nil
	}
	for {
		ents, err := d.fs.client.Getdents64(d.fdid, cookie, direntBatch)
		if err != nil {
			return toErrno(err)
		}
		if len(ents) == 0 {
			return nil
		}
		for _, e := range ents {
			if err := cb(vfs.Dirent{Name: e.Name, Type: e.Type, Ino: e.Ino, NextOff: d.offsetOf(e.Off)}); err != nil {
				return err
			}
			cookie = e.Off
		}
	}
}

// Open implements vfs.Inode. Listing needs no host descriptor: the gofer
// reads the directory through the node handle.
func (d *directory) Open(_ context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	fd := &dirFD{dir: d}
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

// dirFD is an open directory.
type dirFD struct {
	vfs.DirectoryFileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	dir   *directory
}

// IterDirents implements vfs.FileDescriptionImpl.
func (fd *dirFD) IterDirents(ctx context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	return fd.dir.IterDirents(ctx, offset, cb)
}

// Seek implements vfs.Seeker: an offset is a position handed out by
// getdents, set absolutely or relatively (telldir/seekdir).
func (fd *dirFD) Seek(_ context.Context, offset int64, whence int32, cur int64) (int64, error) {
	switch whence {
	case linux.SEEK_SET:
	case linux.SEEK_CUR:
		offset += cur
	default:
		return 0, linux.EINVAL
	}
	if offset < 0 {
		return 0, linux.EINVAL
	}
	return offset, nil
}

// Sync implements vfs.FileDescriptionImpl through the gofer.
func (fd *dirFD) Sync(context.Context) error {
	if fd.dir.fs.readOnly {
		return nil
	}
	return toErrno(fd.dir.fs.client.Fsync(fd.dir.fdid))
}
