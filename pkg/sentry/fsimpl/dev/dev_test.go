package dev_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/dev"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

type env struct {
	ctx   context.Context
	vfs   *vfs.VirtualFilesystem
	root  vfs.VirtualDentry
	creds *auth.Credentials
}

func newEnv(t *testing.T) *env {
	t.Helper()
	v := vfs.New()
	v.RegisterFilesystemType(tmpfs.FilesystemType{}, &vfs.RegisterFilesystemTypeOptions{AllowUserMount: true})
	v.RegisterFilesystemType(dev.FilesystemType{}, &vfs.RegisterFilesystemTypeOptions{AllowUserMount: true})
	if err := dev.RegisterDevices(v); err != nil {
		t.Fatal(err)
	}
	creds := auth.NewRootCredentials(auth.NewRootUserNamespace())
	ctx := context.Background()
	ns, err := v.NewMountNamespace(ctx, creds, "", tmpfs.Name, &vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ctx: ctx, vfs: v, root: ns.Root(), creds: creds}
	if err := v.MkdirAt(ctx, creds, e.pop("/dev"), 0755); err != nil {
		t.Fatal(err)
	}
	if _, err := v.MountAt(ctx, creds, "dev", e.pop("/dev"), dev.Name, &vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) pop(p string) *vfs.PathOperation {
	return &vfs.PathOperation{Root: e.root, Start: e.root, Path: p, FollowFinalSymlink: true}
}

func (e *env) open(t *testing.T, p string, flags uint32) *vfs.FileDescription {
	t.Helper()
	fd, err := e.vfs.OpenAt(e.ctx, e.creds, e.pop(p), &vfs.OpenOptions{Flags: flags})
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	return fd
}

func TestNodes(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name  string
		minor uint32
	}{{"null", 3}, {"zero", 5}, {"full", 7}, {"random", 8}, {"urandom", 9}} {
		st, err := e.vfs.StatAt(e.ctx, e.creds, e.pop("/dev/"+c.name), vfs.StatOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode != linux.S_IFCHR|0666 || st.RdevMajor != 1 || st.RdevMinor != c.minor {
			t.Errorf("%s: mode %#o rdev %d:%d", c.name, st.Mode, st.RdevMajor, st.RdevMinor)
		}
	}
	if st, err := e.vfs.StatAt(e.ctx, e.creds, e.pop("/dev/tty"), vfs.StatOptions{}); err != nil || st.Mode != linux.S_IFCHR|0666 || st.RdevMajor != 5 || st.RdevMinor != 0 {
		t.Errorf("tty: mode %#o rdev %d:%d (%v)", st.Mode, st.RdevMajor, st.RdevMinor, err)
	}
	if got, _ := e.vfs.ReadlinkAt(e.ctx, e.creds, e.pop("/dev/stdout")); got != "/proc/self/fd/1" {
		t.Errorf("stdout -> %q", got)
	}
	if st, _ := e.vfs.StatAt(e.ctx, e.creds, e.pop("/dev/shm"), vfs.StatOptions{}); st.Mode != linux.S_IFDIR|01777 {
		t.Errorf("shm mode %#o", st.Mode)
	}
}

func TestMemDevices(t *testing.T) {
	e := newEnv(t)
	buf := bytes.Repeat([]byte{0xff}, 100)

	null := e.open(t, "/dev/null", linux.O_RDWR)
	if n, err := null.Read(e.ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{}); n != 0 || err != nil {
		t.Errorf("null read: %d %v", n, err)
	}
	if n, err := null.Write(e.ctx, vfs.BytesIOSequence(buf), vfs.WriteOptions{}); n != 100 || err != nil {
		t.Errorf("null write: %d %v", n, err)
	}
	if off, err := null.Seek(e.ctx, 55, linux.SEEK_SET); off != 0 || err != nil {
		t.Errorf("null seek: %d %v", off, err)
	}
	null.DecRef(e.ctx)

	zero := e.open(t, "/dev/zero", linux.O_RDWR)
	if n, _ := zero.Read(e.ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{}); n != 100 || !bytes.Equal(buf, make([]byte, 100)) {
		t.Errorf("zero read: %d %v", n, buf[:4])
	}
	big := make([]byte, 200<<10)
	big[len(big)-1] = 1
	if n, _ := zero.Read(e.ctx, vfs.BytesIOSequence(big), vfs.ReadOptions{}); n != int64(len(big)) || big[len(big)-1] != 0 {
		t.Errorf("large zero read: %d", n)
	}
	zero.DecRef(e.ctx)

	full := e.open(t, "/dev/full", linux.O_RDWR)
	if _, err := full.Write(e.ctx, vfs.BytesIOSequence(buf), vfs.WriteOptions{}); !errors.Is(err, linux.ENOSPC) {
		t.Errorf("full write: %v", err)
	}
	buf[0] = 9
	if n, _ := full.Read(e.ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{}); n != 100 || buf[0] != 0 {
		t.Error("full read is not zeros")
	}
	full.DecRef(e.ctx)

	ur := e.open(t, "/dev/urandom", linux.O_RDONLY)
	a, b := make([]byte, 32), make([]byte, 32)
	ur.Read(e.ctx, vfs.BytesIOSequence(a), vfs.ReadOptions{})
	ur.Read(e.ctx, vfs.BytesIOSequence(b), vfs.ReadOptions{})
	if bytes.Equal(a, b) || bytes.Equal(a, make([]byte, 32)) {
		t.Error("urandom is not random")
	}
	ur.DecRef(e.ctx)
}

// A node mknod'd on an ordinary tmpfs opens the same registered device;
// a nodev mount refuses it.
func TestMknodOpensSameDevice(t *testing.T) {
	e := newEnv(t)
	if err := e.vfs.MknodAt(e.ctx, e.creds, e.pop("/mynull"), vfs.CreateOptions{Mode: linux.S_IFCHR | 0666, DevMajor: 1, DevMinor: 7}); err != nil {
		t.Fatal(err)
	}
	fd := e.open(t, "/mynull", linux.O_WRONLY)
	if _, err := fd.Write(e.ctx, vfs.BytesIOSequence([]byte("x")), vfs.WriteOptions{}); !errors.Is(err, linux.ENOSPC) {
		t.Errorf("mknod'd full: %v", err)
	}
	fd.DecRef(e.ctx)
	e.vfs.MkdirAt(e.ctx, e.creds, e.pop("/nodev"), 0755)
	if _, err := e.vfs.MountAt(e.ctx, e.creds, "", e.pop("/nodev"), dev.Name, &vfs.MountOptions{Flags: linux.MS_NODEV}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vfs.OpenAt(e.ctx, e.creds, e.pop("/nodev/null"), &vfs.OpenOptions{Flags: linux.O_RDONLY}); !errors.Is(err, linux.EACCES) {
		t.Errorf("open on nodev: %v", err)
	}
	if err := dev.RegisterDevices(e.vfs); !errors.Is(err, linux.EEXIST) {
		t.Errorf("double registration: %v", err)
	}
}

// /dev/tty opened outside any task (so without a controlling terminal)
// fails as Linux's does for a process that has none. Opens by tasks are
// covered by test/syscalls/linux/dev_tty.c.
func TestTTYWithoutTask(t *testing.T) {
	e := newEnv(t)
	if _, err := e.vfs.OpenAt(e.ctx, e.creds, e.pop("/dev/tty"), &vfs.OpenOptions{Flags: linux.O_RDWR}); !errors.Is(err, linux.ENXIO) {
		t.Errorf("open /dev/tty: %v, want ENXIO", err)
	}
}
