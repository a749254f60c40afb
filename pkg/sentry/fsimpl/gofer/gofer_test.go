package gofer_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWalkAndSymlinks(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	mkdirs(t, dir+"/a/b/c")
	for p, s := range map[string]string{
		dir + "/a/b/c/file": "deep",
		dir + "/top":        "inside",
		outside + "/secret": "host secret",
	} {
		if err := os.WriteFile(p, []byte(s), 0644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"rel":     "a/b",
		"abs":     "/a/b/c/file",
		"dotdot":  "../../../../../../../../top",
		"hostabs": outside + "/secret",
		"chain":   "rel/c/../c/file",
		"a/b/up":  "../../top",
	} {
		if err := os.Symlink(target, dir+"/"+link); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t, dir, envOpts{})
	for path, want := range map[string]string{
		"/a/b/c/file":     "deep",
		"a/b/c/../c/file": "deep",
		"rel/c/file":      "deep",
		"abs":             "deep",
		"chain":           "deep",
		"a/b/up":          "inside",
		// ".." from the export root stays at the sandbox root.
		"dotdot":            "inside",
		"/../../a/b/c/file": "deep",
	} {
		if got, err := e.readFile(path); err != nil || got != want {
			t.Errorf("read %q = %q, %v; want %q", path, got, err, want)
		}
	}
	// An absolute host path means nothing inside the sandbox.
	_, err := e.readFile("hostabs")
	wantErr(t, "open symlink to a host path", err, linux.ENOENT)
	// Without following, the link itself.
	if st := e.stat("abs", false); st.Mode&linux.S_IFMT != linux.S_IFLNK || st.Size != uint64(len("/a/b/c/file")) {
		t.Errorf("lstat abs: mode %#o size %d", st.Mode, st.Size)
	}
	target, err := e.vfs.ReadlinkAt(e.ctx, e.creds, e.lpop("dotdot"))
	if err != nil || target != "../../../../../../../../top" {
		t.Errorf("readlink = %q, %v", target, err)
	}
	_, err = e.open("a/b/c/file/x", linux.O_RDONLY, 0)
	wantErr(t, "walk through a file", err, linux.ENOTDIR)
	_, err = e.open("a/nope/c", linux.O_RDONLY, 0)
	wantErr(t, "walk through a missing dir", err, linux.ENOENT)
	_, err = e.open("abs", linux.O_RDONLY|linux.O_NOFOLLOW, 0)
	wantErr(t, "O_NOFOLLOW on a symlink", err, linux.ELOOP)
}

func TestReadHostFile(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	big := make([]byte, 300<<10+123)
	rand.New(rand.NewSource(1)).Read(big)
	if err := os.WriteFile(e.hostPath("big"), big, 0644); err != nil {
		t.Fatal(err)
	}
	e.hostWrite("small", "hello, world\n")
	if got := e.mustRead("small"); got != "hello, world\n" {
		t.Errorf("small = %q", got)
	}
	if got := e.mustRead("big"); got != string(big) {
		t.Errorf("big file differs (len %d, want %d)", len(got), len(big))
	}
	fd := e.mustOpen("big", linux.O_RDONLY, 0)
	defer fd.DecRef(e.ctx)
	buf := make([]byte, 10)
	n, err := fd.PRead(e.ctx, vfs.BytesIOSequence(buf), 200000, vfs.ReadOptions{})
	if err != nil || n != 10 || !bytes.Equal(buf, big[200000:200010]) {
		t.Errorf("pread = %d, %v", n, err)
	}
	n, err = fd.PRead(e.ctx, vfs.BytesIOSequence(buf), int64(len(big)), vfs.ReadOptions{})
	if err != nil || n != 0 {
		t.Errorf("pread at EOF = %d, %v", n, err)
	}
	_, err = fd.Write(e.ctx, vfs.BytesIOSequence(buf), vfs.WriteOptions{})
	wantErr(t, "write to a read-only fd", err, linux.EBADF)
}

func TestWriteReadBack(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	e.hostWrite("f", "0123456789")
	fd := e.mustOpen("f", linux.O_RDWR, 0)
	defer fd.DecRef(e.ctx)
	if _, err := fd.Seek(e.ctx, 3, linux.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	e.write(fd, "abc")
	buf := make([]byte, 20)
	n, err := fd.PRead(e.ctx, vfs.BytesIOSequence(buf), 0, vfs.ReadOptions{})
	if err != nil || string(buf[:n]) != "012abc6789" {
		t.Errorf("read back %q, %v", buf[:n], err)
	}
	if got := e.hostRead("f"); got != "012abc6789" {
		t.Errorf("host sees %q", got)
	}
	// Writing past the end grows the file, on the host and in stat.
	if _, err := fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("XY")), 20, vfs.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := e.stat("f", true); st.Size != 22 {
		t.Errorf("size after extending write = %d", st.Size)
	}
	if got := e.hostRead("f"); got != "012abc6789\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00XY" {
		t.Errorf("host sees %q", got)
	}
	// A second description shares the data.
	fd2 := e.mustOpen("f", linux.O_RDONLY, 0)
	defer fd2.DecRef(e.ctx)
	if s, err := readAll(e.ctx, fd2); err != nil || len(s) != 22 || s[20:] != "XY" {
		t.Errorf("second fd reads %q, %v", s, err)
	}
	if err := fd.Sync(e.ctx); err != nil {
		t.Errorf("fsync: %v", err)
	}
}

func TestCreateMkdirUnlinkRename(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	fd := e.mustOpen("new", linux.O_WRONLY|linux.O_CREAT|linux.O_EXCL, 0640)
	e.write(fd, "created")
	fd.DecRef(e.ctx)
	if got := e.hostRead("new"); got != "created" {
		t.Errorf("host sees %q", got)
	}
	if fi, err := os.Stat(e.hostPath("new")); err != nil || fi.Mode().Perm() != 0640 {
		t.Errorf("host mode %v, %v", fi.Mode(), err)
	}
	_, err := e.open("new", linux.O_WRONLY|linux.O_CREAT|linux.O_EXCL, 0640)
	wantErr(t, "O_EXCL on an existing file", err, linux.EEXIST)

	if err := e.vfs.MkdirAt(e.ctx, e.creds, e.pop("d"), 0750); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(e.hostPath("d")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0750 {
		t.Errorf("host dir %v, %v", fi, err)
	}
	if err := e.vfs.SymlinkAt(e.ctx, e.creds, e.pop("d/sl"), "../new"); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(e.hostPath("d/sl")); err != nil || target != "../new" {
		t.Errorf("host link %q, %v", target, err)
	}
	if got := e.mustRead("d/sl"); got != "created" {
		t.Errorf("through new symlink: %q", got)
	}
	if err := e.vfs.MknodAt(e.ctx, e.creds, e.pop("d/fifo"), vfs.CreateOptions{Mode: linux.S_IFIFO | 0600}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(e.hostPath("d/fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("host fifo %v, %v", fi, err)
	}
	err = e.vfs.MknodAt(e.ctx, e.creds, e.pop("d/dev"), vfs.CreateOptions{Mode: linux.S_IFCHR | 0600, DevMajor: 1, DevMinor: 3})
	wantErr(t, "mknod of a device node", err, linux.EPERM)

	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("new"), e.pop("d/moved"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.hostPath("new")); !os.IsNotExist(err) {
		t.Errorf("old name still on host: %v", err)
	}
	if got := e.hostRead("d/moved"); got != "created" {
		t.Errorf("host renamed file %q", got)
	}
	if got := e.mustRead("d/moved"); got != "created" {
		t.Errorf("renamed file reads %q", got)
	}
	_, err = e.readFile("new")
	wantErr(t, "old name after rename", err, linux.ENOENT)

	// Rename a directory to another parent: ".." must follow.
	if err := e.vfs.MkdirAt(e.ctx, e.creds, e.pop("d2"), 0755); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("d"), e.pop("d2/d"), 0); err != nil {
		t.Fatal(err)
	}
	if got := e.mustRead("d2/d/../d/moved"); got != "created" {
		t.Errorf("after dir rename: %q", got)
	}
	e.hostWrite("d2/x", "x")
	err = e.vfs.RmdirAt(e.ctx, e.creds, e.pop("d2"))
	wantErr(t, "rmdir of a non-empty dir", err, linux.ENOTEMPTY)

	for _, p := range []string{"d2/d/moved", "d2/d/sl", "d2/d/fifo"} {
		if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop(p)); err != nil {
			t.Fatalf("unlink %s: %v", p, err)
		}
	}
	if err := e.vfs.RmdirAt(e.ctx, e.creds, e.pop("d2/d")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.hostPath("d2/d")); !os.IsNotExist(err) {
		t.Errorf("removed dir still on host: %v", err)
	}
	// A name the sandbox removed can be made again.
	if err := e.vfs.MkdirAt(e.ctx, e.creds, e.pop("d2/d"), 0700); err != nil {
		t.Errorf("mkdir again: %v", err)
	}
}

func TestNegativeLookupCache(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	_, err := e.readFile("later")
	wantErr(t, "missing file", err, linux.ENOENT)
	// Made behind the sandbox's back: the documented cache policy keeps
	// the miss.
	e.hostWrite("later", "x")
	_, err = e.readFile("later")
	wantErr(t, "cached miss", err, linux.ENOENT)
	// Creating it finds out: the host refuses, and the stale entry goes.
	_, err = e.open("later", linux.O_WRONLY|linux.O_CREAT, 0644)
	wantErr(t, "create over a stale miss", err, linux.EEXIST)
	if got, err := e.readFile("later"); err != nil || got != "x" {
		t.Errorf("after the failed create: %q, %v", got, err)
	}
	// Made and removed through the sandbox: seen at once.
	fd := e.mustOpen("mine", linux.O_WRONLY|linux.O_CREAT, 0644)
	fd.DecRef(e.ctx)
	if _, err := e.readFile("mine"); err != nil {
		t.Errorf("after create: %v", err)
	}
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("mine")); err != nil {
		t.Fatal(err)
	}
	_, err = e.readFile("mine")
	wantErr(t, "after unlink", err, linux.ENOENT)
}

func TestReadOnlyExport(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir+"/d")
	if err := os.WriteFile(dir+"/f", []byte("ro"), 0644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, dir, envOpts{readOnly: true})
	if got := e.mustRead("f"); got != "ro" {
		t.Errorf("read = %q", got)
	}
	_, err := e.open("f", linux.O_WRONLY, 0)
	wantErr(t, "open for writing", err, linux.EROFS)
	_, err = e.open("f", linux.O_RDWR, 0)
	wantErr(t, "open read-write", err, linux.EROFS)
	_, err = e.open("f", linux.O_RDONLY|linux.O_TRUNC, 0)
	wantErr(t, "O_TRUNC", err, linux.EROFS)
	_, err = e.open("g", linux.O_WRONLY|linux.O_CREAT, 0644)
	wantErr(t, "create", err, linux.EROFS)
	wantErr(t, "mkdir", e.vfs.MkdirAt(e.ctx, e.creds, e.pop("d2"), 0755), linux.EROFS)
	wantErr(t, "symlink", e.vfs.SymlinkAt(e.ctx, e.creds, e.pop("sl"), "f"), linux.EROFS)
	wantErr(t, "link", e.vfs.LinkAt(e.ctx, e.creds, e.pop("f"), e.pop("f2")), linux.EROFS)
	wantErr(t, "unlink", e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("f")), linux.EROFS)
	wantErr(t, "rmdir", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("d")), linux.EROFS)
	wantErr(t, "rename", e.vfs.RenameAt(e.ctx, e.creds, e.pop("f"), e.pop("f3"), 0), linux.EROFS)
	wantErr(t, "chmod", e.vfs.SetStatAt(e.ctx, e.creds, e.pop("f"), vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0600}), linux.EROFS)
	wantErr(t, "truncate", e.vfs.SetStatAt(e.ctx, e.creds, e.pop("f"), vfs.SetStatOptions{Mask: linux.STATX_SIZE}), linux.EROFS)
	if got := e.hostRead("f"); got != "ro" {
		t.Errorf("host file changed: %q", got)
	}
	if _, err := os.Stat(dir + "/g"); !os.IsNotExist(err) {
		t.Errorf("file created on a read-only export: %v", err)
	}
	st, err := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/"))
	if err != nil || st.Type != linux.V9FS_MAGIC || st.BlockSize == 0 || st.NameLength == 0 {
		t.Errorf("statfs = %+v, %v", st, err)
	}
}

func dirNames(t *testing.T, e *env, fd *vfs.FileDescription) []string {
	t.Helper()
	var out []string
	if err := fd.IterDirents(e.ctx, func(d vfs.Dirent) error {
		out = append(out, d.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// errFull stops an iteration the way a full getdents buffer does.
type errFull struct{}

func (errFull) Error() string { return "buffer full" }

func TestGetdents(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	mkdirs(t, e.hostPath("big"), e.hostPath("big/sub"))
	want := []string{".", "..", "sub"}
	// Enough long names for several Getdents64 batches.
	for i := range 1500 {
		name := fmt.Sprintf("%s-%04d", strings.Repeat("n", 40), i)
		e.hostWrite("big/"+name, "")
		want = append(want, name)
	}
	sort.Strings(want)
	fd := e.mustOpen("big", linux.O_RDONLY|linux.O_DIRECTORY, 0)
	defer fd.DecRef(e.ctx)
	got := dirNames(t, e, fd)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("listing has %d names, want %d", len(got), len(want))
	}

	// Small "buffers": each call takes 7 entries; the cursor must neither
	// repeat nor skip.
	if _, err := fd.Seek(e.ctx, 0, linux.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	var pieces []string
	var offs []int64
	for {
		n := 0
		err := fd.IterDirents(e.ctx, func(d vfs.Dirent) error {
			if n == 7 {
				return errFull{}
			}
			n++
			pieces = append(pieces, d.Name)
			offs = append(offs, d.NextOff)
			return nil
		})
		if err != nil && err != (errFull{}) {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	sort.Strings(pieces)
	if !slices.Equal(pieces, want) {
		t.Fatalf("piecewise listing has %d names, want %d", len(pieces), len(want))
	}
	// An offset handed out earlier resumes at the same place, even after
	// the directory changed (telldir/seekdir).
	mid := offs[500]
	if _, err := fd.Seek(e.ctx, mid, linux.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	first := dirNames(t, e, fd)
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("big/"+want[3])); err != nil {
		t.Fatal(err)
	}
	if _, err := fd.Seek(e.ctx, mid, linux.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	second := dirNames(t, e, fd)
	second = append(second, want[3])
	if !slices.Contains(first, want[3]) {
		second = second[:len(second)-1]
	}
	sort.Strings(first)
	sort.Strings(second)
	if !slices.Equal(first, second) {
		t.Errorf("resumed listing changed: %d vs %d names", len(first), len(second))
	}

	// An empty directory has only "." and "..", with their inode numbers.
	efd := e.mustOpen("big/sub", linux.O_RDONLY|linux.O_DIRECTORY, 0)
	defer efd.DecRef(e.ctx)
	var ents []vfs.Dirent
	efd.IterDirents(e.ctx, func(d vfs.Dirent) error { ents = append(ents, d); return nil })
	var hs, hp unix.Stat_t
	unix.Stat(e.hostPath("big/sub"), &hs)
	unix.Stat(e.hostPath("big"), &hp)
	if len(ents) != 2 || ents[0].Name != "." || ents[0].Ino != hs.Ino || ents[1].Name != ".." || ents[1].Ino != hp.Ino {
		t.Errorf("empty dir lists %+v", ents)
	}
	// Reading a directory is EISDIR.
	_, err := efd.Read(e.ctx, vfs.BytesIOSequence(make([]byte, 8)), vfs.ReadOptions{})
	wantErr(t, "read of a directory", err, linux.EISDIR)
}

func TestStatMatchesHost(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	mkdirs(t, e.hostPath("d/e"))
	e.hostWrite("d/f", "twelve bytes")
	if err := os.Symlink("f", e.hostPath("d/l")); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	if err := os.Chtimes(e.hostPath("d/f"), old, old); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"d", "d/e", "d/f", "d/l"} {
		var h unix.Stat_t
		if err := unix.Lstat(e.hostPath(p), &h); err != nil {
			t.Fatal(err)
		}
		st := e.stat(p, false)
		if uint32(st.Mode) != h.Mode || st.Size != uint64(h.Size) || st.Nlink != uint32(h.Nlink) ||
			st.UID != h.Uid || st.GID != h.Gid || st.Ino != h.Ino ||
			st.Mtime.Sec != h.Mtim.Sec || int64(st.Mtime.Nsec) != h.Mtim.Nsec || st.Blocks != uint64(h.Blocks) {
			t.Errorf("%s: sandbox %+v\nhost %+v", p, st, h)
		}
	}
	// Changes made through the sandbox show in later stats.
	if err := e.vfs.SetStatAt(e.ctx, e.creds, e.pop("d/f"), vfs.SetStatOptions{
		Mask: linux.STATX_MODE | linux.STATX_MTIME | linux.STATX_ATIME,
		Mode: 0600, Mtime: linux.Timespec{Sec: 1000, Nsec: 5}, Atime: linux.Timespec{Sec: 2000},
	}); err != nil {
		t.Fatal(err)
	}
	var h unix.Stat_t
	unix.Stat(e.hostPath("d/f"), &h)
	if h.Mode&0777 != 0600 || h.Mtim.Sec != 1000 || h.Mtim.Nsec != 5 || h.Atim.Sec != 2000 {
		t.Errorf("host after setstat: mode %#o mtime %v atime %v", h.Mode, h.Mtim, h.Atim)
	}
	st := e.stat("d/f", true)
	if st.Mode&0777 != 0600 || st.Mtime.Sec != 1000 || st.Ctime.Sec != h.Ctim.Sec || st.Ctime.Nsec != uint32(h.Ctim.Nsec) {
		t.Errorf("sandbox after setstat: %+v", st)
	}
	// A subdirectory created through the sandbox bumps the parent's link
	// count, as on the host.
	if err := e.vfs.MkdirAt(e.ctx, e.creds, e.pop("d/new"), 0755); err != nil {
		t.Fatal(err)
	}
	unix.Stat(e.hostPath("d"), &h)
	if st := e.stat("d", true); st.Nlink != uint32(h.Nlink) || st.Mtime.Nsec != uint32(h.Mtim.Nsec) {
		t.Errorf("parent after mkdir: nlink %d mtime %v; host %d %v", st.Nlink, st.Mtime, h.Nlink, h.Mtim)
	}
	// A change behind the sandbox's back shows only when forced.
	if err := os.Chmod(e.hostPath("d/f"), 0604); err != nil {
		t.Fatal(err)
	}
	if st := e.stat("d/f", true); st.Mode&0777 != 0600 {
		t.Errorf("cached mode %#o", st.Mode)
	}
	forced, err := e.vfs.StatAt(e.ctx, e.creds, e.pop("d/f"), vfs.StatOptions{Mask: linux.STATX_MODE, Sync: linux.AT_STATX_FORCE_SYNC})
	if err != nil || forced.Mode&0777 != 0604 {
		t.Errorf("AT_STATX_FORCE_SYNC: mode %#o, %v", forced.Mode, err)
	}
	fd := e.mustOpen("d/f", linux.O_RDONLY, 0)
	defer fd.DecRef(e.ctx)
	if fst, err := fd.Stat(e.ctx, vfs.StatOptions{Mask: linux.STATX_BASIC_STATS}); err != nil || fst.Ino != st.Ino || fst.Size != 12 {
		t.Errorf("fstat = %+v, %v", fst, err)
	}
}

func TestAppend(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	e.hostWrite("log", "abc")
	a := e.mustOpen("log", linux.O_WRONLY|linux.O_APPEND, 0)
	defer a.DecRef(e.ctx)
	w := e.mustOpen("log", linux.O_WRONLY, 0)
	defer w.DecRef(e.ctx)
	e.write(a, "def")
	e.write(w, "X") // at offset 0
	e.write(a, "ghi")
	if n, err := a.PWrite(e.ctx, vfs.BytesIOSequence([]byte("jk")), 0, vfs.WriteOptions{}); err != nil || n != 2 {
		t.Fatalf("pwrite on O_APPEND: %d, %v", n, err)
	}
	if got := e.hostRead("log"); got != "Xbcdefghijk" {
		t.Errorf("host sees %q", got)
	}
	if off := a.Offset(); off != 9 {
		t.Errorf("append fd offset = %d, want 9", off)
	}
	if st := e.stat("log", true); st.Size != 11 {
		t.Errorf("size = %d", st.Size)
	}
}

func TestTruncate(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	e.hostWrite("f", "0123456789")
	fd := e.mustOpen("f", linux.O_RDWR, 0)
	defer fd.DecRef(e.ctx)
	if err := fd.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 4}); err != nil {
		t.Fatal(err)
	}
	if got := e.hostRead("f"); got != "0123" {
		t.Errorf("host after ftruncate: %q", got)
	}
	if st := e.stat("f", true); st.Size != 4 {
		t.Errorf("size after ftruncate = %d", st.Size)
	}
	// Appends go to the new end.
	a := e.mustOpen("f", linux.O_WRONLY|linux.O_APPEND, 0)
	e.write(a, "Z")
	a.DecRef(e.ctx)
	if got := e.hostRead("f"); got != "0123Z" {
		t.Errorf("host after append: %q", got)
	}
	// Growing leaves zeros.
	if err := e.vfs.SetStatAt(e.ctx, e.creds, e.pop("f"), vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 8}); err != nil {
		t.Fatal(err)
	}
	if got := e.mustRead("f"); got != "0123Z\x00\x00\x00" {
		t.Errorf("after growing: %q", got)
	}
	// O_TRUNC empties it.
	tr := e.mustOpen("f", linux.O_WRONLY|linux.O_TRUNC, 0)
	tr.DecRef(e.ctx)
	if got := e.hostRead("f"); got != "" {
		t.Errorf("host after O_TRUNC: %q", got)
	}
	if st := e.stat("f", true); st.Size != 0 {
		t.Errorf("size after O_TRUNC = %d", st.Size)
	}
	err := fd.Allocate(e.ctx, 0, 0, 100)
	wantErr(t, "fallocate", err, nil)
	if st := e.stat("f", true); st.Size != 100 {
		t.Errorf("size after fallocate = %d", st.Size)
	}
}

func TestHardLinks(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	e.hostWrite("a", "shared")
	// Linked on the host before the sandbox looked: one inode.
	if err := os.Link(e.hostPath("a"), e.hostPath("hostlink")); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.LinkAt(e.ctx, e.creds, e.pop("a"), e.pop("b")); err != nil {
		t.Fatal(err)
	}
	var ha, hb unix.Stat_t
	unix.Stat(e.hostPath("a"), &ha)
	unix.Stat(e.hostPath("b"), &hb)
	if ha.Ino != hb.Ino || ha.Nlink != 3 {
		t.Errorf("host: ino %d/%d nlink %d", ha.Ino, hb.Ino, ha.Nlink)
	}
	fd := e.mustOpen("b", linux.O_WRONLY|linux.O_APPEND, 0)
	e.write(fd, "+more")
	fd.DecRef(e.ctx)
	for _, p := range []string{"a", "b", "hostlink"} {
		if got := e.mustRead(p); got != "shared+more" {
			t.Errorf("%s reads %q", p, got)
		}
		if st := e.stat(p, true); st.Nlink != 3 || st.Size != 11 || st.Ino != ha.Ino {
			t.Errorf("%s: nlink %d size %d ino %d", p, st.Nlink, st.Size, st.Ino)
		}
	}
	// The cached size is shared: an append through one name lands after
	// data written through the other.
	f1 := e.mustOpen("hostlink", linux.O_WRONLY|linux.O_APPEND, 0)
	e.write(f1, "1")
	f1.DecRef(e.ctx)
	f2 := e.mustOpen("a", linux.O_WRONLY|linux.O_APPEND, 0)
	e.write(f2, "2")
	f2.DecRef(e.ctx)
	if got := e.hostRead("b"); got != "shared+more12" {
		t.Errorf("host sees %q", got)
	}
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("a")); err != nil {
		t.Fatal(err)
	}
	if st := e.stat("b", true); st.Nlink != 2 {
		t.Errorf("nlink after unlink = %d", st.Nlink)
	}
}

func TestFIFO(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	if err := unix.Mkfifo(e.hostPath("fifo"), 0600); err != nil {
		t.Fatal(err)
	}
	r := e.mustOpen("fifo", linux.O_RDONLY|linux.O_NONBLOCK, 0)
	defer r.DecRef(e.ctx)
	w := e.mustOpen("fifo", linux.O_WRONLY, 0)
	defer w.DecRef(e.ctx)
	e.write(w, "through the sentry")
	buf := make([]byte, 64)
	n, err := r.Read(e.ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{})
	if err != nil || string(buf[:n]) != "through the sentry" {
		t.Errorf("fifo read %q, %v", buf[:n], err)
	}
	if !r.IsStream() {
		t.Error("fifo has an offset")
	}
}

// testDevice is a Sentry driver for a device number no host uses.
type testDevice struct{ opened chan struct{} }

type testDeviceFD struct {
	vfs.FileDescriptionDefaultImpl
}

func (d *testDevice) Open(_ context.Context, vd vfs.VirtualDentry, opts vfs.OpenOptions) (*vfs.FileDescription, error) {
	close(d.opened)
	fd := &vfs.FileDescription{}
	fd.Init(&testDeviceFD{}, opts.Flags, vd, nil)
	return fd, nil
}

func TestDeviceNodeOpensSentryDriver(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	const major, minor = 250, 77
	if err := unix.Mknod(e.hostPath("dev"), unix.S_IFCHR|0666, int(unix.Mkdev(major, minor))); err != nil {
		t.Skipf("mknod needs CAP_MKNOD: %v", err)
	}
	if err := unix.Mknod(e.hostPath("nodrv"), unix.S_IFCHR|0666, int(unix.Mkdev(major, minor+1))); err != nil {
		t.Fatal(err)
	}
	d := &testDevice{opened: make(chan struct{})}
	if err := e.vfs.RegisterDevice(vfs.CharDevice, major, minor, d); err != nil {
		t.Fatal(err)
	}
	fd := e.mustOpen("dev", linux.O_RDWR, 0)
	defer fd.DecRef(e.ctx)
	if _, ok := fd.Impl().(*testDeviceFD); !ok {
		t.Errorf("device node opened %T, not the Sentry driver", fd.Impl())
	}
	_, err := e.open("nodrv", linux.O_RDONLY, 0)
	wantErr(t, "device without a driver", err, linux.ENXIO)
	st := e.stat("dev", true)
	if st.RdevMajor != major || st.RdevMinor != minor || st.Mode&linux.S_IFMT != linux.S_IFCHR {
		t.Errorf("stat = %+v", st)
	}
}

func TestSocketFileNotOpenable(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	if err := e.vfs.MknodAt(e.ctx, e.creds, e.pop("sock"), vfs.CreateOptions{Mode: linux.S_IFSOCK | 0600}); err != nil {
		t.Fatal(err)
	}
	_, err := e.open("sock", linux.O_RDONLY, 0)
	wantErr(t, "open of a socket file", err, linux.ENXIO)
}

func TestDirectoryNesting(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	p := ""
	for i := range 20 {
		p = filepath.Join(p, "n"+string(rune('a'+i)))
		if err := e.vfs.MkdirAt(e.ctx, e.creds, e.pop(p), 0755); err != nil {
			t.Fatal(err)
		}
	}
	fd := e.mustOpen(p+"/leaf", linux.O_CREAT|linux.O_WRONLY, 0644)
	e.write(fd, "leaf")
	fd.DecRef(e.ctx)
	if got := e.hostRead(p + "/leaf"); got != "leaf" {
		t.Errorf("host leaf %q", got)
	}
	up := strings.Repeat("../", 20)
	if got := e.mustRead(p + "/" + up + "na/nb/nc/nd/ne/nf/ng/nh/ni/nj/nk/nl/nm/nn/no/np/nq/nr/ns/nt/leaf"); got != "leaf" {
		t.Errorf("via dotdot: %q", got)
	}
}
