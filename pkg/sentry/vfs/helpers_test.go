package vfs_test

import (
	"context"
	"errors"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/dev"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// env is a VFS with a tmpfs root, driven as root unless a test says
// otherwise.
type env struct {
	t     *testing.T
	ctx   context.Context
	vfs   *vfs.VirtualFilesystem
	mntns *vfs.MountNamespace
	root  vfs.VirtualDentry
	creds *auth.Credentials
}

func newEnv(t *testing.T) *env {
	t.Helper()
	v := vfs.New()
	if err := v.RegisterFilesystemType(tmpfs.FilesystemType{}, &vfs.RegisterFilesystemTypeOptions{AllowUserMount: true}); err != nil {
		t.Fatal(err)
	}
	if err := v.RegisterFilesystemType(dev.FilesystemType{}, &vfs.RegisterFilesystemTypeOptions{AllowUserMount: true}); err != nil {
		t.Fatal(err)
	}
	if err := dev.RegisterDevices(v); err != nil {
		t.Fatal(err)
	}
	creds := auth.NewRootCredentials(auth.NewRootUserNamespace())
	ctx := auth.ContextWithCredentials(context.Background(), creds)
	mntns, err := v.NewMountNamespace(ctx, creds, "", tmpfs.Name, &vfs.MountOptions{GetFilesystemOptions: vfs.GetFilesystemOptions{Data: "mode=0755"}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, vfs: v, mntns: mntns, root: mntns.Root(), creds: creds}
}

func (e *env) user(uid, gid uint32) *auth.Credentials {
	return auth.NewUserCredentials(auth.KUID(uid), auth.KGID(gid), nil, e.creds.UserNamespace)
}

func (e *env) pop(path string) *vfs.PathOperation {
	return &vfs.PathOperation{Root: e.root, Start: e.root, Path: path, FollowFinalSymlink: true}
}

func (e *env) nofollow(path string) *vfs.PathOperation {
	p := e.pop(path)
	p.FollowFinalSymlink = false
	return p
}

func (e *env) mkdir(path string, mode linux.FileMode) {
	e.t.Helper()
	if err := e.vfs.MkdirAt(e.ctx, e.creds, e.pop(path), mode); err != nil {
		e.t.Fatalf("mkdir %q: %v", path, err)
	}
}

func (e *env) symlink(target, path string) {
	e.t.Helper()
	if err := e.vfs.SymlinkAt(e.ctx, e.creds, e.pop(path), target); err != nil {
		e.t.Fatalf("symlink %q -> %q: %v", path, target, err)
	}
}

func (e *env) open(creds *auth.Credentials, path string, flags uint32, mode linux.FileMode) (*vfs.FileDescription, error) {
	return e.vfs.OpenAt(e.ctx, creds, e.pop(path), &vfs.OpenOptions{Flags: flags, Mode: mode})
}

func (e *env) writeFile(path, data string, mode linux.FileMode) {
	e.t.Helper()
	fd, err := e.open(e.creds, path, linux.O_WRONLY|linux.O_CREAT|linux.O_TRUNC, mode)
	if err != nil {
		e.t.Fatalf("create %q: %v", path, err)
	}
	defer fd.DecRef(e.ctx)
	if n, err := fd.Write(e.ctx, vfs.BytesIOSequence([]byte(data)), vfs.WriteOptions{}); err != nil || n != int64(len(data)) {
		e.t.Fatalf("write %q: %d, %v", path, n, err)
	}
}

func readAll(ctx context.Context, fd *vfs.FileDescription) (string, error) {
	var out []byte
	buf := make([]byte, 1000)
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

func (e *env) readFile(path string) string {
	e.t.Helper()
	fd, err := e.open(e.creds, path, linux.O_RDONLY, 0)
	if err != nil {
		e.t.Fatalf("open %q: %v", path, err)
	}
	defer fd.DecRef(e.ctx)
	s, err := readAll(e.ctx, fd)
	if err != nil {
		e.t.Fatalf("read %q: %v", path, err)
	}
	return s
}

func (e *env) stat(path string) linux.Statx {
	e.t.Helper()
	st, err := e.vfs.StatAt(e.ctx, e.creds, e.pop(path), vfs.StatOptions{Mask: linux.STATX_BASIC_STATS})
	if err != nil {
		e.t.Fatalf("stat %q: %v", path, err)
	}
	return st
}

func wantErr(t *testing.T, what string, err, want error) {
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

// names lists a directory through a file description.
func names(t *testing.T, ctx context.Context, fd *vfs.FileDescription) []string {
	t.Helper()
	var out []string
	if err := fd.IterDirents(ctx, func(d vfs.Dirent) error {
		out = append(out, d.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
