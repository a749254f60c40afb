package gofer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/gofer"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	goferserver "appkernel.dev/appkernel/runsc/gofer"
)

// env is a VFS whose root mount is a gofer filesystem serving a temporary
// host directory through a real gofer server over a socketpair.
type env struct {
	t     testing.TB
	ctx   context.Context
	vfs   *vfs.VirtualFilesystem
	mntns *vfs.MountNamespace
	root  vfs.VirtualDentry
	creds *auth.Credentials
	// host is the exported host directory.
	host string
	mf   *pgalloc.MemoryFile
}

type envOpts struct {
	readOnly   bool
	memoryFile bool
	// data is extra mount data.
	data string
}

// newEnv serves dir (a new temporary directory if empty) and mounts it as
// the root of a new mount namespace.
func newEnv(t testing.TB, dir string, o envOpts) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	g, err := goferserver.New([]goferserver.Export{{Name: "/", HostPath: dir, ReadOnly: o.readOnly}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	srv := lisafs.NewServer(g, 4)
	cf, sf, err := lisafs.Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sf) }()
	// The filesystem takes ownership of the descriptor it is given.
	fd, err := unix.Dup(int(cf.Fd()))
	cf.Close()
	if err != nil {
		t.Fatal(err)
	}

	e := &env{t: t, vfs: vfs.New(), host: dir}
	ft := gofer.FilesystemType{}
	if o.memoryFile {
		mf, err := pgalloc.New(pgalloc.Options{Name: "gofer-test", MaxSize: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(mf.Destroy)
		e.mf, ft.MemoryFile = mf, mf
	}
	if err := e.vfs.RegisterFilesystemType(ft, nil); err != nil {
		t.Fatal(err)
	}
	// The test's own IDs with every capability: files it creates through
	// the gofer can be given its owner whether or not it runs as root.
	creds := auth.NewUserCredentials(auth.KUID(os.Getuid()), auth.KGID(os.Getgid()), nil, auth.NewRootUserNamespace())
	creds.PermittedCaps, creds.EffectiveCaps = auth.AllCapabilities, auth.AllCapabilities
	e.creds = creds
	e.ctx = auth.ContextWithCredentials(context.Background(), creds)
	mntns, err := e.vfs.NewMountNamespace(e.ctx, creds, "", gofer.Name, &vfs.MountOptions{
		GetFilesystemOptions: vfs.GetFilesystemOptions{Data: fmt.Sprintf("fd=%d%s", fd, o.data)},
		InternalMount:        true,
	})
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	e.mntns, e.root = mntns, mntns.Root()
	t.Cleanup(func() {
		gofer.Release(e.root.Mount().Filesystem())
		if err := <-done; err != nil {
			t.Errorf("gofer Serve: %v", err)
		}
	})
	return e
}

func (e *env) pop(path string) *vfs.PathOperation {
	return &vfs.PathOperation{Root: e.root, Start: e.root, Path: path, FollowFinalSymlink: true}
}

func (e *env) lpop(path string) *vfs.PathOperation {
	p := e.pop(path)
	p.FollowFinalSymlink = false
	return p
}

func (e *env) open(path string, flags uint32, mode linux.FileMode) (*vfs.FileDescription, error) {
	return e.vfs.OpenAt(e.ctx, e.creds, e.pop(path), &vfs.OpenOptions{Flags: flags, Mode: mode})
}

func (e *env) mustOpen(path string, flags uint32, mode linux.FileMode) *vfs.FileDescription {
	e.t.Helper()
	fd, err := e.open(path, flags, mode)
	if err != nil {
		e.t.Fatalf("open %q: %v", path, err)
	}
	return fd
}

func (e *env) readFile(path string) (string, error) {
	fd, err := e.open(path, linux.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer fd.DecRef(e.ctx)
	return readAll(e.ctx, fd)
}

func (e *env) mustRead(path string) string {
	e.t.Helper()
	s, err := e.readFile(path)
	if err != nil {
		e.t.Fatalf("read %q: %v", path, err)
	}
	return s
}

func (e *env) write(fd *vfs.FileDescription, data string) {
	e.t.Helper()
	n, err := fd.Write(e.ctx, vfs.BytesIOSequence([]byte(data)), vfs.WriteOptions{})
	if err != nil || n != int64(len(data)) {
		e.t.Fatalf("write: %d, %v", n, err)
	}
}

func (e *env) stat(path string, follow bool) linux.Statx {
	e.t.Helper()
	pop := e.pop(path)
	pop.FollowFinalSymlink = follow
	st, err := e.vfs.StatAt(e.ctx, e.creds, pop, vfs.StatOptions{Mask: linux.STATX_BASIC_STATS})
	if err != nil {
		e.t.Fatalf("stat %q: %v", path, err)
	}
	return st
}

// hostPath is the host path of a path in the export.
func (e *env) hostPath(p string) string { return e.host + "/" + p }

func (e *env) hostRead(p string) string {
	e.t.Helper()
	b, err := os.ReadFile(e.hostPath(p))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func (e *env) hostWrite(p, data string) {
	e.t.Helper()
	if err := os.WriteFile(e.hostPath(p), []byte(data), 0644); err != nil {
		e.t.Fatal(err)
	}
}

func readAll(ctx context.Context, fd *vfs.FileDescription) (string, error) {
	var out []byte
	buf := make([]byte, 4096)
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
