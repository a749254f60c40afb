package gofer

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
)

// A file export is served as a root that is the file itself: it opens
// for I/O on the host file, its read-only flag holds, and nothing beside
// it can be reached.
func TestFileExport(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	rw, ro := filepath.Join(dir, "hosts"), filepath.Join(dir, "secret")
	os.WriteFile(rw, []byte("127.0.0.1 localhost\n"), 0o644)
	os.WriteFile(ro, []byte("s3cret"), 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(ro, link)
	f := serve(t,
		Export{Name: RootExport, HostPath: root},
		Export{Name: "/etc/hosts", HostPath: rw},
		Export{Name: "/run/secret", HostPath: ro, ReadOnly: true},
		Export{Name: "/run/link", HostPath: link, ReadOnly: true})

	node, exportRO, err := f.c.Mount("/etc/hosts")
	if err != nil || exportRO {
		t.Fatalf("Mount(/etc/hosts): ro=%v %v", exportRO, err)
	}
	if node.Stat.FileType() != linux.S_IFREG || node.Stat.Size != 20 {
		t.Fatalf("file export root stat = %+v", node.Stat)
	}
	_, hostFD, err := f.c.Open(node.FD, unix.O_WRONLY|unix.O_TRUNC)
	if err != nil {
		t.Fatalf("write-open of a writable file export: %v", err)
	}
	unix.Write(hostFD, []byte("10.0.0.2 c1\n"))
	unix.Close(hostFD)
	if b, _ := os.ReadFile(rw); string(b) != "10.0.0.2 c1\n" {
		t.Fatalf("host file after a write through the export: %q", b)
	}
	// The host changes the file; a new open sees it.
	os.WriteFile(rw, []byte("changed\n"), 0o644)
	_, hostFD, err = f.c.Open(node.FD, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, hostFD); got != "changed\n" {
		t.Fatalf("read after a host change: %q", got)
	}
	unix.Close(hostFD)

	// Nothing is below or beside a file root.
	w, err := f.c.Walk(node.FD, []string{"x"})
	if err != nil || w.Status != lisafs.WalkError || w.Errno != uint16(linux.ENOTDIR) {
		t.Fatalf("Walk below a file root: %+v %v", w, err)
	}
	_, err = f.c.Getdents64(node.FD, 0, 4096)
	wantErr(t, "Getdents64 of a file root", err, linux.ENOTDIR)
	_, err = f.c.Mkdir(node.FD, "d", 0o755, lisafs.NoID, lisafs.NoID)
	wantErr(t, "Mkdir in a file root", err, linux.ENOTDIR)

	sec, exportRO, err := f.c.Mount("/run/secret")
	if err != nil || !exportRO {
		t.Fatalf("Mount(/run/secret): ro=%v %v", exportRO, err)
	}
	_, _, err = f.c.Open(sec.FD, unix.O_RDWR)
	wantErr(t, "write-open of a read-only file export", err, linux.EROFS)
	err = f.c.SetStat(&lisafs.SetStatReq{FD: sec.FD, Mask: lisafs.SetStatSize})
	wantErr(t, "truncate of a read-only file export", err, linux.EROFS)
	if b, _ := os.ReadFile(ro); string(b) != "s3cret" {
		t.Fatalf("read-only host file changed: %q", b)
	}

	// A symlink as the host path is followed, as mount --bind does.
	ln, _, err := f.c.Mount("/run/link")
	if err != nil || ln.Stat.FileType() != linux.S_IFREG || ln.Stat.Ino != sec.Stat.Ino {
		t.Fatalf("Mount of a symlinked file export: %+v %v", ln.Stat, err)
	}
}

func TestRootExportMustBeDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if g, err := New([]Export{{Name: RootExport, HostPath: file}}); err == nil {
		g.Close()
		t.Fatal("New accepted a file as the root export")
	}
}
