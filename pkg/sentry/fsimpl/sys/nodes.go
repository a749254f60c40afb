package sys

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// attrs is what every sysfs inode has: fixed attributes, owned by root.
type attrs struct {
	fs   *filesystem
	ino  uint64
	mode linux.FileMode
}

// Type implements vfs.Inode.
func (a *attrs) Type() linux.FileMode { return a.mode.FileType() }

// CheckPermission implements vfs.Inode.
func (a *attrs) CheckPermission(_ context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	return auth.CheckPermission(creds, a.mode, auth.RootKUID, auth.RootKGID, ats)
}

// stat fills what every kind shares. Attribute files report a page as
// their size, as Linux's do: the most one read can return.
func (a *attrs) stat(nlink uint32) linux.Statx {
	ts := linux.StatxTimestamp{Sec: a.fs.created / 1e9, Nsec: uint32(a.fs.created % 1e9)}
	var size uint64
	if a.mode.FileType() == linux.S_IFREG {
		size = linux.PageSize
	}
	return linux.Statx{
		Mask:     linux.STATX_BASIC_STATS,
		Blksize:  linux.PageSize,
		Nlink:    nlink,
		Mode:     uint16(a.mode),
		Ino:      a.ino,
		Size:     size,
		Atime:    ts,
		Mtime:    ts,
		Ctime:    ts,
		DevMinor: a.fs.devMinor,
	}
}

// Stat implements vfs.Inode.
func (a *attrs) Stat(context.Context, vfs.StatOptions) (linux.Statx, error) {
	return a.stat(1), nil
}

// SetStat implements vfs.Inode: nothing in this sysfs can change.
func (a *attrs) SetStat(context.Context, *auth.Credentials, vfs.SetStatOptions) error {
	return linux.EPERM
}

// child is one entry of a directory.
type child struct {
	name  string
	inode vfs.Inode
}

// contents is what a directory holds.
type contents interface {
	// list returns the entries in a stable order.
	list(ctx context.Context) []child
	// lookup returns the entry called name, or ENOENT.
	lookup(ctx context.Context, name string) (vfs.Inode, error)
}

// dir is a sysfs directory.
type dir struct {
	attrs
	// parent is ".."; the root is its own.
	parent   *dir
	contents contents
}

func (fs *filesystem) newDir(parent *dir, c contents) *dir {
	d := &dir{attrs: attrs{fs: fs, ino: fs.ino(), mode: linux.S_IFDIR | 0o755}, contents: c}
	d.parent = d
	if parent != nil {
		d.parent = parent
	}
	return d
}

// Stat implements vfs.Inode: a directory's link count is 2 plus its
// subdirectories, as on Linux.
func (d *dir) Stat(ctx context.Context, _ vfs.StatOptions) (linux.Statx, error) {
	n := uint32(2)
	for _, c := range d.contents.list(ctx) {
		if c.inode.Type() == linux.S_IFDIR {
			n++
		}
	}
	return d.stat(n), nil
}

// Lookup implements vfs.DirectoryInode.
func (d *dir) Lookup(ctx context.Context, name string) (vfs.Inode, error) {
	return d.contents.lookup(ctx, name)
}

// Revalidate implements vfs.DentryRevalidator: the network directories
// change as interfaces come and go, without the VFS seeing it.
func (d *dir) Revalidate(ctx context.Context, name string, c vfs.Inode) bool {
	if _, ok := d.contents.(*staticDir); ok {
		return true
	}
	n, err := d.contents.lookup(ctx, name)
	return err == nil && n == c
}

// Create implements vfs.DirectoryInode.
func (d *dir) Create(context.Context, *auth.Credentials, string, vfs.CreateOptions) (vfs.Inode, error) {
	return nil, linux.EPERM
}

// Link implements vfs.DirectoryInode.
func (d *dir) Link(context.Context, string, vfs.Inode) error { return linux.EPERM }

// Unlink implements vfs.DirectoryInode.
func (d *dir) Unlink(context.Context, string, vfs.Inode) error { return linux.EPERM }

// Rmdir implements vfs.DirectoryInode.
func (d *dir) Rmdir(context.Context, string, vfs.Inode) error { return linux.EPERM }

// Rename implements vfs.DirectoryInode.
func (d *dir) Rename(context.Context, string, vfs.Inode, vfs.DirectoryInode, string, vfs.Inode, uint32) error {
	return linux.EPERM
}

// IterDirents implements vfs.DirectoryInode. Entry k of the listing is
// at offset k+2, after "." and "..".
func (d *dir) IterDirents(ctx context.Context, offset int64, cb vfs.IterDirentsCallback) error {
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
	list := d.contents.list(ctx)
	for k := offset - 2; k < int64(len(list)); k++ {
		c := list[k]
		if err := cb(vfs.Dirent{Name: c.name, Type: c.inode.Type().DirentType(), Ino: inoOf(c.inode), NextOff: k + 3}); err != nil {
			return err
		}
	}
	return nil
}

// Open implements vfs.Inode.
func (d *dir) Open(_ context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	fd := &dirFD{dir: d}
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

// dirFD is an open directory.
type dirFD struct {
	vfs.DirectoryFileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	dir   *dir
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

// staticDir is the contents of a directory made once, at mount.
type staticDir struct {
	dir      *dir
	children []child
}

func (fs *filesystem) newStaticDir(parent *dir) *staticDir {
	s := &staticDir{}
	s.dir = fs.newDir(parent, s)
	return s
}

// add appends name and returns n, so that subdirectories chain.
func (s *staticDir) add(name string, n vfs.Inode) vfs.Inode {
	s.children = append(s.children, child{name, n})
	return n
}

// addDir adds and returns a new static subdirectory.
func (s *staticDir) addDir(name string) *staticDir {
	sub := s.dir.fs.newStaticDir(s.dir)
	s.add(name, sub.dir)
	return sub
}

func (s *staticDir) list(context.Context) []child { return s.children }

func (s *staticDir) lookup(_ context.Context, name string) (vfs.Inode, error) {
	for _, c := range s.children {
		if c.name == name {
			return c.inode, nil
		}
	}
	return nil, linux.ENOENT
}

// file is a read-only attribute file whose text gen produces.
type file struct {
	attrs
	gen func() (string, error)
}

func (fs *filesystem) newFile(gen func() (string, error)) *file {
	return &file{attrs: attrs{fs: fs, ino: fs.ino(), mode: linux.S_IFREG | 0o444}, gen: gen}
}

func (fs *filesystem) newConstFile(text string) *file {
	return fs.newFile(func() (string, error) { return text, nil })
}

// Open implements vfs.Inode. Linux's sysfs refuses to open an attribute
// with no store method for writing with EACCES, whoever asks (the VFS
// already let root's CAP_DAC_OVERRIDE past the mode); none here has one.
func (f *file) Open(_ context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	if auth.AccessTypesForOpenFlags(opts.Flags)&auth.MayWrite != 0 || opts.Flags&linux.O_TRUNC != 0 {
		return nil, linux.EACCES
	}
	fd := &fileFD{file: f}
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

// fileFD is an open attribute file. The text is generated by a read at
// offset 0 (or the first read) and later reads continue in that
// snapshot, so a reader taking several calls sees one consistent value.
type fileFD struct {
	vfs.FileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	file  *file

	// mu guards data and have.
	mu   sync.Mutex
	data string
	have bool
}

// Read implements vfs.FileDescriptionImpl.
func (fd *fileFD) Read(ctx context.Context, dst vfs.IOSequence, offset int64, _ vfs.ReadOptions) (int64, error) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if offset == 0 || !fd.have {
		s, err := fd.file.gen()
		if err != nil {
			return 0, err
		}
		fd.data, fd.have = s, true
	}
	if offset >= int64(len(fd.data)) {
		return 0, nil
	}
	n, err := dst.CopyOut(ctx, []byte(fd.data[offset:]))
	if n > 0 {
		return int64(n), nil
	}
	return 0, err
}

// symlink is a link within the tree, such as /sys/class/net/lo.
type symlink struct {
	attrs
	target string
}

func (fs *filesystem) newSymlink(target string) *symlink {
	return &symlink{attrs: attrs{fs: fs, ino: fs.ino(), mode: linux.S_IFLNK | 0o777}, target: target}
}

// Readlink implements vfs.SymlinkInode.
func (s *symlink) Readlink(context.Context) (string, error) { return s.target, nil }

// Open implements vfs.Inode; the VFS opens symlinks only with O_PATH,
// which it handles itself.
func (s *symlink) Open(context.Context, vfs.VirtualDentry, vfs.OpenOptions) (*vfs.FileDescription, error) {
	return nil, linux.ELOOP
}

// inoOf returns a sysfs inode's number.
func inoOf(n vfs.Inode) uint64 {
	switch n := n.(type) {
	case *dir:
		return n.ino
	case *file:
		return n.ino
	case *symlink:
		return n.ino
	}
	return 0
}
