package overlay_test

import (
	"context"
	"errors"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/overlay"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// tree drives one directory tree of a VFS by path: the lower layer while
// a test populates it, or the overlay.
type tree struct {
	t     testing.TB
	ctx   context.Context
	vfs   *vfs.VirtualFilesystem
	creds *auth.Credentials
	root  vfs.VirtualDentry
}

// env is an overlay of an empty tmpfs over a lower layer.
type env struct {
	*tree
	lower *tree
	// upperRoot is the upper layer's root directory, inspected by inode
	// so as not to fill the upper mount's dentry cache behind the
	// overlay's back.
	upperRoot vfs.DirectoryInode
	ofs       *vfs.Filesystem
}

func rootCreds() *auth.Credentials {
	return auth.NewRootCredentials(auth.NewRootUserNamespace())
}

// newTmpfsEnv makes a tmpfs lower layer, lets populate fill it, and puts
// an overlay over it.
func newTmpfsEnv(t testing.TB, populate func(l *tree)) *env {
	t.Helper()
	v := vfs.New()
	if err := v.RegisterFilesystemType(tmpfs.FilesystemType{}, nil); err != nil {
		t.Fatal(err)
	}
	creds := rootCreds()
	ctx := auth.ContextWithCredentials(context.Background(), creds)
	ns, err := v.NewMountNamespace(ctx, creds, "", tmpfs.Name, &vfs.MountOptions{
		GetFilesystemOptions: vfs.GetFilesystemOptions{Data: "mode=0755"},
		InternalMount:        true,
	})
	if err != nil {
		t.Fatal(err)
	}
	lower := &tree{t: t, ctx: ctx, vfs: v, creds: creds, root: ns.Root()}
	if populate != nil {
		populate(lower)
	}
	return newOverlayEnv(t, lower)
}

// newOverlayEnv puts an overlay with a new tmpfs upper layer over
// lower's root.
func newOverlayEnv(t testing.TB, lower *tree) *env {
	t.Helper()
	v := lower.vfs
	ufs, uroot := tmpfs.NewFilesystem(v, tmpfs.Options{RootMode: 01777})
	umnt := v.NewDisconnectedMount(ufs, uroot, 0)
	ofs, oroot, err := overlay.NewFilesystem(lower.ctx, v, lower.creds, overlay.Options{
		Lower: lower.root,
		Upper: vfs.MakeVirtualDentry(umnt, umnt.Root()),
	})
	if err != nil {
		t.Fatal(err)
	}
	ns := v.NewMountNamespaceWithRoot(lower.creds, ofs, oroot, 0)
	return &env{
		tree:      &tree{t: t, ctx: lower.ctx, vfs: v, creds: lower.creds, root: ns.Root()},
		lower:     lower,
		upperRoot: uroot.Inode().(vfs.DirectoryInode),
		ofs:       ofs,
	}
}

func (e *env) copyUps() uint64 { return overlay.CopyUps(e.ofs) }

// upperLookup looks up a slash-free path of names under the upper root.
func (e *env) upperLookup(names ...string) (vfs.Inode, error) {
	var cur vfs.Inode = e.upperRoot
	for _, n := range names {
		d, ok := cur.(vfs.DirectoryInode)
		if !ok {
			return nil, linux.ENOTDIR
		}
		c, err := d.Lookup(e.ctx, n)
		if err != nil {
			return nil, err
		}
		cur = c
	}
	return cur, nil
}

// as returns a copy of t acting with creds.
func (t *tree) as(creds *auth.Credentials) *tree {
	c := *t
	c.creds = creds
	c.ctx = auth.ContextWithCredentials(t.ctx, creds)
	return &c
}

func (t *tree) pop(path string) *vfs.PathOperation {
	return &vfs.PathOperation{Root: t.root, Start: t.root, Path: path, FollowFinalSymlink: true}
}

func (t *tree) lpop(path string) *vfs.PathOperation {
	p := t.pop(path)
	p.FollowFinalSymlink = false
	return p
}

func (t *tree) open(path string, flags uint32, mode linux.FileMode) (*vfs.FileDescription, error) {
	return t.vfs.OpenAt(t.ctx, t.creds, t.pop(path), &vfs.OpenOptions{Flags: flags, Mode: mode})
}

func (t *tree) mustOpen(path string, flags uint32, mode linux.FileMode) *vfs.FileDescription {
	t.t.Helper()
	fd, err := t.open(path, flags, mode)
	if err != nil {
		t.t.Fatalf("open %q: %v", path, err)
	}
	return fd
}

func (t *tree) mkdir(path string, mode linux.FileMode) {
	t.t.Helper()
	if err := t.vfs.MkdirAt(t.ctx, t.creds, t.pop(path), mode); err != nil {
		t.t.Fatalf("mkdir %q: %v", path, err)
	}
}

func (t *tree) symlink(target, path string) {
	t.t.Helper()
	if err := t.vfs.SymlinkAt(t.ctx, t.creds, t.pop(path), target); err != nil {
		t.t.Fatalf("symlink %q: %v", path, err)
	}
}

// writeFile creates or truncates path and writes data to it.
func (t *tree) writeFile(path, data string, mode linux.FileMode) {
	t.t.Helper()
	fd := t.mustOpen(path, linux.O_WRONLY|linux.O_CREAT|linux.O_TRUNC, mode)
	defer fd.DecRef(t.ctx)
	t.write(fd, data)
}

func (t *tree) write(fd *vfs.FileDescription, data string) {
	t.t.Helper()
	n, err := fd.Write(t.ctx, vfs.BytesIOSequence([]byte(data)), vfs.WriteOptions{})
	if err != nil || n != int64(len(data)) {
		t.t.Fatalf("write %q: %d, %v", data, n, err)
	}
}

func (t *tree) readFile(path string) (string, error) {
	fd, err := t.open(path, linux.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer fd.DecRef(t.ctx)
	return readAll(t.ctx, fd)
}

func (t *tree) mustRead(path string) string {
	t.t.Helper()
	s, err := t.readFile(path)
	if err != nil {
		t.t.Fatalf("read %q: %v", path, err)
	}
	return s
}

func readAll(ctx context.Context, fd *vfs.FileDescription) (string, error) {
	var out []byte
	buf := make([]byte, 777)
	for {
		n, err := fd.Read(ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{})
		if err != nil {
			return string(out), err
		}
		if n == 0 {
			return string(out), nil
		}
		out = append(out, buf[:n]...)
	}
}

func (t *tree) statErr(path string) (linux.Statx, error) {
	return t.vfs.StatAt(t.ctx, t.creds, t.lpop(path), vfs.StatOptions{Mask: linux.STATX_BASIC_STATS})
}

// lstat stats path without following a final symlink.
func (t *tree) lstat(path string) linux.Statx {
	t.t.Helper()
	st, err := t.statErr(path)
	if err != nil {
		t.t.Fatalf("stat %q: %v", path, err)
	}
	return st
}

func (t *tree) setStat(path string, opts vfs.SetStatOptions) error {
	return t.vfs.SetStatAt(t.ctx, t.creds, t.pop(path), opts)
}

// list returns the names in directory path, without "." and "..", in
// listing order.
func (t *tree) list(path string) []string {
	t.t.Helper()
	fd := t.mustOpen(path, linux.O_RDONLY|linux.O_DIRECTORY, 0)
	defer fd.DecRef(t.ctx)
	var out []string
	for _, d := range dirents(t.t, t.ctx, fd) {
		if d.Name != "." && d.Name != ".." {
			out = append(out, d.Name)
		}
	}
	return out
}

func dirents(t testing.TB, ctx context.Context, fd *vfs.FileDescription) []vfs.Dirent {
	t.Helper()
	var out []vfs.Dirent
	if err := fd.IterDirents(ctx, func(d vfs.Dirent) error {
		out = append(out, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}
