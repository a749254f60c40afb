package overlay_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

const hosts = "127.0.0.1 localhost\n"

// populate makes the lower layer most tests use.
func populate(l *tree) {
	l.mkdir("/etc", 0755)
	l.writeFile("/etc/hosts", hosts, 0644)
	l.writeFile("/etc/passwd", "root:x:0:0\n", 0644)
	l.mkdir("/d", 0755)
	for _, n := range []string{"a", "b", "c"} {
		l.writeFile("/d/"+n, n, 0644)
	}
	l.mkdir("/d/sub", 0750)
	l.writeFile("/d/sub/x", "x", 0600)
	l.symlink("/etc/hosts", "/hostlink")
	l.symlink("etc", "/etclink")
	l.mkdir("/empty", 0755)
	// A file owned by someone else, with set-user-ID and old times.
	l.writeFile("/etc/prog", "#!prog", 0644)
	if err := l.setStat("/etc/prog", vfs.SetStatOptions{
		Mask: linux.STATX_UID | linux.STATX_GID, UID: 1000, GID: 100,
	}); err != nil {
		l.t.Fatal(err)
	}
	if err := l.setStat("/etc/prog", vfs.SetStatOptions{
		Mask: linux.STATX_MODE | linux.STATX_ATIME | linux.STATX_MTIME, Mode: 04755,
		Atime: linux.Timespec{Sec: 1000, Nsec: 5}, Mtime: linux.Timespec{Sec: 2000, Nsec: 7},
	}); err != nil {
		l.t.Fatal(err)
	}
}

func TestReadThrough(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	if got := e.mustRead("/etc/hosts"); got != hosts {
		t.Errorf("read = %q", got)
	}
	if got := e.mustRead("/hostlink"); got != hosts {
		t.Errorf("read through symlink = %q", got)
	}
	if got := e.mustRead("/etclink/passwd"); got != "root:x:0:0\n" {
		t.Errorf("read through relative dir symlink = %q", got)
	}
	target, err := e.vfs.ReadlinkAt(e.ctx, e.creds, e.lpop("/hostlink"))
	if err != nil || target != "/etc/hosts" {
		t.Errorf("readlink = %q, %v", target, err)
	}
	ost, lst := e.lstat("/etc/prog"), e.lower.lstat("/etc/prog")
	if ost.Mode != lst.Mode || ost.UID != 1000 || ost.GID != 100 || ost.Size != lst.Size || ost.Mtime != lst.Mtime || ost.Ino != lst.Ino {
		t.Errorf("stat through overlay %+v, lower %+v", ost, lst)
	}
	if ost.DevMinor == lst.DevMinor {
		t.Errorf("overlay reports the lower layer's st_dev")
	}
	if n := e.copyUps(); n != 0 {
		t.Errorf("reading copied up %d files", n)
	}
	if _, err := e.upperLookup("etc"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("upper has etc after reads: %v", err)
	}
}

func TestWriteCopiesUp(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	before := e.lstat("/etc/prog")
	fd := e.mustOpen("/etc/prog", linux.O_WRONLY, 0)
	if n := e.copyUps(); n != 2 {
		t.Errorf("open for write: %d copy-ups, want 2 (etc, prog)", n)
	}
	if st := e.lstat("/etc/prog"); st.Atime.Sec != 1000 || st.Atime.Nsec != 5 || st.Mtime != before.Mtime {
		t.Errorf("times after copy-up: atime %+v mtime %+v, want 1000.5 and %+v", st.Atime, st.Mtime, before.Mtime)
	}
	if _, err := fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("XY")), 2, vfs.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	fd.DecRef(e.ctx)
	if got := e.mustRead("/etc/prog"); got != "#!XYog" {
		t.Errorf("overlay after write = %q", got)
	}
	if got := e.lower.mustRead("/etc/prog"); got != "#!prog" {
		t.Errorf("lower changed: %q", got)
	}
	after := e.lstat("/etc/prog")
	if after.Ino != before.Ino || after.DevMinor != before.DevMinor {
		t.Errorf("identity changed by copy-up: %d/%d -> %d/%d", before.DevMinor, before.Ino, after.DevMinor, after.Ino)
	}
	if after.UID != 1000 || after.GID != 100 {
		t.Errorf("owner after copy-up %d:%d", after.UID, after.GID)
	}
	// Root writing keeps set-user-ID (CAP_FSETID); the copy kept it.
	if after.Mode != linux.S_IFREG|04755 {
		t.Errorf("mode after copy-up %#o", after.Mode)
	}
	if after.Mtime == before.Mtime {
		t.Errorf("mtime not updated by the write")
	}
	// The parent's attributes came along and its times stayed.
	pst, lpst := e.lstat("/etc"), e.lower.lstat("/etc")
	if pst.Mode != lpst.Mode || pst.Mtime != lpst.Mtime || pst.Ino != lpst.Ino {
		t.Errorf("copied-up parent %+v, lower %+v", pst, lpst)
	}
	// Siblings still read through.
	if got := e.mustRead("/etc/hosts"); got != hosts {
		t.Errorf("sibling = %q", got)
	}
	if _, err := e.upperLookup("etc", "hosts"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("sibling copied up: %v", err)
	}
}

func TestCopyUpPreservesMetadata(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	before := e.lstat("/etc/prog")
	// A metadata-only change: the copy keeps everything else.
	if err := e.setStat("/etc/prog", vfs.SetStatOptions{Mask: linux.STATX_ATIME, Atime: linux.Timespec{Sec: 42}}); err != nil {
		t.Fatal(err)
	}
	after := e.lstat("/etc/prog")
	if after.Mtime != before.Mtime || after.Mode != before.Mode || after.UID != before.UID || after.Size != before.Size || after.Ino != before.Ino {
		t.Errorf("copy-up changed attributes: %+v -> %+v", before, after)
	}
	if after.Atime.Sec != 42 {
		t.Errorf("atime %+v", after.Atime)
	}
	if _, err := e.upperLookup("etc", "prog"); err != nil {
		t.Errorf("not copied up: %v", err)
	}
}

func TestAppendAndTruncate(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	fd := e.mustOpen("/d/a", linux.O_WRONLY|linux.O_APPEND, 0)
	e.write(fd, "pp")
	e.write(fd, "le")
	fd.DecRef(e.ctx)
	if got := e.mustRead("/d/a"); got != "apple" {
		t.Errorf("after append %q", got)
	}
	if err := e.setStat("/d/a", vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 3}); err != nil {
		t.Fatal(err)
	}
	if got := e.mustRead("/d/a"); got != "app" {
		t.Errorf("after truncate %q", got)
	}
	// truncate(2) of a lower-only file copies up only what is kept.
	if err := e.setStat("/etc/passwd", vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 4}); err != nil {
		t.Fatal(err)
	}
	if got := e.mustRead("/etc/passwd"); got != "root" {
		t.Errorf("truncated lower file %q", got)
	}
	// Growing leaves zeros.
	if err := e.setStat("/etc/passwd", vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 6}); err != nil {
		t.Fatal(err)
	}
	if got := e.mustRead("/etc/passwd"); got != "root\x00\x00" {
		t.Errorf("grown file %q", got)
	}
	// O_TRUNC of a lower file.
	fd = e.mustOpen("/etc/hosts", linux.O_RDWR|linux.O_TRUNC, 0)
	e.write(fd, "new")
	fd.DecRef(e.ctx)
	if got := e.mustRead("/etc/hosts"); got != "new" {
		t.Errorf("after O_TRUNC %q", got)
	}
	for p, want := range map[string]string{"/d/a": "a", "/etc/passwd": "root:x:0:0\n", "/etc/hosts": hosts} {
		if got := e.lower.mustRead(p); got != want {
			t.Errorf("lower %s changed: %q", p, got)
		}
	}
}

func TestReadOnlyDescriptionFollowsCopyUp(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	rfd := e.mustOpen("/d/b", linux.O_RDONLY, 0)
	defer rfd.DecRef(e.ctx)
	buf := make([]byte, 8)
	if n, err := rfd.PRead(e.ctx, vfs.BytesIOSequence(buf), 0, vfs.ReadOptions{}); err != nil || string(buf[:n]) != "b" {
		t.Fatalf("pread = %q, %v", buf[:n], err)
	}
	e.writeFile("/d/b", "bravo", 0)
	if n, err := rfd.PRead(e.ctx, vfs.BytesIOSequence(buf), 0, vfs.ReadOptions{}); err != nil || string(buf[:n]) != "bravo" {
		t.Errorf("pread after copy-up = %q, %v", buf[:n], err)
	}
	st, err := rfd.Stat(e.ctx, vfs.StatOptions{Mask: linux.STATX_SIZE})
	if err != nil || st.Size != 5 {
		t.Errorf("fstat size %d, %v", st.Size, err)
	}
	if off, err := rfd.Seek(e.ctx, 0, linux.SEEK_END); err != nil || off != 5 {
		t.Errorf("SEEK_END = %d, %v", off, err)
	}
}

func TestUnlinkAndRecreate(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/d/b")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.statErr("/d/b"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("stat after unlink: %v", err)
	}
	if _, err := e.readFile("/d/b"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("open after unlink: %v", err)
	}
	if got := e.lower.mustRead("/d/b"); got != "b" {
		t.Errorf("lower lost the file: %q", got)
	}
	if got, want := e.list("/d"), []string{"a", "c", "sub"}; !sameSet(got, want) {
		t.Errorf("listing %v, want %v", got, want)
	}
	// The whiteout is a 0:0 character device in the upper layer.
	wh, err := e.upperLookup("d", "b")
	if err != nil {
		t.Fatalf("no whiteout: %v", err)
	}
	if st, _ := wh.Stat(e.ctx, vfs.StatOptions{}); wh.Type() != linux.S_IFCHR || st.RdevMajor != 0 || st.RdevMinor != 0 {
		t.Errorf("whiteout is %#o %d:%d", wh.Type(), st.RdevMajor, st.RdevMinor)
	}
	// Unlinking again fails as on any filesystem.
	wantErr(t, "second unlink", e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/d/b")), linux.ENOENT)

	e.writeFile("/d/b", "new b", 0600)
	if got := e.mustRead("/d/b"); got != "new b" {
		t.Errorf("recreated = %q", got)
	}
	if st := e.lstat("/d/b"); st.Mode != linux.S_IFREG|0600 || st.Ino&(1<<63) == 0 {
		t.Errorf("recreated file: mode %#o ino %#x (want an upper-only number)", st.Mode, st.Ino)
	}
	if got, want := e.list("/d"), []string{"a", "b", "c", "sub"}; !sameSet(got, want) {
		t.Errorf("listing %v, want %v", got, want)
	}
	// Unlinking an upper-only file over a lower name leaves a whiteout
	// again; an upper-only file without a lower one leaves nothing.
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/d/b")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.statErr("/d/b"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("stat after second unlink: %v", err)
	}
	e.writeFile("/d/new", "n", 0644)
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/d/new")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.upperLookup("d", "new"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("upper-only unlink left %v", err)
	}
	// A copied-up file unlinked: upper copy gone, whiteout left.
	fd := e.mustOpen("/d/c", linux.O_WRONLY, 0)
	fd.DecRef(e.ctx)
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/d/c")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.statErr("/d/c"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("stat of unlinked copied-up file: %v", err)
	}
}

func TestOpenFileSurvivesUnlink(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	fd := e.mustOpen("/d/a", linux.O_RDONLY, 0)
	defer fd.DecRef(e.ctx)
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/d/a")); err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(e.ctx, fd); err != nil || got != "a" {
		t.Errorf("read of unlinked lower file %q, %v", got, err)
	}
	// Its name is gone, so it cannot be copied up.
	wantErr(t, "fchmod of unlinked lower file", fd.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0600}), linux.ENOENT)
}

func TestMkdirOverWhiteoutIsOpaque(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	wantErr(t, "rmdir non-empty", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/d/sub")), linux.ENOTEMPTY)
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/d/sub/x")); err != nil {
		t.Fatal(err)
	}
	// Empty in the merged view although the lower directory is not and
	// the upper one holds a whiteout.
	if err := e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/d/sub")); err != nil {
		t.Fatalf("rmdir of emptied merged dir: %v", err)
	}
	if _, err := e.statErr("/d/sub"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("stat after rmdir: %v", err)
	}
	if got, want := e.list("/d"), []string{"a", "b", "c"}; !sameSet(got, want) {
		t.Errorf("listing %v, want %v", got, want)
	}
	e.mkdir("/d/sub", 0700)
	if got := e.list("/d/sub"); len(got) != 0 {
		t.Errorf("new dir over whiteout lists %v", got)
	}
	if _, err := e.statErr("/d/sub/x"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("old child visible in opaque dir: %v", err)
	}
	st := e.lstat("/d/sub")
	if st.Mode != linux.S_IFDIR|0700 {
		t.Errorf("new dir mode %#o", st.Mode)
	}
	// The listing numbers it as the new directory, not the hidden one.
	fd := e.mustOpen("/d", linux.O_RDONLY|linux.O_DIRECTORY, 0)
	for _, d := range dirents(t, e.ctx, fd) {
		if d.Name == "sub" && d.Ino != st.Ino {
			t.Errorf("opaque dir: d_ino %d, st_ino %d", d.Ino, st.Ino)
		}
	}
	fd.DecRef(e.ctx)
	e.writeFile("/d/sub/y", "y", 0644)
	if got := e.list("/d/sub"); !sameSet(got, []string{"y"}) {
		t.Errorf("opaque dir lists %v", got)
	}
	if got := e.lower.mustRead("/d/sub/x"); got != "x" {
		t.Errorf("lower child lost: %q", got)
	}
	// Removing a lower-only empty directory, then making it again.
	if err := e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/empty")); err != nil {
		t.Fatal(err)
	}
	e.mkdir("/empty", 0755)
	if got := e.list("/empty"); len(got) != 0 {
		t.Errorf("remade /empty lists %v", got)
	}
}

func TestRmdir(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	wantErr(t, "rmdir merged non-empty", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/d")), linux.ENOTEMPTY)
	// Non-empty because of an upper entry only.
	e.writeFile("/empty/f", "", 0644)
	wantErr(t, "rmdir with upper child", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/empty")), linux.ENOTEMPTY)
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/empty/f")); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/empty")); err != nil {
		t.Fatal(err)
	}
	// An upper-only directory.
	e.mkdir("/new", 0755)
	e.mkdir("/new/inner", 0755)
	wantErr(t, "rmdir upper non-empty", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/new")), linux.ENOTEMPTY)
	if err := e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/new/inner")); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/new")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.upperLookup("new"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("upper-only rmdir left %v", err)
	}
	// Emptying all of /d removes it.
	for _, p := range []string{"/d/a", "/d/b", "/d/c", "/d/sub/x"} {
		if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/d/sub")); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/d")); err != nil {
		t.Fatal(err)
	}
	if got := e.list("/"); slices.Contains(got, "d") || slices.Contains(got, "empty") {
		t.Errorf("root lists %v", got)
	}
	if got := e.lower.list("/d"); !sameSet(got, []string{"a", "b", "c", "sub"}) {
		t.Errorf("lower /d lists %v", got)
	}
}

func TestRenameFiles(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	ino := e.lstat("/d/a").Ino
	// Within a directory.
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("/d/a"), e.pop("/d/z"), 0); err != nil {
		t.Fatal(err)
	}
	if got := e.mustRead("/d/z"); got != "a" {
		t.Errorf("renamed file reads %q", got)
	}
	if _, err := e.statErr("/d/a"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("old name after rename: %v", err)
	}
	if st := e.lstat("/d/z"); st.Ino != ino {
		t.Errorf("rename changed inode number %d -> %d", ino, st.Ino)
	}
	// Across directories, over an existing lower file.
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("/d/z"), e.pop("/etc/passwd"), 0); err != nil {
		t.Fatal(err)
	}
	if got := e.mustRead("/etc/passwd"); got != "a" {
		t.Errorf("replaced file reads %q", got)
	}
	// An upper-only file into a lower-only directory, then back over a
	// whiteout.
	e.writeFile("/tmpfile", "t", 0644)
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("/tmpfile"), e.pop("/d/sub/t"), 0); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("/d/sub/t"), e.pop("/d/a"), 0); err != nil {
		t.Fatal(err)
	}
	if got := e.mustRead("/d/a"); got != "t" {
		t.Errorf("file renamed over a whiteout reads %q", got)
	}
	if got, want := e.list("/d"), []string{"a", "b", "c", "sub"}; !sameSet(got, want) {
		t.Errorf("/d lists %v, want %v", got, want)
	}
	if got, want := e.list("/d/sub"), []string{"x"}; !sameSet(got, want) {
		t.Errorf("/d/sub lists %v, want %v", got, want)
	}
	// A symlink.
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.lpop("/hostlink"), e.lpop("/d/hl"), 0); err != nil {
		t.Fatal(err)
	}
	if got := e.mustRead("/d/hl"); got != hosts {
		t.Errorf("moved symlink reads %q", got)
	}
	// RENAME_EXCHANGE of two lower files.
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("/d/b"), e.pop("/d/c"), linux.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	if b, c := e.mustRead("/d/b"), e.mustRead("/d/c"); b != "c" || c != "b" {
		t.Errorf("after exchange b=%q c=%q", b, c)
	}
	for p, want := range map[string]string{"/d/a": "a", "/d/b": "b", "/d/c": "c", "/etc/passwd": "root:x:0:0\n", "/hostlink": hosts} {
		if got := e.lower.mustRead(p); got != want {
			t.Errorf("lower %s = %q", p, got)
		}
	}
}

func TestRenameDirectories(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	wantErr(t, "rename lower dir", e.vfs.RenameAt(e.ctx, e.creds, e.pop("/d"), e.pop("/d2"), 0), linux.EXDEV)
	// Copied up (merged) directories cannot move either.
	e.writeFile("/d/sub/new", "", 0644)
	wantErr(t, "rename merged dir", e.vfs.RenameAt(e.ctx, e.creds, e.pop("/d/sub"), e.pop("/sub2"), 0), linux.EXDEV)
	// Upper-only directories can.
	e.mkdir("/u", 0755)
	e.writeFile("/u/f", "f", 0644)
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("/u"), e.pop("/etc/u"), 0); err != nil {
		t.Fatal(err)
	}
	if got := e.mustRead("/etc/u/f"); got != "f" {
		t.Errorf("moved dir's file reads %q", got)
	}
	// Over an emptied merged directory: the lower contents stay hidden.
	for _, p := range []string{"/d/sub/x", "/d/sub/new"} {
		if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("/etc/u"), e.pop("/d/sub"), 0); err != nil {
		t.Fatal(err)
	}
	if got := e.list("/d/sub"); !sameSet(got, []string{"f"}) {
		t.Errorf("dir moved over merged dir lists %v", got)
	}
	if _, err := e.statErr("/d/sub/x"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("lower child shows through: %v", err)
	}
	// Over a non-empty one: ENOTEMPTY.
	e.mkdir("/v", 0755)
	wantErr(t, "rename over non-empty merged dir", e.vfs.RenameAt(e.ctx, e.creds, e.pop("/v"), e.pop("/etc"), 0), linux.ENOTEMPTY)
	// To a name whose lower directory was removed.
	if err := e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/empty")); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.RenameAt(e.ctx, e.creds, e.pop("/v"), e.pop("/empty"), 0); err != nil {
		t.Fatal(err)
	}
	if got := e.list("/empty"); len(got) != 0 {
		t.Errorf("moved dir lists %v", got)
	}
}

func TestGetdentsMerged(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	e.writeFile("/d/e", "e", 0644)
	e.writeFile("/d/a", "A", 0644) // copied up: listed once
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/d/b")); err != nil {
		t.Fatal(err)
	}
	fd := e.mustOpen("/d", linux.O_RDONLY|linux.O_DIRECTORY, 0)
	defer fd.DecRef(e.ctx)
	ents := dirents(t, e.ctx, fd)
	var got []string
	for _, d := range ents {
		got = append(got, d.Name)
	}
	if want := []string{".", "..", "a", "c", "e", "sub"}; !sameSet(got, want) {
		t.Fatalf("listing %v, want %v", got, want)
	}
	// d_ino and d_type agree with stat.
	for _, d := range ents {
		p := "/d/" + d.Name
		st := e.lstat(p)
		if d.Ino != st.Ino {
			t.Errorf("%s: d_ino %d, st_ino %d", p, d.Ino, st.Ino)
		}
		if d.Type != linux.FileMode(st.Mode).DirentType() {
			t.Errorf("%s: d_type %d, mode %#o", p, d.Type, st.Mode)
		}
	}
}

var errStop = errors.New("stop")

func TestGetdentsStableOffsets(t *testing.T) {
	e := newTmpfsEnv(t, func(l *tree) {
		l.mkdir("/dir", 0755)
		for i := range 20 {
			l.writeFile(fmt.Sprintf("/dir/l%02d", i), "", 0644)
		}
	})
	for i := range 10 {
		e.writeFile(fmt.Sprintf("/dir/u%02d", i), "", 0644)
	}
	fd := e.mustOpen("/dir", linux.O_RDONLY|linux.O_DIRECTORY, 0)
	defer fd.DecRef(e.ctx)
	// Read a few entries at a time, changing the directory in between.
	seen := map[string]int{}
	for round := 0; ; round++ {
		if round > 100 {
			t.Fatal("listing does not end")
		}
		n := 0
		err := fd.IterDirents(e.ctx, func(d vfs.Dirent) error {
			if n == 4 {
				return errStop
			}
			n++
			seen[d.Name]++
			return nil
		})
		if err != nil && err != errStop {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		e.writeFile(fmt.Sprintf("/dir/new%02d", round), "", 0644)
		if round < 5 {
			if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop(fmt.Sprintf("/dir/l%02d", 19-round))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 15 {
		if n := seen[fmt.Sprintf("l%02d", i)]; n != 1 {
			t.Errorf("l%02d seen %d times", i, n)
		}
	}
	for i := range 10 {
		if n := seen[fmt.Sprintf("u%02d", i)]; n != 1 {
			t.Errorf("u%02d seen %d times", i, n)
		}
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", name, n)
		}
	}
	// Seeking back to a saved offset repeats the same entries.
	if _, err := fd.Seek(e.ctx, 0, linux.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	first := dirents(t, e.ctx, fd)
	if _, err := fd.Seek(e.ctx, first[5].NextOff, linux.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	rest := dirents(t, e.ctx, fd)
	if len(rest) != len(first)-6 || rest[0].Name != first[6].Name {
		t.Errorf("after seekdir got %d entries starting %q, want %d starting %q", len(rest), rest[0].Name, len(first)-6, first[6].Name)
	}
}

func TestLargeDirectory(t *testing.T) {
	e := newTmpfsEnv(t, func(l *tree) {
		l.mkdir("/big", 0755)
		for i := range 600 {
			l.writeFile(fmt.Sprintf("/big/f%04d", i), "", 0644)
		}
	})
	for i := 500; i < 1100; i++ {
		e.writeFile(fmt.Sprintf("/big/f%04d", i), "u", 0644) // 100 copied up, 500 new
	}
	for i := range 100 {
		if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop(fmt.Sprintf("/big/f%04d", i))); err != nil {
			t.Fatal(err)
		}
	}
	fd := e.mustOpen("/big", linux.O_RDONLY|linux.O_DIRECTORY, 0)
	defer fd.DecRef(e.ctx)
	var got []string
	for round := 0; ; round++ {
		if round > 100 {
			t.Fatal("listing does not end")
		}
		n := 0
		err := fd.IterDirents(e.ctx, func(d vfs.Dirent) error {
			if n == 37 {
				return errStop
			}
			n++
			if d.Name != "." && d.Name != ".." {
				got = append(got, d.Name)
			}
			return nil
		})
		if err != nil && err != errStop {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if len(got) != 1000 {
		t.Fatalf("listed %d entries, want 1000", len(got))
	}
	sort.Strings(got)
	for i, name := range got {
		if want := fmt.Sprintf("f%04d", i+100); name != want {
			t.Fatalf("entry %d is %q, want %q", i, name, want)
		}
	}
}

func TestChmodCopiesUp(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	if err := e.setStat("/d/c", vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0600}); err != nil {
		t.Fatal(err)
	}
	if st := e.lstat("/d/c"); st.Mode != linux.S_IFREG|0600 {
		t.Errorf("mode %#o", st.Mode)
	}
	if st := e.lower.lstat("/d/c"); st.Mode != linux.S_IFREG|0644 {
		t.Errorf("lower mode changed to %#o", st.Mode)
	}
	if got := e.mustRead("/d/c"); got != "c" {
		t.Errorf("data after chmod copy-up %q", got)
	}
	// chown and chmod of a lower directory.
	if err := e.setStat("/d/sub", vfs.SetStatOptions{Mask: linux.STATX_UID, UID: 7}); err != nil {
		t.Fatal(err)
	}
	if st := e.lstat("/d/sub"); st.UID != 7 || st.Mode != linux.S_IFDIR|0750 {
		t.Errorf("dir after chown %d %#o", st.UID, st.Mode)
	}
	if got := e.list("/d/sub"); !sameSet(got, []string{"x"}) {
		t.Errorf("copied-up dir lists %v", got)
	}
	if n := e.copyUps(); n != 3 {
		t.Errorf("%d copy-ups, want 3 (d, c, sub)", n)
	}
}

func TestPermissions(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	user := e.as(auth.NewUserCredentials(1000, 1000, nil, e.creds.UserNamespace))
	// The lower file is root's 0644: readable, not writable.
	if got := user.mustRead("/etc/hosts"); got != hosts {
		t.Errorf("user read %q", got)
	}
	_, err := user.open("/etc/hosts", linux.O_WRONLY, 0)
	wantErr(t, "user open for write", err, linux.EACCES)
	wantErr(t, "user chmod", user.setStat("/etc/hosts", vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0666}), linux.EPERM)
	_, err = user.open("/d/sub/x", linux.O_RDONLY, 0)
	wantErr(t, "user search 0750 dir", err, linux.EACCES)
	wantErr(t, "user create in 0755 dir", user.vfs.MkdirAt(user.ctx, user.creds, user.pop("/etc/new"), 0755), linux.EACCES)
	if n := e.copyUps(); n != 0 {
		t.Errorf("refused operations copied up %d files", n)
	}
	// The owner of a lower file may chmod it.
	if err := user.setStat("/etc/prog", vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0700}); err != nil {
		t.Errorf("owner chmod: %v", err)
	}
	// Writable lower file for the user: open for write works.
	if err := e.setStat("/d/a", vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0666}); err != nil {
		t.Fatal(err)
	}
	fd, err := user.open("/d/a", linux.O_WRONLY|linux.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	user.write(fd, "!")
	fd.DecRef(e.ctx)
	if got := e.mustRead("/d/a"); got != "a!" {
		t.Errorf("after user append %q", got)
	}
}

func TestHardLinkCopiesUp(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	if err := e.vfs.LinkAt(e.ctx, e.creds, e.pop("/etc/hosts"), e.pop("/d/hosts2")); err != nil {
		t.Fatal(err)
	}
	fd := e.mustOpen("/d/hosts2", linux.O_WRONLY|linux.O_APPEND, 0)
	e.write(fd, "more\n")
	fd.DecRef(e.ctx)
	if got := e.mustRead("/etc/hosts"); got != hosts+"more\n" {
		t.Errorf("through the first name %q", got)
	}
	a, b := e.lstat("/etc/hosts"), e.lstat("/d/hosts2")
	if a.Ino != b.Ino || a.Nlink != 2 || b.Nlink != 2 {
		t.Errorf("links: ino %d/%d nlink %d/%d", a.Ino, b.Ino, a.Nlink, b.Nlink)
	}
	if got := e.lower.mustRead("/etc/hosts"); got != hosts {
		t.Errorf("lower changed %q", got)
	}
	if _, err := e.lower.statErr("/d/hosts2"); !errors.Is(err, linux.ENOENT) {
		t.Errorf("link reached the lower layer: %v", err)
	}
	// Linking over a whiteout.
	if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/d/a")); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.LinkAt(e.ctx, e.creds, e.pop("/etc/passwd"), e.pop("/d/a")); err != nil {
		t.Fatal(err)
	}
	if got := e.mustRead("/d/a"); got != "root:x:0:0\n" {
		t.Errorf("link over whiteout reads %q", got)
	}
}

func TestSymlinks(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	e.symlink("../etc/passwd", "/d/pw")
	if got := e.mustRead("/d/pw"); got != "root:x:0:0\n" {
		t.Errorf("new relative symlink reads %q", got)
	}
	// A lower symlink whose target is copied up follows the copy.
	e.writeFile("/etc/hosts", "changed", 0)
	if got := e.mustRead("/hostlink"); got != "changed" {
		t.Errorf("symlink to copied-up file reads %q", got)
	}
	// lchown copies the symlink itself up, target intact.
	if err := e.vfs.SetStatAt(e.ctx, e.creds, e.lpop("/etclink"), vfs.SetStatOptions{Mask: linux.STATX_UID, UID: 5}); err != nil {
		t.Fatal(err)
	}
	if st := e.lstat("/etclink"); st.UID != 5 || st.Mode&linux.S_IFMT != linux.S_IFLNK {
		t.Errorf("symlink after lchown: uid %d mode %#o", st.UID, st.Mode)
	}
	if got := e.mustRead("/etclink/passwd"); got != "root:x:0:0\n" {
		t.Errorf("copied-up dir symlink reads %q", got)
	}
}

func TestSpecialFiles(t *testing.T) {
	e := newTmpfsEnv(t, func(l *tree) {
		if err := l.vfs.MknodAt(l.ctx, l.creds, l.pop("/fifo"), vfs.CreateOptions{Mode: linux.S_IFIFO | 0644}); err != nil {
			l.t.Fatal(err)
		}
		if err := l.vfs.MknodAt(l.ctx, l.creds, l.pop("/null"), vfs.CreateOptions{Mode: linux.S_IFCHR | 0666, DevMajor: 1, DevMinor: 3}); err != nil {
			l.t.Fatal(err)
		}
	})
	wantErr(t, "mknod 0:0", e.vfs.MknodAt(e.ctx, e.creds, e.pop("/wh"), vfs.CreateOptions{Mode: linux.S_IFCHR | 0644}), linux.EPERM)
	if err := e.setStat("/null", vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0600}); err != nil {
		t.Fatal(err)
	}
	st := e.lstat("/null")
	if st.Mode != linux.S_IFCHR|0600 || st.RdevMajor != 1 || st.RdevMinor != 3 {
		t.Errorf("copied-up device: mode %#o rdev %d:%d", st.Mode, st.RdevMajor, st.RdevMinor)
	}
	if st := e.lstat("/fifo"); st.Mode != linux.S_IFIFO|0644 {
		t.Errorf("fifo mode %#o", st.Mode)
	}
	// A FIFO opens as a pipe, with the overlay path.
	fd := e.mustOpen("/fifo", linux.O_RDWR, 0)
	defer fd.DecRef(e.ctx)
	if fd.Dentry().Filesystem() != e.ofs {
		t.Errorf("FIFO description is not on the overlay")
	}
	e.write(fd, "ping")
	buf := make([]byte, 8)
	if n, err := fd.Read(e.ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{}); err != nil || string(buf[:n]) != "ping" {
		t.Errorf("fifo read %q, %v", buf[:n], err)
	}
}

func TestStatFS(t *testing.T) {
	e := newTmpfsEnv(t, populate)
	st, err := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/etc/hosts"))
	if err != nil || st.Type != linux.OVERLAYFS_SUPER_MAGIC {
		t.Errorf("statfs type %#x, %v", st.Type, err)
	}
	root := e.lstat("/")
	if lr := e.lower.lstat("/"); root.Mode != lr.Mode || root.Ino != lr.Ino {
		t.Errorf("root %#o/%d, lower root %#o/%d", root.Mode, root.Ino, lr.Mode, lr.Ino)
	}
	if root.Nlink != 1 {
		t.Errorf("merged root nlink %d, want 1", root.Nlink)
	}
	if st := e.lstat("/etc"); st.DevMinor != root.DevMinor {
		t.Errorf("st_dev differs within the overlay")
	}
}

func TestConcurrentCopyUp(t *testing.T) {
	e := newTmpfsEnv(t, func(l *tree) {
		l.mkdir("/a", 0755)
		l.mkdir("/a/b", 0755)
		l.writeFile("/a/b/f", "0123456789", 0644)
		for i := range 8 {
			l.writeFile(fmt.Sprintf("/a/b/g%d", i), "g", 0644)
		}
	})
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			fd, err := e.open("/a/b/f", linux.O_WRONLY, 0)
			if err != nil {
				errs <- err
				return
			}
			defer fd.DecRef(e.ctx)
			if _, err := fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte{'x'}), int64(i%10), vfs.WriteOptions{}); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			p := fmt.Sprintf("/a/b/g%d", i%8)
			if err := e.setStat(p, vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0600}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// a, b, f and the eight g files: each exactly once.
	if got := e.copyUps(); got != 11 {
		t.Errorf("%d copy-ups, want 11", got)
	}
	if got := e.mustRead("/a/b/f"); got != "xxxxxxxxxx" {
		t.Errorf("f = %q", got)
	}
	if got := e.lower.mustRead("/a/b/f"); got != "0123456789" {
		t.Errorf("lower f = %q", got)
	}
}

func TestSparseCopyUp(t *testing.T) {
	e := newTmpfsEnv(t, func(l *tree) {
		fd := l.mustOpen("/sparse", linux.O_WRONLY|linux.O_CREAT, 0644)
		defer fd.DecRef(l.ctx)
		if _, err := fd.PWrite(l.ctx, vfs.BytesIOSequence([]byte("end")), 1<<20, vfs.WriteOptions{}); err != nil {
			l.t.Fatal(err)
		}
		if err := fd.SetStat(l.ctx, l.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 2 << 20}); err != nil {
			l.t.Fatal(err)
		}
	})
	if err := e.setStat("/sparse", vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0600}); err != nil {
		t.Fatal(err)
	}
	st := e.lstat("/sparse")
	if st.Size != 2<<20 {
		t.Errorf("size %d", st.Size)
	}
	if st.Blocks*512 > 64<<10 {
		t.Errorf("copy of a sparse file uses %d bytes", st.Blocks*512)
	}
	fd := e.mustOpen("/sparse", linux.O_RDONLY, 0)
	defer fd.DecRef(e.ctx)
	buf := make([]byte, 3)
	if n, err := fd.PRead(e.ctx, vfs.BytesIOSequence(buf), 1<<20, vfs.ReadOptions{}); err != nil || string(buf[:n]) != "end" {
		t.Errorf("data at 1 MiB %q, %v", buf[:n], err)
	}
}

func sameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	sort.Strings(g)
	sort.Strings(w)
	return slices.Equal(g, w)
}

// TestConcurrentChanges mixes copy-ups, whiteouts, creations and listings
// in one lower directory, for the race detector and for deadlocks.
func TestConcurrentChanges(t *testing.T) {
	const n = 24
	e := newTmpfsEnv(t, func(l *tree) {
		l.mkdir("/dir", 0755)
		for i := range n {
			l.writeFile(fmt.Sprintf("/dir/f%02d", i), "f", 0644)
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for i := range n {
		wg.Add(4)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				errs <- e.setStat(fmt.Sprintf("/dir/f%02d", i), vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0600})
			} else {
				errs <- e.vfs.UnlinkAt(e.ctx, e.creds, e.pop(fmt.Sprintf("/dir/f%02d", i)))
			}
		}()
		go func() {
			defer wg.Done()
			fd, err := e.open(fmt.Sprintf("/dir/new%02d", i), linux.O_WRONLY|linux.O_CREAT, 0644)
			if err == nil {
				fd.DecRef(e.ctx)
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			fd, err := e.open("/dir", linux.O_RDONLY|linux.O_DIRECTORY, 0)
			if err == nil {
				err = fd.IterDirents(e.ctx, func(vfs.Dirent) error { return nil })
				fd.DecRef(e.ctx)
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := e.readFile(fmt.Sprintf("/dir/f%02d", (i+1)%n))
			if errors.Is(err, linux.ENOENT) {
				err = nil // unlinked concurrently
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	var want []string
	for i := range n {
		if i%2 == 0 {
			want = append(want, fmt.Sprintf("f%02d", i))
		}
		want = append(want, fmt.Sprintf("new%02d", i))
	}
	if got := e.list("/dir"); !sameSet(got, want) {
		t.Errorf("listing %v, want %v", got, want)
	}
	if got := e.lower.list("/dir"); len(got) != n {
		t.Errorf("lower lists %d entries", len(got))
	}
}
