package overlay_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/gofer"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	goferserver "appkernel.dev/appkernel/runsc/gofer"
)

// newGoferEnv serves the host directory dir read-only through a real
// gofer server and puts an overlay over it, as `runsc do` does with the
// host's root.
func newGoferEnv(t *testing.T, dir string) (*env, *pgalloc.MemoryFile) {
	t.Helper()
	g, err := goferserver.New([]goferserver.Export{{Name: "/", HostPath: dir, ReadOnly: true}})
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
	fd, err := unix.Dup(int(cf.Fd()))
	cf.Close()
	if err != nil {
		t.Fatal(err)
	}
	mf, err := pgalloc.New(pgalloc.Options{Name: "overlay-test", MaxSize: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mf.Destroy)
	v := vfs.New()
	if err := v.RegisterFilesystemType(gofer.FilesystemType{MemoryFile: mf}, nil); err != nil {
		t.Fatal(err)
	}
	creds := auth.NewUserCredentials(auth.KUID(os.Getuid()), auth.KGID(os.Getgid()), nil, auth.NewRootUserNamespace())
	creds.PermittedCaps, creds.EffectiveCaps = auth.AllCapabilities, auth.AllCapabilities
	ctx := auth.ContextWithCredentials(context.Background(), creds)
	ns, err := v.NewMountNamespace(ctx, creds, "", gofer.Name, &vfs.MountOptions{
		GetFilesystemOptions: vfs.GetFilesystemOptions{Data: fmt.Sprintf("fd=%d,ro", fd)},
		InternalMount:        true,
		Flags:                linux.MS_RDONLY,
	})
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	lower := &tree{t: t, ctx: ctx, vfs: v, creds: creds, root: ns.Root()}
	t.Cleanup(func() {
		gofer.Release(lower.root.Mount().Filesystem())
		if err := <-done; err != nil {
			t.Errorf("gofer Serve: %v", err)
		}
	})
	return newOverlayEnv(t, lower), mf
}

// hostSnapshot describes every file under dir: type, mode, size, mtime
// and contents or link target.
func hostSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("%o %d:%d size=%d mtime=%d.%d", st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " data=" + string(b)
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " target=" + target
		}
		out[strings.TrimPrefix(p, dir)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGoferLowerNeverChanges(t *testing.T) {
	dir := t.TempDir()
	for p, data := range map[string]string{
		"etc/hosts": hosts, "etc/passwd": "root:x:0:0\n", "bin/tool": "#!tool",
		"var/log/a": "log a", "var/log/b": "log b", "var/empty/.keep": "",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(data), 0644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "bin/tool"), 0755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hosts", filepath.Join(dir, "hostlink")); err != nil {
		t.Fatal(err)
	}
	before := hostSnapshot(t, dir)
	e, _ := newGoferEnv(t, dir)

	// The lower mount itself refuses writes.
	_, err := e.lower.open("/etc/hosts", linux.O_WRONLY, 0)
	wantErr(t, "write to the lower mount", err, linux.EROFS)

	if got := e.mustRead("/hostlink"); got != hosts {
		t.Errorf("read through symlink %q", got)
	}
	// Writes of every kind through the overlay.
	fd := e.mustOpen("/etc/hosts", linux.O_WRONLY|linux.O_APPEND, 0)
	e.write(fd, "10.0.0.1 other\n")
	fd.DecRef(e.ctx)
	e.writeFile("/etc/passwd", "changed", 0)
	e.writeFile("/etc/new", "new", 0600)
	e.mkdir("/var/log/sub", 0755)
	e.writeFile("/var/log/sub/c", "log c", 0644)
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/var/log/a")); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("/var/log/b"), e.pop("/etc/b"), 0); err != nil {
		t.Fatal(err)
	}
	if err := e.setStat("/bin/tool", vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0700}); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.LinkAt(e.ctx, e.creds, e.pop("/bin/tool"), e.pop("/bin/tool2")); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "rename lower dir", e.vfs.RenameAt(e.ctx, e.creds, e.pop("/var/log"), e.pop("/var/log2"), 0), linux.EXDEV)
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/var/empty/.keep")); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/var/empty")); err != nil {
		t.Fatal(err)
	}
	e.mkdir("/var/empty", 0700)
	if err := e.setStat("/etc", vfs.SetStatOptions{Mask: linux.STATX_ATIME | linux.STATX_MTIME, Atime: linux.Timespec{Sec: 1}, Mtime: linux.Timespec{Sec: 2}}); err != nil {
		t.Fatal(err)
	}

	// The overlay shows the changes.
	for p, want := range map[string]string{
		"/etc/hosts": hosts + "10.0.0.1 other\n", "/etc/passwd": "changed", "/etc/new": "new",
		"/var/log/sub/c": "log c", "/etc/b": "log b", "/bin/tool2": "#!tool",
	} {
		if got := e.mustRead(p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if got := e.list("/var/log"); !sameSet(got, []string{"sub"}) {
		t.Errorf("/var/log lists %v", got)
	}
	if got := e.list("/var/empty"); len(got) != 0 {
		t.Errorf("/var/empty lists %v", got)
	}
	if st := e.lstat("/bin/tool"); st.Mode != linux.S_IFREG|0700 || st.Nlink != 2 {
		t.Errorf("/bin/tool mode %#o nlink %d", st.Mode, st.Nlink)
	}
	var hst unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "etc/hosts"), &hst); err != nil {
		t.Fatal(err)
	}
	if st := e.lstat("/etc/hosts"); st.Ino != hst.Ino {
		t.Errorf("copied-up file ino %d, host ino %d", st.Ino, hst.Ino)
	}

	// And the host saw none of it.
	after := hostSnapshot(t, dir)
	for p, b := range before {
		if a, ok := after[p]; !ok {
			t.Errorf("host lost %s", p)
		} else if a != b {
			t.Errorf("host %s changed:\n  before %s\n  after  %s", p, b, a)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("host gained %s", p)
		}
	}
}

func TestGoferLowerMMap(t *testing.T) {
	dir := t.TempDir()
	data := strings.Repeat("L", memmap.PageSize) + "tail"
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte(data), 0644); err != nil {
		t.Fatal(err)
	}
	e, mf := newGoferEnv(t, dir)
	fd := e.mustOpen("/f", linux.O_RDONLY, 0)
	defer fd.DecRef(e.ctx)
	o := &mm.MMapOpts{Length: 2 * memmap.PageSize, Private: true, Perms: platform.Read, MaxPerms: platform.AnyAccess}
	if err := fd.ConfigureMMap(e.ctx, o); err != nil {
		t.Fatal(err)
	}
	if o.Mappable == nil {
		t.Fatal("no Mappable")
	}
	ar := memmap.AddrRange{Start: 0x10000, End: 0x10000 + 2*memmap.PageSize}
	ms := nopSpace{}
	if err := o.Mappable.AddMapping(ms, ar, 0, false); err != nil {
		t.Fatal(err)
	}
	defer o.Mappable.RemoveMapping(ms, ar, 0, false)
	pages := make([]uint64, 2)
	n, err := o.Mappable.GetPages(0, pages, false)
	if n != 2 || err != nil {
		t.Fatalf("GetPages = %d, %v", n, err)
	}
	got := bytes.Clone(mf.Slice(pgalloc.Range{Start: pages[1], End: pages[1] + memmap.PageSize})[:4])
	for _, p := range pages {
		mf.DecRef(pgalloc.Range{Start: p, End: p + memmap.PageSize})
	}
	if string(got) != "tail" {
		t.Errorf("mapped second page starts %q", got)
	}
	// A writable description is of the upper copy: whatever it maps, it
	// is not the lower file.
	wfd := e.mustOpen("/f", linux.O_RDWR, 0)
	defer wfd.DecRef(e.ctx)
	wo := &mm.MMapOpts{Length: memmap.PageSize, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess}
	if err := wfd.ConfigureMMap(e.ctx, wo); err == nil && wo.Mappable == o.Mappable {
		t.Errorf("writable description maps the lower file")
	}
}

type nopSpace struct{}

func (nopSpace) Invalidate(memmap.AddrRange) {}
