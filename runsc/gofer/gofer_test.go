package gofer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
)

type fixture struct {
	t    testing.TB
	g    *Gofer
	srv  *lisafs.Server
	c    *lisafs.Client
	root lisafs.FDID
	dir  string
}

// serve starts a gofer for exports and returns a connected client.
func serve(t testing.TB, exports ...Export) *fixture {
	t.Helper()
	g, err := New(exports)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, g: g, srv: lisafs.NewServer(g, 8)}
	t.Cleanup(g.Close)
	f.c = f.connect()
	return f
}

func (f *fixture) connect() *lisafs.Client {
	f.t.Helper()
	cf, sf, err := lisafs.Socketpair()
	if err != nil {
		f.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(sf) }()
	c, err := lisafs.NewClient(cf)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		c.Close()
		if err := <-done; err != nil {
			f.t.Errorf("Serve: %v", err)
		}
	})
	return c
}

// newRoot serves a fresh temp directory as the root export.
func newRoot(t testing.TB, readOnly bool) *fixture {
	dir := t.TempDir()
	f := serve(t, Export{Name: RootExport, HostPath: dir, ReadOnly: readOnly})
	f.dir = dir
	root, ro, err := f.c.Mount(RootExport)
	if err != nil || ro != readOnly {
		t.Fatalf("Mount: ro=%v err=%v", ro, err)
	}
	f.root = root.FD
	return f
}

func (f *fixture) write(rel, data string) {
	f.t.Helper()
	p := filepath.Join(f.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// walk walks names and requires every component to be reached.
func (f *fixture) walk(names ...string) lisafs.Inode {
	f.t.Helper()
	w, err := f.c.Walk(f.root, names)
	if err != nil || w.Status != lisafs.WalkComplete || len(w.Inodes) != len(names) {
		f.t.Fatalf("Walk(%q): %+v %v", names, w, err)
	}
	return w.Inodes[len(names)-1]
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

func readAll(t testing.TB, fd int) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			t.Fatalf("read donated fd: %v", err)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

func TestWalkAndStat(t *testing.T) {
	f := newRoot(t, false)
	f.write("a/b/c", "hello")
	os.Symlink("c", filepath.Join(f.dir, "a/b/link"))

	w, err := f.c.Walk(f.root, []string{"a", "b", "c"})
	if err != nil || w.Status != lisafs.WalkComplete || len(w.Inodes) != 3 {
		t.Fatalf("Walk: %+v %v", w, err)
	}
	var host unix.Stat_t
	unix.Lstat(filepath.Join(f.dir, "a/b/c"), &host)
	st := w.Inodes[2].Stat
	if st.Ino != host.Ino || st.Size != 5 || st.Mode != host.Mode || st.Nlink != 1 ||
		st.Mtime.Sec != host.Mtim.Sec || uint64(st.Mtime.Nsec) != uint64(host.Mtim.Nsec) ||
		st.Mask&linux.STATX_BASIC_STATS != linux.STATX_BASIC_STATS {
		t.Fatalf("stat %+v, host %+v", st, host)
	}
	if !w.Inodes[0].Stat.IsDir() || !w.Inodes[1].Stat.IsDir() {
		t.Fatalf("a, b not directories")
	}
	if got, err := f.c.Stat(w.Inodes[2].FD); err != nil || got.Ino != host.Ino {
		t.Fatalf("Stat: %+v %v", got, err)
	}
	if sx := st.Statx(); sx.Ino != host.Ino || sx.Size != 5 {
		t.Fatalf("Statx: %+v", sx)
	}

	// Missing entries stop the walk with what was reached so far.
	w, err = f.c.Walk(f.root, []string{"a", "nope", "x"})
	if err != nil || w.Status != lisafs.WalkNotFound || len(w.Inodes) != 1 || w.Errno != uint16(linux.ENOENT) {
		t.Fatalf("Walk missing: %+v %v", w, err)
	}
	// Walking through a file.
	w, err = f.c.Walk(f.root, []string{"a", "b", "c", "d"})
	if err != nil || w.Status != lisafs.WalkError || w.Errno != uint16(linux.ENOTDIR) || len(w.Inodes) != 3 {
		t.Fatalf("Walk through file: %+v %v", w, err)
	}
	// A symlink in the middle stops the walk; at the end it is returned.
	w, err = f.c.Walk(f.root, []string{"a", "b", "link", "x"})
	if err != nil || w.Status != lisafs.WalkSymlink || len(w.Inodes) != 3 || !w.Inodes[2].Stat.IsSymlink() {
		t.Fatalf("Walk into symlink: %+v %v", w, err)
	}
	w, err = f.c.Walk(f.root, []string{"a", "b", "link"})
	if err != nil || w.Status != lisafs.WalkComplete || !w.Inodes[2].Stat.IsSymlink() {
		t.Fatalf("Walk to symlink: %+v %v", w, err)
	}
	if target, err := f.c.Readlink(w.Inodes[2].FD); err != nil || target != "c" {
		t.Fatalf("Readlink: %q %v", target, err)
	}
	if _, err := f.c.Readlink(w.Inodes[1].FD); !errors.Is(err, linux.EINVAL) {
		t.Fatalf("Readlink of a directory: %v", err)
	}

	// WalkStat: stats without handles; no names stats the start.
	ws, err := f.c.WalkStat(f.root, []string{"a", "b", "c"})
	if err != nil || ws.Status != lisafs.WalkComplete || len(ws.Stats) != 3 || ws.Stats[2].Ino != host.Ino {
		t.Fatalf("WalkStat: %+v %v", ws, err)
	}
	ws, err = f.c.WalkStat(f.root, nil)
	if err != nil || len(ws.Stats) != 1 || !ws.Stats[0].IsDir() {
		t.Fatalf("WalkStat(nil): %+v %v", ws, err)
	}
	ws, err = f.c.WalkStat(f.root, []string{"a", "zz"})
	if err != nil || ws.Status != lisafs.WalkNotFound || len(ws.Stats) != 1 {
		t.Fatalf("WalkStat missing: %+v %v", ws, err)
	}

	// Closing releases handles; a closed handle is EBADF.
	if err := f.c.CloseFDs(w.Inodes[0].FD, w.Inodes[1].FD); err != nil {
		t.Fatal(err)
	}
	_, err = f.c.Stat(w.Inodes[0].FD)
	wantErr(t, "Stat after Close", err, linux.EBADF)
	wantErr(t, "Close twice", f.c.CloseFDs(w.Inodes[0].FD), linux.EBADF)
	_, _, err = f.c.Mount("/not-exported")
	wantErr(t, "Mount unknown", err, linux.ENOENT)
}

func TestOpenRead(t *testing.T) {
	f := newRoot(t, false)
	f.write("f", "contents")
	node := f.walk("f")
	id, hostFD, err := f.c.Open(node.FD, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, hostFD); got != "contents" {
		t.Fatalf("read %q", got)
	}
	if _, err := unix.Write(hostFD, []byte("x")); err != unix.EBADF {
		t.Fatalf("write to O_RDONLY donated fd: %v", err)
	}
	unix.Close(hostFD)
	if err := f.c.Fsync(id, node.FD); err != nil {
		t.Fatalf("Fsync: %v", err)
	}
	if err := f.c.Flush(id); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	wantErr(t, "Flush of a node", f.c.Flush(node.FD), linux.EBADF)
	// Handles from Open are not nodes.
	_, _, err = f.c.Open(id, unix.O_RDONLY)
	wantErr(t, "Open of an open handle", err, linux.EBADF)

	// Write through a donated O_RDWR|O_TRUNC descriptor.
	_, hostFD, err = f.c.Open(node.FD, unix.O_RDWR|unix.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(hostFD, []byte("new"))
	unix.Close(hostFD)
	if b, _ := os.ReadFile(filepath.Join(f.dir, "f")); string(b) != "new" {
		t.Fatalf("host sees %q", b)
	}

	// A directory opens too; the donated descriptor lists it.
	_, hostFD, err = f.c.Open(f.root, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if n, err := unix.Getdents(hostFD, buf); err != nil || n == 0 {
		t.Fatalf("getdents on donated dir fd: %d %v", n, err)
	}
	unix.Close(hostFD)

	_, _, err = f.c.Open(node.FD, unix.O_RDONLY|unix.O_DIRECTORY)
	wantErr(t, "O_DIRECTORY on a file", err, linux.ENOTDIR)
	_, _, err = f.c.Open(node.FD, unix.O_RDONLY|unix.O_CREAT)
	wantErr(t, "O_CREAT in Open", err, linux.EINVAL)
	_, _, err = f.c.Open(node.FD, unix.O_PATH)
	wantErr(t, "O_PATH in Open", err, linux.EINVAL)
	_, _, err = f.c.Open(f.root, unix.O_RDWR)
	wantErr(t, "write-open of a directory", err, linux.EISDIR)
}

func TestCreateOps(t *testing.T) {
	f := newRoot(t, false)
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())

	node, openID, hostFD, err := f.c.OpenCreate(f.root, "new", unix.O_RDWR, 0o640, lisafs.NoID, lisafs.NoID)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(hostFD, []byte("abc"))
	unix.Close(hostFD)
	if b, _ := os.ReadFile(filepath.Join(f.dir, "new")); string(b) != "abc" {
		t.Fatalf("created file holds %q", b)
	}
	if node.Stat.Mode&0o777 != 0o640&^uint32(umask()) || node.Stat.FileType() != linux.S_IFREG {
		t.Fatalf("created mode %o", node.Stat.Mode)
	}
	f.c.CloseFDs(openID)
	_, _, _, err = f.c.OpenCreate(f.root, "new", unix.O_RDWR, 0o640, lisafs.NoID, lisafs.NoID)
	wantErr(t, "OpenCreate existing", err, linux.EEXIST)

	dir, err := f.c.Mkdir(f.root, "d", 0o750, uid, gid)
	if err != nil || !dir.Stat.IsDir() || dir.Stat.UID != uid {
		t.Fatalf("Mkdir: %+v %v", dir, err)
	}
	_, err = f.c.Mkdir(f.root, "d", 0o750, lisafs.NoID, lisafs.NoID)
	wantErr(t, "Mkdir existing", err, linux.EEXIST)

	sl, err := f.c.Symlink(dir.FD, "sl", "../new", lisafs.NoID, lisafs.NoID)
	if err != nil || !sl.Stat.IsSymlink() {
		t.Fatalf("Symlink: %+v %v", sl, err)
	}
	if target, err := f.c.Readlink(sl.FD); err != nil || target != "../new" {
		t.Fatalf("Readlink: %q %v", target, err)
	}

	hl, err := f.c.Link(dir.FD, "hard", node.FD)
	if err != nil || hl.Stat.Ino != node.Stat.Ino || hl.Stat.Nlink != 2 {
		t.Fatalf("Link: %+v %v", hl, err)
	}
	_, err = f.c.Link(f.root, "dirlink", dir.FD)
	wantErr(t, "Link of a directory", err, linux.EPERM)

	fifo, err := f.c.Mknod(f.root, "fifo", linux.S_IFIFO|0o600, lisafs.NoID, lisafs.NoID)
	if err != nil || fifo.Stat.FileType() != linux.S_IFIFO {
		t.Fatalf("Mknod fifo: %+v %v", fifo, err)
	}
	sock, err := f.c.Mknod(f.root, "sock", linux.S_IFSOCK|0o600, lisafs.NoID, lisafs.NoID)
	if err != nil || sock.Stat.FileType() != linux.S_IFSOCK {
		t.Fatalf("Mknod socket: %+v %v", sock, err)
	}
	reg, err := f.c.Mknod(f.root, "reg", 0o600, lisafs.NoID, lisafs.NoID)
	if err != nil || reg.Stat.FileType() != linux.S_IFREG {
		t.Fatalf("Mknod regular: %+v %v", reg, err)
	}
	_, err = f.c.Mknod(f.root, "dev", linux.S_IFCHR|0o600, lisafs.NoID, lisafs.NoID)
	wantErr(t, "Mknod char device", err, linux.EPERM)
	_, err = f.c.Mknod(f.root, "blk", linux.S_IFBLK|0o600, lisafs.NoID, lisafs.NoID)
	wantErr(t, "Mknod block device", err, linux.EPERM)
	_, _, err = f.c.Open(fifo.FD, unix.O_RDONLY|unix.O_NONBLOCK)
	wantErr(t, "Open FIFO", err, linux.EACCES)
	_, _, err = f.c.Open(sock.FD, unix.O_RDONLY)
	wantErr(t, "Open socket", err, linux.ENXIO)
	_, _, err = f.c.Open(sl.FD, unix.O_RDONLY)
	wantErr(t, "Open symlink", err, linux.ELOOP)

	// Rename, with its flags.
	if err := f.c.Rename(f.root, "reg", dir.FD, "moved", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "d/moved")); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RENAME_NOREPLACE", f.c.Rename(f.root, "new", dir.FD, "moved", unix.RENAME_NOREPLACE), linux.EEXIST)
	if err := f.c.Rename(f.root, "new", dir.FD, "moved", unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "d/moved")); string(b) != "abc" {
		t.Fatalf("after exchange d/moved holds %q", b)
	}
	wantErr(t, "Rename bad flags", f.c.Rename(f.root, "new", dir.FD, "x", unix.RENAME_WHITEOUT), linux.EINVAL)
	// The node handle follows its file across renames.
	if st, err := f.c.Stat(node.FD); err != nil || st.Size != 3 {
		t.Fatalf("Stat of renamed file: %+v %v", st, err)
	}

	// Unlink.
	wantErr(t, "rmdir non-empty", f.c.Unlink(f.root, "d", unix.AT_REMOVEDIR), linux.ENOTEMPTY)
	wantErr(t, "unlink a directory", f.c.Unlink(f.root, "d", 0), linux.EISDIR)
	for _, n := range []string{"moved", "hard", "sl"} {
		if err := f.c.Unlink(dir.FD, n, 0); err != nil {
			t.Fatalf("unlink %s: %v", n, err)
		}
	}
	if err := f.c.Unlink(f.root, "d", unix.AT_REMOVEDIR); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "unlink missing", f.c.Unlink(f.root, "d", 0), linux.ENOENT)
	wantErr(t, "unlink bad flags", f.c.Unlink(f.root, "new", 0x1), linux.EINVAL)
	// Operations on the removed directory's handle fail like Linux.
	_, err = f.c.Mkdir(dir.FD, "x", 0o700, lisafs.NoID, lisafs.NoID)
	wantErr(t, "mkdir in removed dir", err, linux.ENOENT)
	// Create-ops need a directory handle.
	_, err = f.c.Mkdir(node.FD, "x", 0o700, lisafs.NoID, lisafs.NoID)
	wantErr(t, "mkdir in a file", err, linux.ENOTDIR)
}

func umask() int {
	m := unix.Umask(0)
	unix.Umask(m)
	return m
}

func TestGetdents(t *testing.T) {
	f := newRoot(t, false)
	const n = 1000
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("file-%04d-%s", i, bytes.Repeat([]byte{'x'}, i%50))
		f.write(want[i], "")
	}
	os.Mkdir(filepath.Join(f.dir, "sub"), 0o755)
	want = append(want, "sub")
	sort.Strings(want)

	list := func(count uint32) ([]lisafs.Dirent, int) {
		var all []lisafs.Dirent
		var cookie uint64
		batches := 0
		for {
			des, err := f.c.Getdents64(f.root, cookie, count)
			if err != nil {
				t.Fatalf("Getdents64: %v", err)
			}
			if len(des) == 0 {
				return all, batches
			}
			batches++
			all = append(all, des...)
			cookie = des[len(des)-1].Off
		}
	}
	first, batches := list(4096)
	if batches < 5 {
		t.Fatalf("1000 entries came in %d batches of 4096 bytes", batches)
	}
	var names []string
	for _, de := range first {
		names = append(names, de.Name)
		if de.Name == "." || de.Name == ".." {
			t.Fatalf("%q returned", de.Name)
		}
		wantType := uint8(linux.DT_REG)
		if de.Name == "sub" {
			wantType = linux.DT_DIR
		}
		if de.Type != wantType || de.Ino == 0 {
			t.Fatalf("entry %+v", de)
		}
	}
	sort.Strings(names)
	if len(names) != len(want) {
		t.Fatalf("got %d entries, want %d", len(names), len(want))
	}
	for i := range names {
		if names[i] != want[i] {
			t.Fatalf("entry %d: %q, want %q", i, names[i], want[i])
		}
	}
	// Stable: another listing with another batch size gives the same order,
	// and resuming from the middle gives the same tail.
	second, _ := list(lisafs.MaxMessageSize)
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("order differs at %d: %+v vs %+v", i, first[i], second[i])
		}
	}
	mid := first[499].Off
	var tail []lisafs.Dirent
	for cookie := mid; ; {
		des, err := f.c.Getdents64(f.root, cookie, 8192)
		if err != nil {
			t.Fatal(err)
		}
		if len(des) == 0 {
			break
		}
		tail = append(tail, des...)
		cookie = des[len(des)-1].Off
	}
	if len(tail) != len(first)-500 || tail[0] != first[500] {
		t.Fatalf("resume from cookie: %d entries, first %+v, want %+v", len(tail), tail[0], first[500])
	}

	node := f.walk(want[0])
	_, err := f.c.Getdents64(node.FD, 0, 4096)
	wantErr(t, "Getdents64 on a file", err, linux.ENOTDIR)
	// An empty directory ends at once.
	sub := f.walk("sub")
	if des, err := f.c.Getdents64(sub.FD, 0, 4096); err != nil || len(des) != 0 {
		t.Fatalf("empty dir: %v %v", des, err)
	}
}

func TestSetStatAndStatFS(t *testing.T) {
	f := newRoot(t, false)
	f.write("f", "0123456789")
	node := f.walk("f")
	err := f.c.SetStat(&lisafs.SetStatReq{
		FD:    node.FD,
		Mask:  lisafs.SetStatSize | lisafs.SetStatMode | lisafs.SetStatAtime | lisafs.SetStatMtime,
		Size:  4,
		Mode:  0o600,
		Atime: lisafs.Timestamp{Sec: 1000, Nsec: 5},
		Mtime: lisafs.Timestamp{Sec: 2000, Nsec: 6},
	})
	if err != nil {
		t.Fatal(err)
	}
	var host unix.Stat_t
	unix.Stat(filepath.Join(f.dir, "f"), &host)
	if host.Size != 4 || host.Mode&0o7777 != 0o600 || host.Atim.Sec != 1000 || host.Atim.Nsec != 5 ||
		host.Mtim.Sec != 2000 || host.Mtim.Nsec != 6 {
		t.Fatalf("host after SetStat: size %d mode %o atime %v mtime %v", host.Size, host.Mode, host.Atim, host.Mtim)
	}
	// UTIME_OMIT keeps a time; UTIME_NOW sets the current one.
	err = f.c.SetStat(&lisafs.SetStatReq{
		FD: node.FD, Mask: lisafs.SetStatAtime | lisafs.SetStatMtime,
		Atime: lisafs.Timestamp{Nsec: lisafs.UtimeOmit}, Mtime: lisafs.Timestamp{Nsec: lisafs.UtimeNow},
	})
	if err != nil {
		t.Fatal(err)
	}
	unix.Stat(filepath.Join(f.dir, "f"), &host)
	if host.Atim.Sec != 1000 || host.Mtim.Sec < 1_600_000_000 {
		t.Fatalf("UTIME_OMIT/NOW: atime %v mtime %v", host.Atim, host.Mtim)
	}
	// Owner to ourselves always works; to another uid only as root.
	me := uint32(os.Getuid())
	if err := f.c.SetStat(&lisafs.SetStatReq{FD: node.FD, Mask: lisafs.SetStatUID | lisafs.SetStatGID, UID: me, GID: uint32(os.Getgid())}); err != nil {
		t.Fatal(err)
	}
	if me == 0 {
		if err := f.c.SetStat(&lisafs.SetStatReq{FD: node.FD, Mask: lisafs.SetStatUID, UID: 4321}); err != nil {
			t.Fatal(err)
		}
		if st, _ := f.c.Stat(node.FD); st.UID != 4321 {
			t.Fatalf("uid %d after chown", st.UID)
		}
	}
	// Size on a directory, unknown bits.
	wantErr(t, "truncate a directory", f.c.SetStat(&lisafs.SetStatReq{FD: f.root, Mask: lisafs.SetStatSize}), linux.EISDIR)
	wantErr(t, "unknown mask bits", f.c.SetStat(&lisafs.SetStatReq{FD: f.root, Mask: 1 << 20}), linux.EINVAL)
	// Truncate through an open handle.
	id, hostFD, err := f.c.Open(node.FD, unix.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(hostFD)
	if err := f.c.SetStat(&lisafs.SetStatReq{FD: id, Mask: lisafs.SetStatSize, Size: 1}); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.c.Stat(node.FD); st.Size != 1 {
		t.Fatalf("size %d after truncate via open handle", st.Size)
	}
	// Times on a symlink change the link itself.
	os.Symlink("f", filepath.Join(f.dir, "l"))
	l := f.walk("l")
	if err := f.c.SetStat(&lisafs.SetStatReq{FD: l.FD, Mask: lisafs.SetStatMtime, Mtime: lisafs.Timestamp{Sec: 77}}); err != nil {
		t.Fatal(err)
	}
	unix.Lstat(filepath.Join(f.dir, "l"), &host)
	if host.Mtim.Sec != 77 {
		t.Fatalf("symlink mtime %v", host.Mtim)
	}

	fs, err := f.c.StatFS(f.root)
	if err != nil {
		t.Fatal(err)
	}
	var hs unix.Statfs_t
	unix.Statfs(f.dir, &hs)
	if fs.Type != uint64(hs.Type) || fs.BlockSize != hs.Bsize || fs.Blocks != hs.Blocks || fs.NameLength != uint64(hs.Namelen) {
		t.Fatalf("StatFS %+v, host %+v", fs, hs)
	}
}

func TestReadOnlyExport(t *testing.T) {
	f := newRoot(t, true)
	f.write("f", "data")
	os.Mkdir(filepath.Join(f.dir, "d"), 0o755)
	node := f.walk("f")
	d := f.walk("d")

	_, hostFD, err := f.c.Open(node.FD, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, hostFD); got != "data" {
		t.Fatalf("read %q", got)
	}
	if _, err := unix.Write(hostFD, []byte("x")); err != unix.EBADF {
		t.Fatalf("write through read-only donated fd: %v", err)
	}
	if fl, _ := unix.FcntlInt(uintptr(hostFD), unix.F_GETFL, 0); fl&unix.O_ACCMODE != unix.O_RDONLY {
		t.Fatalf("donated fd flags %#x", fl)
	}
	unix.Close(hostFD)

	for _, fl := range []uint32{unix.O_WRONLY, unix.O_RDWR, unix.O_RDONLY | unix.O_TRUNC} {
		_, _, err := f.c.Open(node.FD, fl)
		wantErr(t, fmt.Sprintf("Open(%#x)", fl), err, linux.EROFS)
	}
	_, _, _, err = f.c.OpenCreate(f.root, "n", unix.O_RDWR, 0o644, lisafs.NoID, lisafs.NoID)
	wantErr(t, "OpenCreate", err, linux.EROFS)
	_, err = f.c.Mkdir(f.root, "n", 0o755, lisafs.NoID, lisafs.NoID)
	wantErr(t, "Mkdir", err, linux.EROFS)
	_, err = f.c.Mknod(f.root, "n", linux.S_IFIFO|0o644, lisafs.NoID, lisafs.NoID)
	wantErr(t, "Mknod", err, linux.EROFS)
	_, err = f.c.Symlink(f.root, "n", "f", lisafs.NoID, lisafs.NoID)
	wantErr(t, "Symlink", err, linux.EROFS)
	_, err = f.c.Link(f.root, "n", node.FD)
	wantErr(t, "Link", err, linux.EROFS)
	wantErr(t, "Unlink", f.c.Unlink(f.root, "f", 0), linux.EROFS)
	wantErr(t, "Rmdir", f.c.Unlink(f.root, "d", unix.AT_REMOVEDIR), linux.EROFS)
	wantErr(t, "Rename", f.c.Rename(f.root, "f", d.FD, "f", 0), linux.EROFS)
	for _, mask := range []uint32{lisafs.SetStatMode, lisafs.SetStatSize, lisafs.SetStatUID, lisafs.SetStatMtime} {
		wantErr(t, fmt.Sprintf("SetStat(%#x)", mask), f.c.SetStat(&lisafs.SetStatReq{FD: node.FD, Mask: mask}), linux.EROFS)
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "f")); string(b) != "data" {
		t.Fatalf("file changed to %q", b)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "d")); err != nil {
		t.Fatalf("d removed: %v", err)
	}
	// Reads still work.
	if _, err := f.c.Getdents64(f.root, 0, 4096); err != nil {
		t.Fatal(err)
	}
}

// TestEscapes tries every way out of the export the protocol could offer.
func TestEscapes(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	inside := filepath.Join(base, "root")
	other := filepath.Join(base, "other")
	for _, d := range []string{outside, inside, other} {
		os.Mkdir(d, 0o755)
	}
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644)
	os.WriteFile(filepath.Join(inside, "f"), []byte("in"), 0o644)
	os.WriteFile(filepath.Join(other, "g"), []byte("other"), 0o644)
	os.Mkdir(filepath.Join(inside, "sub"), 0o755)
	os.Symlink("/", filepath.Join(inside, "toroot"))
	os.Symlink("../../..", filepath.Join(inside, "up"))
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(inside, "abs"))
	os.Symlink("../outside/secret", filepath.Join(inside, "rel"))

	f := serve(t, Export{Name: RootExport, HostPath: inside}, Export{Name: "/mnt", HostPath: other})
	f.dir = inside
	r, _, err := f.c.Mount(RootExport)
	if err != nil {
		t.Fatal(err)
	}
	f.root = r.FD

	// Names that are not one component.
	for _, names := range [][]string{{".."}, {"."}, {""}, {"sub", ".."}, {"sub/.."}, {"../outside"}, {"/etc"}, {"a\x00b"}} {
		_, err := f.c.Walk(f.root, names)
		wantErr(t, fmt.Sprintf("Walk(%q)", names), err, linux.EINVAL)
		_, err = f.c.WalkStat(f.root, names)
		wantErr(t, fmt.Sprintf("WalkStat(%q)", names), err, linux.EINVAL)
	}
	long := string(bytes.Repeat([]byte{'a'}, 256))
	_, err = f.c.Walk(f.root, []string{long})
	wantErr(t, "Walk long name", err, linux.ENAMETOOLONG)
	for _, bad := range []string{"..", "../x", "a/b", ".", ""} {
		_, err := f.c.Mkdir(f.root, bad, 0o755, lisafs.NoID, lisafs.NoID)
		wantErr(t, fmt.Sprintf("Mkdir(%q)", bad), err, linux.EINVAL)
		_, _, _, err = f.c.OpenCreate(f.root, bad, unix.O_RDWR, 0o644, lisafs.NoID, lisafs.NoID)
		wantErr(t, fmt.Sprintf("OpenCreate(%q)", bad), err, linux.EINVAL)
		wantErr(t, fmt.Sprintf("Unlink(%q)", bad), f.c.Unlink(f.root, bad, 0), linux.EINVAL)
		wantErr(t, fmt.Sprintf("Rename to %q", bad), f.c.Rename(f.root, "f", f.root, bad, 0), linux.EINVAL)
		wantErr(t, fmt.Sprintf("Rename from %q", bad), f.c.Rename(f.root, bad, f.root, "x", 0), linux.EINVAL)
	}
	if _, err := os.Stat(filepath.Join(base, "x")); err == nil {
		t.Fatal("something was created outside the root")
	}

	// Symlinks are returned, never followed, wherever they point.
	for _, link := range []string{"toroot", "up", "abs", "rel"} {
		w, err := f.c.Walk(f.root, []string{link, "etc"})
		if err != nil || w.Status != lisafs.WalkSymlink || len(w.Inodes) != 1 || !w.Inodes[0].Stat.IsSymlink() {
			t.Fatalf("Walk(%s/etc): %+v %v", link, w, err)
		}
		ws, err := f.c.WalkStat(f.root, []string{link, "etc"})
		if err != nil || ws.Status != lisafs.WalkSymlink || len(ws.Stats) != 1 || !ws.Stats[0].IsSymlink() {
			t.Fatalf("WalkStat(%s/etc): %+v %v", link, ws, err)
		}
		ln := w.Inodes[0].FD
		_, _, err = f.c.Open(ln, unix.O_RDONLY)
		wantErr(t, "Open "+link, err, linux.ELOOP)
		_, err = f.c.Mkdir(ln, "x", 0o755, lisafs.NoID, lisafs.NoID)
		wantErr(t, "Mkdir under "+link, err, linux.ENOTDIR)
		_, _, _, err = f.c.OpenCreate(ln, "x", unix.O_RDWR, 0o644, lisafs.NoID, lisafs.NoID)
		wantErr(t, "OpenCreate under "+link, err, linux.ENOTDIR)
		_, err = f.c.Getdents64(ln, 0, 4096)
		wantErr(t, "Getdents64 of "+link, err, linux.ENOTDIR)
		// SetStat on the link changes the link, not its target.
		wantErr(t, "truncate via "+link, f.c.SetStat(&lisafs.SetStatReq{FD: ln, Mask: lisafs.SetStatSize}), linux.EINVAL)
		f.c.SetStat(&lisafs.SetStatReq{FD: ln, Mask: lisafs.SetStatMode, Mode: 0o777})
		// Hard-linking the symlink links the symlink (or is refused).
		if hl, err := f.c.Link(f.root, "hl-"+link, ln); err == nil && !hl.Stat.IsSymlink() {
			t.Fatalf("Link of %s linked its target: %+v", link, hl.Stat)
		}
	}
	if st, _ := os.Stat(filepath.Join(outside, "secret")); st.Mode().Perm() != 0o644 {
		t.Fatalf("outside file mode changed to %v", st.Mode())
	}

	// A hard link or rename between exports is refused.
	m, _, err := f.c.Mount("/mnt")
	if err != nil {
		t.Fatal(err)
	}
	g := f.walk("f")
	w, _ := f.c.Walk(m.FD, []string{"g"})
	_, err = f.c.Link(f.root, "stolen", w.Inodes[0].FD)
	wantErr(t, "Link from another export", err, linux.EXDEV)
	_, err = f.c.Link(m.FD, "leaked", g.FD)
	wantErr(t, "Link into another export", err, linux.EXDEV)
	wantErr(t, "Rename out", f.c.Rename(f.root, "f", m.FD, "f", 0), linux.EXDEV)
	wantErr(t, "Rename in", f.c.Rename(m.FD, "g", f.root, "g", 0), linux.EXDEV)

	// Handles are per connection: another client cannot use ours.
	c2 := f.connect()
	_, err = c2.Stat(g.FD)
	wantErr(t, "handle of another connection", err, linux.EBADF)

	// Nothing outside changed.
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Fatalf("outside now holds %v", entries)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
		t.Fatal("secret changed")
	}
}

// TestProcMagicLinks serves /proc itself: its magic links (fd/N, cwd,
// root, exe) lead anywhere, so they must be returned as links and never
// resolved.
func TestProcMagicLinks(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc")
	}
	outside, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	f := serve(t, Export{Name: RootExport, HostPath: "/proc"})
	r, _, err := f.c.Mount(RootExport)
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(os.Getpid())
	for _, names := range [][]string{
		{pid, "fd", strconv.Itoa(int(outside.Fd())), "x"},
		{pid, "root", "etc"},
		{pid, "cwd", "x"},
		{"self", "fd"},
		{"thread-self", "fd"},
	} {
		w, err := f.c.Walk(r.FD, names)
		if err != nil || w.Status != lisafs.WalkSymlink || !w.Inodes[len(w.Inodes)-1].Stat.IsSymlink() {
			t.Fatalf("Walk(%q): %+v %v", names, w, err)
		}
		ws, err := f.c.WalkStat(r.FD, names)
		if err != nil || ws.Status != lisafs.WalkSymlink || len(ws.Stats) != len(w.Inodes) || !ws.Stats[len(ws.Stats)-1].IsSymlink() {
			t.Fatalf("WalkStat(%q): %+v %v", names, ws, err)
		}
		last := w.Inodes[len(w.Inodes)-1].FD
		_, _, err = f.c.Open(last, unix.O_RDONLY)
		wantErr(t, fmt.Sprintf("Open(%q)", names), err, linux.ELOOP)
		_, err = f.c.Getdents64(last, 0, 4096)
		wantErr(t, fmt.Sprintf("Getdents64(%q)", names), err, linux.ENOTDIR)
	}
	w, err := f.c.Walk(r.FD, []string{pid, "exe"})
	if err != nil || w.Status != lisafs.WalkComplete || !w.Inodes[1].Stat.IsSymlink() {
		t.Fatalf("Walk exe: %+v %v", w, err)
	}
	_, _, err = f.c.Open(w.Inodes[1].FD, unix.O_RDONLY)
	wantErr(t, "Open exe", err, linux.ELOOP)
}

// TestDeviceNodesNotOpened checks that a device node inside an export
// (as a container image may carry) is never opened on the host.
func TestDeviceNodesNotOpened(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("making a device node needs root")
	}
	f := newRoot(t, false)
	if err := unix.Mknod(filepath.Join(f.dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod: %v", err)
	}
	n := f.walk("null")
	_, _, err := f.c.Open(n.FD, unix.O_RDWR)
	wantErr(t, "Open char device", err, linux.EACCES)
}

func TestConcurrentClients(t *testing.T) {
	f := newRoot(t, false)
	for i := 0; i < 20; i++ {
		f.write(fmt.Sprintf("d/f%d", i), strconv.Itoa(i))
	}
	clients := []*lisafs.Client{f.c, f.connect(), f.connect()}
	var wg sync.WaitGroup
	for ci, c := range clients {
		root, _, err := c.Mount(RootExport)
		if err != nil {
			t.Fatal(err)
		}
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for it := 0; it < 100; it++ {
					i := (it + g) % 20
					w, err := c.Walk(root.FD, []string{"d", fmt.Sprintf("f%d", i)})
					if err != nil || w.Status != lisafs.WalkComplete {
						t.Errorf("client %d: Walk: %+v %v", ci, w, err)
						return
					}
					id, hostFD, err := c.Open(w.Inodes[1].FD, unix.O_RDONLY)
					if err != nil {
						t.Errorf("Open: %v", err)
						return
					}
					buf := make([]byte, 16)
					n, _ := unix.Pread(hostFD, buf, 0)
					unix.Close(hostFD)
					if string(buf[:n]) != strconv.Itoa(i) {
						t.Errorf("read %q, want %d", buf[:n], i)
					}
					// Mutations from many goroutines too.
					name := fmt.Sprintf("c%d-g%d-%d", ci, g, it)
					if _, err := c.Mkdir(w.Inodes[0].FD, name, 0o755, lisafs.NoID, lisafs.NoID); err != nil {
						t.Errorf("Mkdir: %v", err)
					}
					if err := c.Unlink(w.Inodes[0].FD, name, unix.AT_REMOVEDIR); err != nil {
						t.Errorf("rmdir: %v", err)
					}
					if err := c.CloseFDs(id, w.Inodes[0].FD, w.Inodes[1].FD); err != nil {
						t.Errorf("Close: %v", err)
					}
				}
			}()
		}
	}
	wg.Wait()
}

// TestCloseWhileInUse races Close against requests on the same handle:
// the descriptor must stay open until the last request using it is done.
func TestCloseWhileInUse(t *testing.T) {
	f := newRoot(t, false)
	for i := 0; i < 50; i++ {
		f.write(fmt.Sprintf("f%d", i), "")
	}
	for round := 0; round < 50; round++ {
		d := f.walk(fmt.Sprintf("f%d", round))
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if st, err := f.c.Stat(d.FD); err == nil && st.Ino != d.Stat.Ino {
					t.Errorf("Stat after racing Close saw another file: %+v", st)
				}
			}()
		}
		f.c.CloseFDs(d.FD)
		wg.Wait()
	}
}

func openFDCount(t testing.TB) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

// TestDisconnectReleases drops a client with handles and requests in
// flight: the server must release every descriptor and keep serving
// others.
func TestDisconnectReleases(t *testing.T) {
	f := newRoot(t, false)
	f.write("a/b", "x")
	before := openFDCount(t)
	for round := 0; round < 5; round++ {
		cf, sf, err := lisafs.Socketpair()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- f.srv.Serve(sf) }()
		c, err := lisafs.NewClient(cf)
		if err != nil {
			t.Fatal(err)
		}
		root, _, _ := c.Mount(RootExport)
		for i := 0; i < 20; i++ {
			c.Walk(root.FD, []string{"a", "b"})
		}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := c.Walk(root.FD, []string{"a", "b"}); err != nil {
						return
					}
				}
			}()
		}
		c.Close()
		wg.Wait()
		if err := <-done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
	}
	if after := openFDCount(t); after > before {
		t.Fatalf("descriptors leaked: %d before, %d after", before, after)
	}
	if _, err := f.c.Stat(f.root); err != nil {
		t.Fatalf("existing client broken: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Fatal("New with no exports")
	}
	dir := t.TempDir()
	if _, err := New([]Export{{Name: RootExport, HostPath: filepath.Join(dir, "missing")}}); err == nil {
		t.Fatal("New with a missing directory")
	}
	if _, err := New([]Export{{Name: "rel", HostPath: dir}}); err == nil {
		t.Fatal("New with a relative export name")
	}
	if _, err := New([]Export{{Name: "/", HostPath: dir}, {Name: "/", HostPath: dir}}); err == nil {
		t.Fatal("New with a duplicate export")
	}
}
