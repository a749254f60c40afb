package vfs_test

import (
	"fmt"
	"sort"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

func TestPermissionsAsUser(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user(1000, 1000), e.user(1001, 1001)
	e.mkdir("/private", 0700)
	e.writeFile("/private/f", "secret", 0644)
	e.writeFile("/rootonly", "x", 0600)
	e.mkdir("/tmp", 01777)

	_, err := e.open(alice, "/private/f", linux.O_RDONLY, 0)
	wantErr(t, "search denied", err, linux.EACCES)
	_, err = e.open(alice, "/rootonly", linux.O_RDONLY, 0)
	wantErr(t, "read denied", err, linux.EACCES)
	_, err = e.open(alice, "/new", linux.O_CREAT|linux.O_WRONLY, 0644)
	wantErr(t, "create in 0755 root dir", err, linux.EACCES)
	wantErr(t, "mkdir in 0755 root dir", e.vfs.MkdirAt(e.ctx, alice, e.pop("/d"), 0755), linux.EACCES)

	fd, err := e.open(alice, "/tmp/a", linux.O_CREAT|linux.O_WRONLY|linux.O_EXCL, 0600)
	wantErr(t, "create in /tmp", err, nil)
	fd.DecRef(e.ctx)
	st := e.stat("/tmp/a")
	if st.UID != 1000 || st.GID != 1000 || st.Mode != linux.S_IFREG|0600 {
		t.Errorf("new file owner %d:%d mode %#o", st.UID, st.GID, st.Mode)
	}
	_, err = e.open(bob, "/tmp/a", linux.O_RDONLY, 0)
	wantErr(t, "bob reads alice's 0600", err, linux.EACCES)
	wantErr(t, "sticky unlink by other", e.vfs.UnlinkAt(e.ctx, bob, e.pop("/tmp/a")), linux.EPERM)
	wantErr(t, "sticky rename by other", e.vfs.RenameAt(e.ctx, bob, e.pop("/tmp/a"), e.pop("/tmp/b"), 0), linux.EPERM)
	wantErr(t, "chmod by other", e.vfs.SetStatAt(e.ctx, bob, e.pop("/tmp/a"), vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0777}), linux.EPERM)
	wantErr(t, "chown by owner", e.vfs.SetStatAt(e.ctx, alice, e.pop("/tmp/a"), vfs.SetStatOptions{Mask: linux.STATX_UID, UID: 1001}), linux.EPERM)
	wantErr(t, "chgrp to foreign group", e.vfs.SetStatAt(e.ctx, alice, e.pop("/tmp/a"), vfs.SetStatOptions{Mask: linux.STATX_GID, GID: 5}), linux.EPERM)
	wantErr(t, "utimes explicit by other", e.vfs.SetStatAt(e.ctx, bob, e.pop("/tmp/a"), vfs.SetStatOptions{Mask: linux.STATX_MTIME, Mtime: linux.Timespec{Sec: 1}}), linux.EPERM)
	wantErr(t, "truncate by other", e.vfs.SetStatAt(e.ctx, bob, e.pop("/tmp/a"), vfs.SetStatOptions{Mask: linux.STATX_SIZE}), linux.EACCES)
	wantErr(t, "chmod by owner", e.vfs.SetStatAt(e.ctx, alice, e.pop("/tmp/a"), vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0644}), nil)
	fd, err = e.open(bob, "/tmp/a", linux.O_RDONLY, 0)
	wantErr(t, "bob reads after chmod", err, nil)
	fd.DecRef(e.ctx)
	wantErr(t, "sticky unlink by owner", e.vfs.UnlinkAt(e.ctx, alice, e.pop("/tmp/a")), nil)

	// Root's chown of a setuid file clears the bit.
	e.writeFile("/suid", "x", 04755)
	wantErr(t, "chmod suid", e.vfs.SetStatAt(e.ctx, e.creds, e.pop("/suid"), vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 04755}), nil)
	wantErr(t, "chown", e.vfs.SetStatAt(e.ctx, e.creds, e.pop("/suid"), vfs.SetStatOptions{Mask: linux.STATX_UID, UID: 1000}), nil)
	if st := e.stat("/suid"); st.Mode != linux.S_IFREG|0755 || st.UID != 1000 {
		t.Errorf("after chown: mode %#o uid %d", st.Mode, st.UID)
	}
	// A non-root write also clears set-user-ID.
	wantErr(t, "chmod suid again", e.vfs.SetStatAt(e.ctx, e.creds, e.pop("/suid"), vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 04777}), nil)
	fd, err = e.vfs.OpenAt(auth.ContextWithCredentials(e.ctx, bob), bob, e.pop("/suid"), &vfs.OpenOptions{Flags: linux.O_WRONLY})
	wantErr(t, "open suid for write", err, nil)
	bobCtx := auth.ContextWithCredentials(e.ctx, bob)
	fd.Write(bobCtx, vfs.BytesIOSequence([]byte("y")), vfs.WriteOptions{})
	fd.DecRef(e.ctx)
	if st := e.stat("/suid"); st.Mode&linux.S_ISUID != 0 {
		t.Errorf("write did not clear suid: %#o", st.Mode)
	}

	// Set-group-ID directories pass their group down.
	e.mkdir("/sgid", 02777)
	wantErr(t, "chgrp sgid", e.vfs.SetStatAt(e.ctx, e.creds, e.pop("/sgid"), vfs.SetStatOptions{Mask: linux.STATX_GID, GID: 77}), nil)
	wantErr(t, "chmod sgid", e.vfs.SetStatAt(e.ctx, e.creds, e.pop("/sgid"), vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 02777}), nil)
	wantErr(t, "mkdir in sgid", e.vfs.MkdirAt(e.ctx, alice, e.pop("/sgid/sub"), 0755), nil)
	if st := e.stat("/sgid/sub"); st.GID != 77 || st.Mode&linux.S_ISGID == 0 {
		t.Errorf("sgid inheritance: gid %d mode %#o", st.GID, st.Mode)
	}
}

func TestOpenFlags(t *testing.T) {
	e := newEnv(t)
	e.writeFile("/f", "hello", 0644)
	e.mkdir("/d", 0755)
	e.symlink("/created-through-link", "/dangling")

	_, err := e.open(e.creds, "/f", linux.O_CREAT|linux.O_EXCL|linux.O_WRONLY, 0644)
	wantErr(t, "O_EXCL existing", err, linux.EEXIST)
	_, err = e.open(e.creds, "/dangling", linux.O_CREAT|linux.O_EXCL|linux.O_WRONLY, 0644)
	wantErr(t, "O_EXCL dangling symlink", err, linux.EEXIST)
	fd, err := e.open(e.creds, "/dangling", linux.O_CREAT|linux.O_WRONLY, 0644)
	wantErr(t, "O_CREAT through dangling symlink", err, nil)
	fd.DecRef(e.ctx)
	e.stat("/created-through-link")

	_, err = e.open(e.creds, "/f", linux.O_RDONLY|linux.O_DIRECTORY, 0)
	wantErr(t, "O_DIRECTORY file", err, linux.ENOTDIR)
	_, err = e.open(e.creds, "/d", linux.O_WRONLY, 0)
	wantErr(t, "write dir", err, linux.EISDIR)
	_, err = e.open(e.creds, "/x", linux.O_CREAT|linux.O_DIRECTORY|linux.O_RDONLY, 0644)
	wantErr(t, "O_CREAT|O_DIRECTORY", err, linux.EINVAL)
	tf, err := e.open(e.creds, "/d", linux.O_TMPFILE|linux.O_RDWR, 0644)
	wantErr(t, "O_TMPFILE", err, nil)
	tf.DecRef(e.ctx)
	_, err = e.open(e.creds, "/d", linux.O_TMPFILE|linux.O_RDONLY, 0644)
	wantErr(t, "O_TMPFILE read-only", err, linux.EINVAL)
	_, err = e.open(e.creds, "/x", linux.O_TMPFILE|linux.O_RDWR, 0644)
	wantErr(t, "O_TMPFILE missing dir", err, linux.ENOENT)

	// A file created with mode 0 can still be written through the
	// creating descriptor, even by an unprivileged user.
	e.mkdir("/tmp", 01777)
	alice := e.user(1000, 1000)
	fd, err = e.open(alice, "/tmp/zero", linux.O_CREAT|linux.O_RDWR, 0)
	wantErr(t, "create mode 0", err, nil)
	_, err = fd.Write(e.ctx, vfs.BytesIOSequence([]byte("ok")), vfs.WriteOptions{})
	wantErr(t, "write mode-0 file", err, nil)
	fd.DecRef(e.ctx)
	_, err = e.open(alice, "/tmp/zero", linux.O_RDONLY, 0)
	wantErr(t, "reopen mode 0", err, linux.EACCES)

	fd, err = e.open(e.creds, "/f", linux.O_WRONLY|linux.O_APPEND, 0)
	wantErr(t, "O_APPEND", err, nil)
	fd.Write(e.ctx, vfs.BytesIOSequence([]byte(" world")), vfs.WriteOptions{})
	// pwrite on O_APPEND appends too, as Linux does.
	fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("!")), 0, vfs.WriteOptions{})
	if off := fd.Offset(); off != 11 {
		t.Errorf("offset after append: %d", off)
	}
	_, err = fd.Read(e.ctx, vfs.BytesIOSequence(make([]byte, 1)), vfs.ReadOptions{})
	wantErr(t, "read O_WRONLY", err, linux.EBADF)
	fd.DecRef(e.ctx)
	if got := e.readFile("/f"); got != "hello world!" {
		t.Errorf("after append: %q", got)
	}
	fd, err = e.open(e.creds, "/f", linux.O_WRONLY|linux.O_TRUNC, 0)
	wantErr(t, "O_TRUNC", err, nil)
	fd.DecRef(e.ctx)
	if st := e.stat("/f"); st.Size != 0 {
		t.Errorf("size after O_TRUNC: %d", st.Size)
	}
	// F_SETFL changes only the status flags.
	fd, _ = e.open(e.creds, "/f", linux.O_RDWR, 0)
	wantErr(t, "setfl", fd.SetStatusFlags(e.ctx, e.creds, linux.O_NONBLOCK|linux.O_APPEND|linux.O_WRONLY|linux.O_TRUNC), nil)
	if fl := fd.StatusFlags(); fl&linux.O_ACCMODE != linux.O_RDWR || fl&linux.O_NONBLOCK == 0 || fl&linux.O_APPEND == 0 || fl&linux.O_TRUNC != 0 {
		t.Errorf("flags after F_SETFL: %#o", fl)
	}
	fd.DecRef(e.ctx)
}

func TestSeek(t *testing.T) {
	e := newEnv(t)
	e.writeFile("/f", "0123456789", 0644)
	fd, _ := e.open(e.creds, "/f", linux.O_RDWR, 0)
	defer fd.DecRef(e.ctx)
	for _, c := range []struct {
		off    int64
		whence int32
		want   int64
		err    error
	}{
		{3, linux.SEEK_SET, 3, nil},
		{2, linux.SEEK_CUR, 5, nil},
		{-1, linux.SEEK_END, 9, nil},
		{-100, linux.SEEK_CUR, 0, linux.EINVAL},
		{0, 7, 0, linux.EINVAL},
		{20, linux.SEEK_DATA, 0, linux.ENXIO},
		{4, linux.SEEK_HOLE, 10, nil},
	} {
		got, err := fd.Seek(e.ctx, c.off, c.whence)
		wantErr(t, fmt.Sprintf("seek(%d,%d)", c.off, c.whence), err, c.err)
		if err == nil && got != c.want {
			t.Errorf("seek(%d,%d) = %d, want %d", c.off, c.whence, got, c.want)
		}
	}
	// A hole in the middle of a sparse file.
	fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("end")), 3*linux.PageSize, vfs.WriteOptions{})
	if got, _ := fd.Seek(e.ctx, 0, linux.SEEK_HOLE); got != linux.PageSize {
		t.Errorf("SEEK_HOLE = %d", got)
	}
	if got, _ := fd.Seek(e.ctx, linux.PageSize+1, linux.SEEK_DATA); got != 3*linux.PageSize {
		t.Errorf("SEEK_DATA = %d", got)
	}
	buf := make([]byte, 4)
	n, _ := fd.PRead(e.ctx, vfs.BytesIOSequence(buf), 2*linux.PageSize, vfs.ReadOptions{})
	if n != 4 || string(buf) != "\x00\x00\x00\x00" {
		t.Errorf("hole reads %q", buf[:n])
	}
}

func TestRename(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/a", 0755)
	e.mkdir("/a/b", 0755)
	e.mkdir("/full", 0755)
	e.writeFile("/full/x", "x", 0644)
	e.mkdir("/empty", 0755)
	e.writeFile("/f", "F", 0644)
	e.writeFile("/g", "G", 0644)
	r := func(from, to string, flags uint32) error {
		return e.vfs.RenameAt(e.ctx, e.creds, e.pop(from), e.pop(to), flags)
	}
	wantErr(t, "into own subdir", r("/a", "/a/b/c", 0), linux.EINVAL)
	wantErr(t, "onto itself via subdir", r("/a", "/a/b", 0), linux.EINVAL)
	wantErr(t, "parent onto child", r("/a/b", "/a", 0), linux.ENOTEMPTY)
	wantErr(t, "onto non-empty dir", r("/a", "/full", 0), linux.ENOTEMPTY)
	wantErr(t, "file onto dir", r("/f", "/empty", 0), linux.EISDIR)
	wantErr(t, "dir onto file", r("/empty", "/f", 0), linux.ENOTDIR)
	wantErr(t, "noreplace", r("/f", "/g", linux.RENAME_NOREPLACE), linux.EEXIST)
	wantErr(t, "exchange missing", r("/f", "/nope", linux.RENAME_EXCHANGE), linux.ENOENT)
	wantErr(t, "both flags", r("/f", "/g", linux.RENAME_EXCHANGE|linux.RENAME_NOREPLACE), linux.EINVAL)
	wantErr(t, "dot", r("/a/.", "/z", 0), linux.EBUSY)
	wantErr(t, "missing source", r("/nope", "/z", 0), linux.ENOENT)

	// An open file follows its renames.
	fd, _ := e.open(e.creds, "/f", linux.O_RDONLY, 0)
	wantErr(t, "exchange", r("/f", "/g", linux.RENAME_EXCHANGE), nil)
	if e.readFile("/f") != "G" || e.readFile("/g") != "F" {
		t.Error("exchange did not swap")
	}
	if p := e.vfs.PathnameWithDeleted(e.root, fd.VirtualDentry()); p != "/g" {
		t.Errorf("open file path after exchange: %q", p)
	}
	wantErr(t, "dir onto empty dir", r("/a", "/empty", 0), nil)
	if got := e.stat("/empty/b"); got.Mode&linux.S_IFMT != linux.S_IFDIR {
		t.Error("moved dir lost its child")
	}
	wantErr(t, "file replaces file", r("/g", "/empty/b/moved", 0), nil)
	if p := e.vfs.PathnameWithDeleted(e.root, fd.VirtualDentry()); p != "/empty/b/moved" {
		t.Errorf("open file path after move: %q", p)
	}
	fd.DecRef(e.ctx)
	// The root has "." and its own entry, plus one ".." from each of
	// /full and /empty (/a was moved onto /empty).
	if n := e.stat("/").Nlink; n != 4 {
		t.Errorf("root nlink %d", n)
	}
	if n := e.stat("/empty").Nlink; n != 3 {
		t.Errorf("/empty nlink %d", n)
	}
	// Hard links to one file: renaming one onto the other does nothing.
	wantErr(t, "link", e.vfs.LinkAt(e.ctx, e.creds, e.pop("/f"), e.pop("/f2")), nil)
	wantErr(t, "rename onto own link", r("/f", "/f2", 0), nil)
	e.stat("/f")
	e.stat("/f2")
}

func TestUnlinkOpenFileKeepsData(t *testing.T) {
	e := newEnv(t)
	e.writeFile("/f", "still here", 0644)
	fd, _ := e.open(e.creds, "/f", linux.O_RDWR, 0)
	defer fd.DecRef(e.ctx)
	wantErr(t, "unlink", e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/f")), nil)
	_, err := e.vfs.StatAt(e.ctx, e.creds, e.pop("/f"), vfs.StatOptions{})
	wantErr(t, "stat unlinked", err, linux.ENOENT)
	if got, _ := readAll(e.ctx, fd); got != "still here" {
		t.Errorf("read unlinked: %q", got)
	}
	st, _ := fd.Stat(e.ctx, vfs.StatOptions{})
	if st.Nlink != 0 {
		t.Errorf("nlink after unlink: %d", st.Nlink)
	}
	if p := e.vfs.PathnameWithDeleted(e.root, fd.VirtualDentry()); p != "/f (deleted)" {
		t.Errorf("path: %q", p)
	}
	// A new file with the same name is a different file.
	e.writeFile("/f", "new", 0644)
	if e.stat("/f").Ino == st.Ino {
		t.Error("inode reused while open")
	}
	// Cannot link an unlinked file back in.
	p := &vfs.PathOperation{Root: e.root, Start: fd.VirtualDentry(), AllowEmptyPath: true}
	wantErr(t, "link unlinked", e.vfs.LinkAt(e.ctx, e.creds, p, e.pop("/back")), linux.ENOENT)
	// Removing the cwd leaves getcwd with ENOENT.
	e.mkdir("/cwd", 0755)
	cwd, _ := e.vfs.GetDentryAt(e.ctx, e.creds, e.pop("/cwd"), nil)
	defer cwd.DecRef()
	wantErr(t, "rmdir cwd", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/cwd")), nil)
	_, err = e.vfs.PathnameForGetcwd(e.root, cwd)
	wantErr(t, "getcwd removed", err, linux.ENOENT)
	err = e.vfs.MkdirAt(e.ctx, e.creds, &vfs.PathOperation{Root: e.root, Start: cwd, Path: "x"}, 0755)
	wantErr(t, "mkdir in removed dir", err, linux.ENOENT)
}

func TestHardLinks(t *testing.T) {
	e := newEnv(t)
	e.writeFile("/a", "one", 0644)
	e.mkdir("/d", 0755)
	wantErr(t, "link", e.vfs.LinkAt(e.ctx, e.creds, e.pop("/a"), e.pop("/d/b")), nil)
	wantErr(t, "link exists", e.vfs.LinkAt(e.ctx, e.creds, e.pop("/a"), e.pop("/d/b")), linux.EEXIST)
	wantErr(t, "link dir", e.vfs.LinkAt(e.ctx, e.creds, e.pop("/d"), e.pop("/d2")), linux.EPERM)
	if st := e.stat("/a"); st.Nlink != 2 || st.Ino != e.stat("/d/b").Ino {
		t.Errorf("nlink %d", st.Nlink)
	}
	e.writeFile("/d/b", "two", 0644)
	if got := e.readFile("/a"); got != "two" {
		t.Errorf("through other link: %q", got)
	}
	wantErr(t, "unlink one", e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/a")), nil)
	if st := e.stat("/d/b"); st.Nlink != 1 {
		t.Errorf("nlink after unlink: %d", st.Nlink)
	}
	// link(2) does not follow a final symlink unless asked to.
	e.symlink("/d/b", "/sl")
	wantErr(t, "link symlink", e.vfs.LinkAt(e.ctx, e.creds, e.nofollow("/sl"), e.pop("/sl2")), nil)
	st, _ := e.vfs.StatAt(e.ctx, e.creds, e.nofollow("/sl2"), vfs.StatOptions{})
	if st.Mode&linux.S_IFMT != linux.S_IFLNK {
		t.Error("link of symlink followed it")
	}
	wantErr(t, "link following", e.vfs.LinkAt(e.ctx, e.creds, e.pop("/sl"), e.pop("/sl3")), nil)
	if e.stat("/d/b").Nlink != 2 {
		t.Error("AT_SYMLINK_FOLLOW link missed the target")
	}
}

func TestGetdentsAcrossDeletions(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/d", 0755)
	const n = 100
	for i := 0; i < n; i++ {
		e.writeFile(fmt.Sprintf("/d/f%03d", i), "", 0644)
	}
	fd, err := e.open(e.creds, "/d", linux.O_RDONLY|linux.O_DIRECTORY, 0)
	wantErr(t, "open dir", err, nil)
	defer fd.DecRef(e.ctx)
	seen := map[string]int{}
	deleted := map[string]bool{}
	batch := func(max int) int {
		got := 0
		fd.IterDirents(e.ctx, func(d vfs.Dirent) error {
			if got == max {
				return linux.EINVAL // "buffer full"
			}
			seen[d.Name]++
			got++
			return nil
		})
		return got
	}
	batch(12)
	step := 0
	for batch(10) > 0 {
		// Delete one file already seen and one not yet seen, and add one.
		step++
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("f%03d", i)
			if seen[name] > 0 && !deleted[name] {
				e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/d/"+name))
				deleted[name] = true
				break
			}
		}
		late := fmt.Sprintf("f%03d", n-step)
		if seen[late] == 0 && !deleted[late] {
			e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/d/"+late))
			deleted[late] = true
		}
		if step <= 3 {
			e.writeFile(fmt.Sprintf("/d/new%d", step), "", 0644)
		}
	}
	for i := 1; i <= 3; i++ {
		// Entries added after the cursor are reported.
		if seen[fmt.Sprintf("new%d", i)] != 1 {
			t.Errorf("new%d not seen once", i)
		}
	}
	for name, c := range seen {
		if c != 1 {
			t.Errorf("%s seen %d times", name, c)
		}
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("f%03d", i)
		if seen[name] == 0 && !deleted[name] {
			t.Errorf("%s never seen", name)
		}
	}
	if seen["."] != 1 || seen[".."] != 1 {
		t.Error("missing . or ..")
	}
	// Rewinding lists what is there now, in a stable order.
	fd.Seek(e.ctx, 0, linux.SEEK_SET)
	a := names(t, e.ctx, fd)
	fd.Seek(e.ctx, 0, linux.SEEK_SET)
	b := names(t, e.ctx, fd)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("order changed between listings")
	}
	sorted := append([]string(nil), a...)
	sort.Strings(sorted)
	if st := e.stat("/d"); st.Size != uint64(len(a))*20 {
		t.Errorf("dir size %d for %d entries", st.Size, len(a))
	}
	_, err = fd.Seek(e.ctx, 0, linux.SEEK_END)
	wantErr(t, "SEEK_END dir", err, linux.EINVAL)
	_, err = fd.Read(e.ctx, vfs.BytesIOSequence(make([]byte, 1)), vfs.ReadOptions{})
	wantErr(t, "read dir", err, linux.EISDIR)
}

func TestMknodKinds(t *testing.T) {
	e := newEnv(t)
	alice := e.user(1000, 1000)
	e.mkdir("/tmp", 01777)
	wantErr(t, "mknod chr unprivileged", e.vfs.MknodAt(e.ctx, alice, e.pop("/tmp/c"), vfs.CreateOptions{Mode: linux.S_IFCHR | 0666, DevMajor: 1, DevMinor: 3}), linux.EPERM)
	wantErr(t, "mknod fifo unprivileged", e.vfs.MknodAt(e.ctx, alice, e.pop("/tmp/p"), vfs.CreateOptions{Mode: linux.S_IFIFO | 0666}), nil)
	wantErr(t, "mknod dir", e.vfs.MknodAt(e.ctx, e.creds, e.pop("/x"), vfs.CreateOptions{Mode: linux.S_IFDIR | 0755}), linux.EPERM)
	wantErr(t, "mknod bad type", e.vfs.MknodAt(e.ctx, e.creds, e.pop("/x"), vfs.CreateOptions{Mode: 0170000}), linux.EINVAL)
	wantErr(t, "mknod sock", e.vfs.MknodAt(e.ctx, e.creds, e.pop("/sock"), vfs.CreateOptions{Mode: linux.S_IFSOCK | 0755}), nil)
	_, err := e.open(e.creds, "/sock", linux.O_RDONLY, 0)
	wantErr(t, "open socket node", err, linux.ENXIO)
	wantErr(t, "mknod blk", e.vfs.MknodAt(e.ctx, e.creds, e.pop("/blk"), vfs.CreateOptions{Mode: linux.S_IFBLK | 0600, DevMajor: 8, DevMinor: 0}), nil)
	_, err = e.open(e.creds, "/blk", linux.O_RDONLY, 0)
	wantErr(t, "open unregistered device", err, linux.ENXIO)
	if st := e.stat("/blk"); st.RdevMajor != 8 || st.Mode&linux.S_IFMT != linux.S_IFBLK {
		t.Errorf("blk stat: %d:%d %#o", st.RdevMajor, st.RdevMinor, st.Mode)
	}
	wantErr(t, "mkdir .", e.vfs.MkdirAt(e.ctx, e.creds, e.pop("/tmp/."), 0755), linux.EEXIST)
	wantErr(t, "rmdir .", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/tmp/.")), linux.EINVAL)
	wantErr(t, "rmdir ..", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/tmp/..")), linux.ENOTEMPTY)
	wantErr(t, "rmdir /", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/")), linux.EBUSY)
	wantErr(t, "unlink dir", e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/tmp")), linux.EISDIR)
	wantErr(t, "rmdir file", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/blk")), linux.ENOTDIR)
	wantErr(t, "rmdir non-empty", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/tmp")), linux.ENOTEMPTY)
}
