package gofer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/gofer"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	goferserver "appkernel.dev/appkernel/runsc/gofer"
)

// fileMountEnv is a root directory export with file exports mounted over
// files in it, as the boot code mounts an OCI bundle's file bind mounts.
type fileMountEnv struct {
	*env
	client *lisafs.Client
}

func newFileMountEnv(t *testing.T, exports ...goferserver.Export) *fileMountEnv {
	t.Helper()
	dir := t.TempDir()
	g, err := goferserver.New(append([]goferserver.Export{{Name: "/", HostPath: dir}}, exports...))
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
	client, err := lisafs.NewClient(cf)
	if err != nil {
		t.Fatal(err)
	}
	creds := auth.NewUserCredentials(auth.KUID(os.Getuid()), auth.KGID(os.Getgid()), nil, auth.NewRootUserNamespace())
	creds.PermittedCaps, creds.EffectiveCaps = auth.AllCapabilities, auth.AllCapabilities
	e := &env{t: t, vfs: vfs.New(), host: dir, creds: creds}
	e.ctx = auth.ContextWithCredentials(context.Background(), creds)
	if err := e.vfs.RegisterFilesystemType(gofer.FilesystemType{}, nil); err != nil {
		t.Fatal(err)
	}
	fs, root, err := gofer.NewFilesystem(e.ctx, e.vfs, gofer.Options{Client: client, OwnsClient: true, Export: "/"})
	if err != nil {
		t.Fatal(err)
	}
	e.mntns = e.vfs.NewMountNamespaceWithRoot(creds, fs, root, 0)
	e.root = e.mntns.Root()
	t.Cleanup(func() {
		gofer.Release(fs)
		if err := <-done; err != nil {
			t.Errorf("gofer Serve: %v", err)
		}
	})
	return &fileMountEnv{env: e, client: client}
}

// mount mounts export at path with the mount flags.
func (e *fileMountEnv) mount(export, path string, flags uint32) error {
	fs, root, err := gofer.NewFilesystem(e.ctx, e.vfs, gofer.Options{Client: e.client, Export: export, ReadOnly: flags&linux.MS_RDONLY != 0})
	if err != nil {
		return err
	}
	return e.vfs.MountDisconnectedAt(e.ctx, e.creds, e.vfs.NewDisconnectedMount(fs, root, flags), e.pop(path))
}

func TestFileBindMount(t *testing.T) {
	files := t.TempDir()
	hosts, secret := filepath.Join(files, "hosts"), filepath.Join(files, "secret")
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644)
	os.WriteFile(secret, []byte("s3cret\n"), 0o644)
	e := newFileMountEnv(t,
		goferserver.Export{Name: "/etc/hosts", HostPath: hosts},
		goferserver.Export{Name: "/secret", HostPath: secret, ReadOnly: true},
		goferserver.Export{Name: "/dir", HostPath: files})
	os.Mkdir(e.hostPath("etc"), 0o755)
	e.hostWrite("etc/hosts", "image's hosts\n")
	e.hostWrite("secret", "")
	os.Mkdir(e.hostPath("d"), 0o755)

	if err := e.mount("/etc/hosts", "/etc/hosts", 0); err != nil {
		t.Fatalf("mounting a file export over a file: %v", err)
	}
	if err := e.mount("/secret", "/secret", linux.MS_RDONLY); err != nil {
		t.Fatalf("mounting a read-only file export: %v", err)
	}
	wantErr(t, "file export over a directory", e.mount("/etc/hosts", "/d", 0), linux.ENOTDIR)
	wantErr(t, "directory export over a file", e.mount("/dir", "/etc/hosts", 0), linux.ENOTDIR)

	if got := e.mustRead("/etc/hosts"); got != "127.0.0.1 localhost\n" {
		t.Fatalf("/etc/hosts reads %q, want the export's contents", got)
	}
	// Writes reach the host file, not the file mounted over.
	fd := e.mustOpen("/etc/hosts", linux.O_WRONLY|linux.O_APPEND, 0)
	e.write(fd, "10.0.0.2 c1\n")
	fd.DecRef(e.ctx)
	if got := readHost(t, hosts); got != "127.0.0.1 localhost\n10.0.0.2 c1\n" {
		t.Fatalf("host file after an append: %q", got)
	}
	if got := e.hostRead("etc/hosts"); got != "image's hosts\n" {
		t.Fatalf("the file under the mount changed: %q", got)
	}
	// The engine rewrites the file in place; a stat and an open see it.
	os.WriteFile(hosts, []byte("rewritten by the engine\n"), 0o644)
	if st := e.stat("/etc/hosts", true); st.Size != 24 {
		t.Fatalf("size after a host rewrite = %d, want 24", st.Size)
	}
	if got := e.mustRead("/etc/hosts"); got != "rewritten by the engine\n" {
		t.Fatalf("read after a host rewrite: %q", got)
	}

	// Read-only: the export and the mount both refuse writes.
	if got := e.mustRead("/secret"); got != "s3cret\n" {
		t.Fatalf("/secret reads %q", got)
	}
	_, err := e.open("/secret", linux.O_RDWR, 0)
	wantErr(t, "write-open of a read-only file mount", err, linux.EROFS)
	_, err = e.open("/secret", linux.O_WRONLY|linux.O_TRUNC, 0)
	wantErr(t, "truncating open of a read-only file mount", err, linux.EROFS)
	if got := readHost(t, secret); got != "s3cret\n" {
		t.Fatalf("read-only host file changed: %q", got)
	}

	// A mount point cannot be removed or renamed over.
	wantErr(t, "unlink of a file mount point", e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/etc/hosts")), linux.EBUSY)
	if st := e.stat("/etc", true); st.Mode&linux.S_IFMT != linux.S_IFDIR {
		t.Fatalf("/etc mode %#o", st.Mode)
	}
	// Nothing is below a file mount.
	_, err = e.open("/etc/hosts/x", linux.O_RDONLY, 0)
	wantErr(t, "walk below a file mount", err, linux.ENOTDIR)
}

func readHost(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
