package tmpfs

import (
	"context"
	"math"
	"sort"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/pipe"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// node is any tmpfs file.
type node interface {
	kind
	base() *inode
}

func (i *inode) base() *inode { return i }

// dirent is one entry of a directory. cookie is its getdents offset:
// entries get increasing cookies as they are added and keep them, so an
// offset stays meaningful whatever else is added or removed.
//
// +stateify savable
type dirent struct {
	name   string
	node   node
	cookie int64
}

// directory is a tmpfs directory.
//
// +stateify savable
type directory struct {
	inode
	// The fields below are guarded by inode.mu; the VFS also serializes
	// changes to one directory.
	//
	// parent is nil for the root, whose ".." is itself.
	parent  *directory
	entries map[string]*dirent
	// ordered holds entries by increasing cookie.
	ordered    []*dirent
	nextCookie int64
}

// First cookie for real entries: offsets 0 and 1 are "." and "..".
const firstCookie = 2

func (fs *filesystem) newDirectory(uid auth.KUID, gid auth.KGID, perm linux.FileMode, parent *directory) *directory {
	d := &directory{parent: parent, entries: make(map[string]*dirent), nextCookie: firstCookie}
	fs.initInode(&d.inode, d, linux.S_IFDIR, uid, gid, perm)
	d.nlink = 2
	return d
}

// bogoDirentSize is what each entry adds to a directory's st_size, as in
// Linux's tmpfs.
const bogoDirentSize = 20

func (d *directory) sizeLocked() (uint64, uint64) {
	return uint64(len(d.entries)+2) * bogoDirentSize, 0
}

func (d *directory) insertLocked(name string, n node) {
	e := &dirent{name: name, node: n, cookie: d.nextCookie}
	d.nextCookie++
	d.entries[name] = e
	d.ordered = append(d.ordered, e)
}

func (d *directory) removeLocked(name string) {
	e := d.entries[name]
	delete(d.entries, name)
	i := sort.Search(len(d.ordered), func(i int) bool { return d.ordered[i].cookie >= e.cookie })
	d.ordered = append(d.ordered[:i], d.ordered[i+1:]...)
}

// Lookup implements vfs.DirectoryInode.
func (d *directory) Lookup(_ context.Context, name string) (vfs.Inode, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if e, ok := d.entries[name]; ok {
		return e.node, nil
	}
	return nil, linux.ENOENT
}

// Create implements vfs.DirectoryInode.
func (d *directory) Create(ctx context.Context, creds *auth.Credentials, name string, opts vfs.CreateOptions) (vfs.Inode, error) {
	fs := d.fs
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nlink == 0 {
		return nil, linux.ENOENT
	}
	uid, gid, mode := vfs.InitialOwner(creds, d.attrLocked(), opts.Mode)
	perm := mode.Permissions()
	var n node
	switch mode.FileType() {
	case linux.S_IFREG:
		n = fs.newRegularFile(uid, gid, perm)
	case linux.S_IFDIR:
		n = fs.newDirectory(uid, gid, perm, d)
		d.nlink++
	case linux.S_IFLNK:
		n = fs.newSymlink(uid, gid, opts.Target)
	case linux.S_IFIFO:
		f := &fifo{pipe: pipe.NewPipe(true)}
		fs.initInode(&f.inode, f, linux.S_IFIFO, uid, gid, perm)
		n = f
	case linux.S_IFCHR, linux.S_IFBLK, linux.S_IFSOCK:
		s := &special{}
		fs.initInode(&s.inode, s, mode.FileType(), uid, gid, perm)
		s.rdevMajor, s.rdevMinor = opts.DevMajor, opts.DevMinor
		n = s
	default:
		return nil, linux.EINVAL
	}
	d.insertLocked(name, n)
	t := now()
	d.mtime, d.ctime = t, t
	return n, nil
}

// Link implements vfs.DirectoryInode.
func (d *directory) Link(_ context.Context, name string, target vfs.Inode) error {
	n, ok := target.(node)
	if !ok || n.base().fs != d.fs {
		return linux.EXDEV
	}
	t := now()
	b := n.base()
	b.mu.Lock()
	if b.nlink == 0 && !takeTmpfileLinkLocked(n) {
		b.mu.Unlock()
		return linux.ENOENT
	}
	if b.nlink == math.MaxUint32 {
		b.mu.Unlock()
		return linux.EMLINK
	}
	b.nlink++
	b.ctime = t
	b.mu.Unlock()
	d.mu.Lock()
	d.insertLocked(name, n)
	d.mtime, d.ctime = t, t
	d.mu.Unlock()
	return nil
}

// Unlink implements vfs.DirectoryInode.
func (d *directory) Unlink(_ context.Context, name string, child vfs.Inode) error {
	t := now()
	d.mu.Lock()
	d.removeLocked(name)
	d.mtime, d.ctime = t, t
	d.mu.Unlock()
	dropLink(child.(node), t)
	return nil
}

// dropLink removes one link of n, freeing a regular file's data once
// nothing uses it.
func dropLink(n node, t int64) {
	b := n.base()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nlink--
	b.ctime = t
	if f, ok := n.(*regularFile); ok {
		f.releaseIfUnusedLocked()
	}
}

// Rmdir implements vfs.DirectoryInode.
func (d *directory) Rmdir(_ context.Context, name string, child vfs.Inode) error {
	c := child.(*directory)
	t := now()
	c.mu.Lock()
	if len(c.entries) != 0 {
		c.mu.Unlock()
		return linux.ENOTEMPTY
	}
	c.nlink = 0
	c.ctime = t
	c.mu.Unlock()
	d.mu.Lock()
	d.removeLocked(name)
	d.nlink--
	d.mtime, d.ctime = t, t
	d.mu.Unlock()
	return nil
}

// Rename implements vfs.DirectoryInode. The VFS holds its rename lock,
// so no other rename runs, and has locked both directories' dentries.
func (d *directory) Rename(_ context.Context, oldName string, child vfs.Inode, newDir vfs.DirectoryInode, newName string, replaced vfs.Inode, flags uint32) error {
	nd, ok := newDir.(*directory)
	if !ok || nd.fs != d.fs {
		return linux.EXDEV
	}
	c := child.(node)
	t := now()
	if flags&linux.RENAME_EXCHANGE != 0 {
		r := replaced.(node)
		d.mu.Lock()
		d.entries[oldName].node = r
		d.mtime, d.ctime = t, t
		d.mu.Unlock()
		nd.mu.Lock()
		nd.entries[newName].node = c
		nd.mtime, nd.ctime = t, t
		nd.mu.Unlock()
		cd, cIsDir := c.(*directory)
		rd, rIsDir := r.(*directory)
		if d != nd && cIsDir != rIsDir {
			// A directory's ".." link moves with it.
			if cIsDir {
				nd.incLinks(t)
				d.decLinks(t)
			} else {
				d.incLinks(t)
				nd.decLinks(t)
			}
		}
		if cIsDir {
			cd.setParent(nd)
		}
		if rIsDir {
			rd.setParent(d)
		}
		c.base().touchCtime(t)
		r.base().touchCtime(t)
		return nil
	}
	if replaced != nil {
		r := replaced.(node)
		if rd, ok := r.(*directory); ok {
			rd.mu.Lock()
			if len(rd.entries) != 0 {
				rd.mu.Unlock()
				return linux.ENOTEMPTY
			}
			rd.nlink = 0
			rd.ctime = t
			rd.mu.Unlock()
			nd.decLinks(t)
		} else {
			dropLink(r, t)
		}
		nd.mu.Lock()
		nd.removeLocked(newName)
		nd.mu.Unlock()
	}
	d.mu.Lock()
	d.removeLocked(oldName)
	d.mtime, d.ctime = t, t
	d.mu.Unlock()
	nd.mu.Lock()
	nd.insertLocked(newName, c)
	nd.mtime, nd.ctime = t, t
	nd.mu.Unlock()
	if cd, ok := c.(*directory); ok && d != nd {
		d.decLinks(t)
		nd.incLinks(t)
		cd.setParent(nd)
	}
	c.base().touchCtime(t)
	return nil
}

func (d *directory) setParent(p *directory) {
	d.mu.Lock()
	d.parent = p
	d.mu.Unlock()
}

func (i *inode) touchCtime(t int64) {
	i.mu.Lock()
	i.ctime = t
	i.mu.Unlock()
}

// IterDirents implements vfs.DirectoryInode.
func (d *directory) IterDirents(_ context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if offset <= 0 {
		if err := cb(vfs.Dirent{Name: ".", Type: linux.DT_DIR, Ino: d.ino, NextOff: 1}); err != nil {
			return err
		}
	}
	if offset <= 1 {
		p := d
		if d.parent != nil {
			p = d.parent
		}
		if err := cb(vfs.Dirent{Name: "..", Type: linux.DT_DIR, Ino: p.ino, NextOff: firstCookie}); err != nil {
			return err
		}
	}
	i := sort.Search(len(d.ordered), func(i int) bool { return d.ordered[i].cookie >= offset })
	for _, e := range d.ordered[i:] {
		b := e.node.base()
		if err := cb(vfs.Dirent{Name: e.name, Type: b.typ.DirentType(), Ino: b.ino, NextOff: e.cookie + 1}); err != nil {
			return err
		}
	}
	return nil
}

// Open implements vfs.Inode.
func (d *directory) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	impl := &dirFD{dir: d}
	impl.vfsfd = &vfs.FileDescription{}
	impl.vfsfd.Init(impl, opts.Flags, vd, nil)
	return impl.vfsfd, nil
}

// dirFD is an open tmpfs directory.
//
// +stateify savable
type dirFD struct {
	vfs.DirectoryFileDescriptionDefaultImpl
	vfsfd *vfs.FileDescription
	dir   *directory
}

// IterDirents implements vfs.FileDescriptionImpl.
func (fd *dirFD) IterDirents(ctx context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	fd.dir.touchAtime(fd.vfsfd.Mount(), fd.vfsfd.StatusFlags())
	return fd.dir.IterDirents(ctx, offset, cb)
}

// Seek implements vfs.Seeker: a directory offset is a cookie, set
// absolutely or relatively.
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
