package attrtree

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Child is one entry of a directory.
type Child struct {
	Name  string
	Inode vfs.Inode
}

// Contents is what a directory holds.
type Contents interface {
	// List returns the entries in a stable order.
	List(ctx context.Context) []Child
	// Lookup returns the entry called name, or ENOENT.
	Lookup(ctx context.Context, name string) (vfs.Inode, error)
}

// Dir is a directory of the tree.
type Dir struct {
	attrs
	// parent is ".."; the root is its own.
	parent   *Dir
	contents Contents
}

// NewDir returns a directory listing c, under parent (nil for the root).
func (t *Tree) NewDir(parent *Dir, c Contents) *Dir {
	d := &Dir{attrs: t.newAttrs(linux.S_IFDIR | 0o755), contents: c}
	d.parent = d
	if parent != nil {
		d.parent = parent
	}
	return d
}

// Stat implements vfs.Inode: a directory's link count is 2 plus its
// subdirectories, as on Linux.
func (d *Dir) Stat(ctx context.Context, _ vfs.StatOptions) (linux.Statx, error) {
	n := uint32(2)
	for _, c := range d.contents.List(ctx) {
		if c.Inode.Type() == linux.S_IFDIR {
			n++
		}
	}
	return d.stat(n), nil
}

// Lookup implements vfs.DirectoryInode.
func (d *Dir) Lookup(ctx context.Context, name string) (vfs.Inode, error) {
	return d.contents.Lookup(ctx, name)
}

// Revalidate implements vfs.DentryRevalidator: directories listed on
// demand (network interfaces, say) change without the VFS seeing it.
func (d *Dir) Revalidate(ctx context.Context, name string, c vfs.Inode) bool {
	if _, ok := d.contents.(*StaticDir); ok {
		return true
	}
	n, err := d.contents.Lookup(ctx, name)
	return err == nil && n == c
}

// Create implements vfs.DirectoryInode.
func (d *Dir) Create(context.Context, *auth.Credentials, string, vfs.CreateOptions) (vfs.Inode, error) {
	return nil, linux.EPERM
}

// Link implements vfs.DirectoryInode.
func (d *Dir) Link(context.Context, string, vfs.Inode) error { return linux.EPERM }

// Unlink implements vfs.DirectoryInode.
func (d *Dir) Unlink(context.Context, string, vfs.Inode) error { return linux.EPERM }

// Rmdir implements vfs.DirectoryInode.
func (d *Dir) Rmdir(context.Context, string, vfs.Inode) error { return linux.EPERM }

// Rename implements vfs.DirectoryInode.
func (d *Dir) Rename(context.Context, string, vfs.Inode, vfs.DirectoryInode, string, vfs.Inode, uint32) error {
	return linux.EPERM
}

// IterDirents implements vfs.DirectoryInode. Entry k of the listing is
// at offset k+2, after "." and "..".
func (d *Dir) IterDirents(ctx context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	if offset <= 0 {
		if err := cb(vfs.Dirent{Name: ".", Type: linux.DT_DIR, Ino: d.ino, NextOff: 1}); err != nil {
			return err
		}
	}
	if offset <= 1 {
		if err := cb(vfs.Dirent{Name: "..", Type: linux.DT_DIR, Ino: d.parent.ino, NextOff: 2}); err != nil {
			return err
		}
		offset = 2
	}
	list := d.contents.List(ctx)
	for k := offset - 2; k < int64(len(list)); k++ {
		c := list[k]
		if err := cb(vfs.Dirent{Name: c.Name, Type: c.Inode.Type().DirentType(), Ino: Ino(c.Inode), NextOff: k + 3}); err != nil {
			return err
		}
	}
	return nil
}

// Open implements vfs.Inode.
func (d *Dir) Open(_ context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	fd := &dirFD{dir: d}
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

// dirFD is an open directory.
type dirFD struct {
	vfs.DirectoryFileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	dir   *Dir
}

// IterDirents implements vfs.FileDescriptionImpl.
func (fd *dirFD) IterDirents(ctx context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	return fd.dir.IterDirents(ctx, offset, cb)
}

// Seek implements vfs.Seeker: any offset from the start or the current
// one; getdents resumes at the entry there.
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

// StaticDir is the contents of a directory made once, at mount.
type StaticDir struct {
	dir      *Dir
	children []Child
}

// NewStaticDir returns an empty static directory under parent (nil for
// the root).
func (t *Tree) NewStaticDir(parent *Dir) *StaticDir {
	s := &StaticDir{}
	s.dir = t.NewDir(parent, s)
	return s
}

// Dir returns the directory s fills.
func (s *StaticDir) Dir() *Dir { return s.dir }

// Add appends name and returns n, so that subdirectories chain.
func (s *StaticDir) Add(name string, n vfs.Inode) vfs.Inode {
	s.children = append(s.children, Child{Name: name, Inode: n})
	return n
}

// AddDir adds and returns a new static subdirectory.
func (s *StaticDir) AddDir(name string) *StaticDir {
	sub := s.dir.tree.NewStaticDir(s.dir)
	s.Add(name, sub.dir)
	return sub
}

// List implements Contents.
func (s *StaticDir) List(context.Context) []Child { return s.children }

// Lookup implements Contents.
func (s *StaticDir) Lookup(_ context.Context, name string) (vfs.Inode, error) {
	for _, c := range s.children {
		if c.Name == name {
			return c.Inode, nil
		}
	}
	return nil, linux.ENOENT
}
