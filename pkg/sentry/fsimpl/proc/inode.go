package proc

import (
	"bytes"
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// attrs is what every procfs inode has. Attributes are fixed, except the
// owner of a task's files, which follows the task's effective IDs.
type attrs struct {
	fs   *filesystem
	ino  uint64
	mode linux.FileMode
	// task, when set, owns the file.
	task *kernel.Task
}

func (a *attrs) Type() linux.FileMode { return a.mode.FileType() }

func (a *attrs) owner() (auth.KUID, auth.KGID) {
	if a.task != nil {
		if c := a.task.Credentials(); c != nil {
			return c.EffectiveKUID, c.EffectiveKGID
		}
	}
	return auth.RootKUID, auth.RootKGID
}

// CheckPermission implements vfs.Inode.
func (a *attrs) CheckPermission(_ context.Context, creds *auth.Credentials, ats auth.AccessTypes) error {
	uid, gid := a.owner()
	return auth.CheckPermission(creds, a.mode, uid, gid, ats)
}

// Stat implements vfs.Inode. Files have size 0, as Linux's generated
// files do: their length is only known by reading them.
func (a *attrs) Stat(context.Context, vfs.StatOptions) (linux.Statx, error) {
	uid, gid := a.owner()
	nlink := uint32(1)
	if a.mode.IsDir() {
		nlink = 2
	}
	ts := linux.StatxTimestamp{Sec: a.fs.created / 1e9, Nsec: uint32(a.fs.created % 1e9)}
	return linux.Statx{
		Mask:     linux.STATX_BASIC_STATS,
		Blksize:  linux.PageSize,
		Nlink:    nlink,
		UID:      uint32(uid),
		GID:      uint32(gid),
		Mode:     uint16(a.mode),
		Ino:      a.ino,
		Atime:    ts,
		Mtime:    ts,
		Ctime:    ts,
		DevMinor: a.fs.devMinor,
	}, nil
}

// SetStat implements vfs.Inode: procfs files keep their attributes.
func (a *attrs) SetStat(context.Context, *auth.Credentials, vfs.SetStatOptions) error {
	return linux.EPERM
}

// dirent is one child of a generated directory. off is its stable
// getdents offset.
type dirent struct {
	name string
	mode linux.FileMode
	ino  uint64
	off  int64
}

// dirContents is what a directory holds, generated on every call.
type dirContents interface {
	// list returns the children in increasing offset order; offsets
	// start at 2 (0 and 1 are "." and "..").
	list(ctx context.Context) []dirent
	// lookup returns the child called name, or ENOENT.
	lookup(ctx context.Context, name string) (vfs.Inode, error)
	// valid reports whether a child looked up earlier still stands for
	// name.
	valid(ctx context.Context, name string, child vfs.Inode) bool
}

// dir is a procfs directory.
type dir struct {
	attrs
	// parentIno is ".."'s inode number (the directory's own for the
	// root).
	parentIno uint64
	contents  dirContents
	// needsAccess makes lookups and listings require mayAccess to the
	// task (fd/, fdinfo/).
	needsAccess bool
}

func (d *dir) checkAccess(ctx context.Context) error {
	if d.needsAccess && !mayAccess(ctx, d.task) {
		return linux.EACCES
	}
	return nil
}

// Lookup implements vfs.DirectoryInode.
func (d *dir) Lookup(ctx context.Context, name string) (vfs.Inode, error) {
	if err := d.checkAccess(ctx); err != nil {
		return nil, err
	}
	return d.contents.lookup(ctx, name)
}

// Revalidate implements vfs.DentryRevalidator: tasks and descriptors come
// and go without the VFS seeing it.
func (d *dir) Revalidate(ctx context.Context, name string, child vfs.Inode) bool {
	return d.contents.valid(ctx, name, child)
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

// IterDirents implements vfs.DirectoryInode.
func (d *dir) IterDirents(ctx context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	if err := d.checkAccess(ctx); err != nil {
		return err
	}
	if offset == 0 {
		if err := cb(vfs.Dirent{Name: ".", Type: linux.DT_DIR, Ino: d.ino, NextOff: 1}); err != nil {
			return err
		}
		offset = 1
	}
	if offset == 1 {
		if err := cb(vfs.Dirent{Name: "..", Type: linux.DT_DIR, Ino: d.parentIno, NextOff: 2}); err != nil {
			return err
		}
		offset = 2
	}
	for _, e := range d.contents.list(ctx) {
		if e.off < offset {
			continue
		}
		if err := cb(vfs.Dirent{Name: e.name, Type: e.mode.DirentType(), Ino: e.ino, NextOff: e.off + 1}); err != nil {
			return err
		}
	}
	return nil
}

// Open implements vfs.Inode.
func (d *dir) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	fd := &dirFD{dir: d}
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

// dirFD is an open procfs directory.
type dirFD struct {
	vfs.DirectoryFileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	dir   *dir
}

// IterDirents implements vfs.FileDescriptionImpl.
func (fd *dirFD) IterDirents(ctx context.Context, offset int64, cb vfs.IterDirentsCallback) error {
	return fd.dir.IterDirents(ctx, offset, cb)
}

// Seek implements vfs.Seeker: directories seek to any offset from the
// start or the current one; getdents skips to the next entry at or after
// it.
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

// generator produces a file's contents.
type generator interface {
	generate(ctx context.Context, b *bytes.Buffer) error
}

// file is a read-only generated file.
type file struct {
	attrs
	gen generator
	// needsAccess makes open require mayAccess to the task (environ,
	// auxv, maps), as Linux checks ptrace access at open.
	needsAccess bool
}

// Open implements vfs.Inode.
func (f *file) Open(ctx context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	if f.needsAccess && !mayAccess(ctx, f.task) {
		return nil, linux.EACCES
	}
	fd := &fileFD{file: f}
	fd.vfsfd.Init(fd, opts.Flags, vd, nil)
	return &fd.vfsfd, nil
}

// fileFD is an open generated file. It generates the contents when a
// read starts at offset 0 (or on the first read) and serves later reads
// from that snapshot, so that a reader taking several read calls sees
// one consistent text, as Linux's seq_file gives.
type fileFD struct {
	vfs.FileDescriptionDefaultImpl
	vfsfd vfs.FileDescription
	file  *file

	// mu guards data and have.
	mu   sync.Mutex
	data []byte
	have bool
}

// Read implements vfs.FileDescriptionImpl.
func (fd *fileFD) Read(ctx context.Context, dst vfs.IOSequence, offset int64, _ vfs.ReadOptions) (int64, error) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if offset == 0 || !fd.have {
		var b bytes.Buffer
		if err := fd.file.gen.generate(ctx, &b); err != nil {
			return 0, err
		}
		fd.data, fd.have = b.Bytes(), true
	}
	if offset >= int64(len(fd.data)) {
		return 0, nil
	}
	n, err := dst.CopyOut(ctx, fd.data[offset:])
	if n > 0 {
		return int64(n), nil
	}
	return 0, err
}

// linker gives a symlink its target.
type linker interface {
	readlink(ctx context.Context) (string, error)
}

// magicLinker is a linker whose target is an object (a file, a
// directory), which path resolution jumps to.
type magicLinker interface {
	linker
	getLink(ctx context.Context) (vfs.VirtualDentry, error)
}

// symlink is a procfs symlink with a generated target.
type symlink struct {
	attrs
	link linker
}

// Readlink implements vfs.SymlinkInode.
func (s *symlink) Readlink(ctx context.Context) (string, error) { return s.link.readlink(ctx) }

// Open implements vfs.Inode; the VFS opens symlinks only with O_PATH,
// which it handles itself.
func (s *symlink) Open(context.Context, vfs.VirtualDentry, vfs.OpenOptions) (*vfs.FileDescription, error) {
	return nil, linux.ELOOP
}

// magicLink is a symlink to an object: /proc/PID/{exe,cwd,root,fd/N}.
// Reading or following it needs ptrace access to its task.
type magicLink struct {
	attrs
	link magicLinker
}

// Readlink implements vfs.SymlinkInode.
func (m *magicLink) Readlink(ctx context.Context) (string, error) {
	if !mayAccess(ctx, m.task) {
		return "", linux.EACCES
	}
	return m.link.readlink(ctx)
}

// GetLink implements vfs.MagicLinkInode.
func (m *magicLink) GetLink(ctx context.Context) (vfs.VirtualDentry, error) {
	if !mayAccess(ctx, m.task) {
		return vfs.VirtualDentry{}, linux.EACCES
	}
	return m.link.getLink(ctx)
}

// Open implements vfs.Inode.
func (m *magicLink) Open(context.Context, vfs.VirtualDentry, vfs.OpenOptions) (*vfs.FileDescription, error) {
	return nil, linux.ELOOP
}

// Constructors.

func (fs *filesystem) newDir(ino, parentIno uint64, perm linux.FileMode, task *kernel.Task, c dirContents) *dir {
	return &dir{attrs: attrs{fs: fs, ino: ino, mode: linux.S_IFDIR | perm, task: task}, parentIno: parentIno, contents: c}
}

func (fs *filesystem) newFile(ino uint64, perm linux.FileMode, task *kernel.Task, gen generator) *file {
	return &file{attrs: attrs{fs: fs, ino: ino, mode: linux.S_IFREG | perm, task: task}, gen: gen}
}

func (fs *filesystem) newSymlink(ino uint64, task *kernel.Task, l linker) *symlink {
	return &symlink{attrs: attrs{fs: fs, ino: ino, mode: linux.S_IFLNK | 0777, task: task}, link: l}
}

func (fs *filesystem) newMagicLink(ino uint64, task *kernel.Task, l magicLinker) *magicLink {
	return &magicLink{attrs: attrs{fs: fs, ino: ino, mode: linux.S_IFLNK | 0777, task: task}, link: l}
}

// staticContents is a directory whose children never change.
type staticContents struct {
	names    []string
	children map[string]vfs.Inode
}

func newStaticContents() *staticContents {
	return &staticContents{children: make(map[string]vfs.Inode)}
}

func (s *staticContents) add(name string, n vfs.Inode) {
	s.names = append(s.names, name)
	s.children[name] = n
}

func (s *staticContents) list(context.Context) []dirent {
	out := make([]dirent, len(s.names))
	for i, name := range s.names {
		n := s.children[name]
		out[i] = dirent{name: name, mode: n.Type(), ino: inoOf(n), off: int64(i) + 2}
	}
	return out
}

func (s *staticContents) lookup(_ context.Context, name string) (vfs.Inode, error) {
	if n, ok := s.children[name]; ok {
		return n, nil
	}
	return nil, linux.ENOENT
}

func (s *staticContents) valid(context.Context, string, vfs.Inode) bool { return true }

// inoOf returns a procfs inode's number.
func inoOf(n vfs.Inode) uint64 {
	switch n := n.(type) {
	case *dir:
		return n.ino
	case *file:
		return n.ino
	case *symlink:
		return n.ino
	case *magicLink:
		return n.ino
	}
	return 0
}

// generatorFunc adapts a function with no state worth saving.
type generatorFunc func(ctx context.Context, b *bytes.Buffer) error

func (f generatorFunc) generate(ctx context.Context, b *bytes.Buffer) error { return f(ctx, b) }

// linkFunc adapts a function to a linker.
type linkFunc func(ctx context.Context) (string, error)

func (f linkFunc) readlink(ctx context.Context) (string, error) { return f(ctx) }
