package vfs_test

import (
	"fmt"
	"strings"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

func TestSymlinkChains(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/a", 0755)
	e.mkdir("/a/b", 0755)
	e.writeFile("/a/b/file", "data", 0644)
	e.symlink("b/file", "/a/rel")    // relative to /a
	e.symlink("/a/rel", "/abs")      // absolute, to another symlink
	e.symlink("../a/b", "/a/updown") // through ..
	e.symlink("abs", "/chain")
	for _, p := range []string{"/a/rel", "/abs", "/chain", "/a/updown/file", "/a/updown/../b/file"} {
		if got := e.readFile(p); got != "data" {
			t.Errorf("%s: got %q", p, got)
		}
	}
	// lstat sees the link itself.
	st, err := e.vfs.StatAt(e.ctx, e.creds, e.nofollow("/chain"), vfs.StatOptions{})
	wantErr(t, "lstat", err, nil)
	if st.Mode&linux.S_IFMT != linux.S_IFLNK || st.Size != 3 {
		t.Errorf("lstat: mode %#o size %d", st.Mode, st.Size)
	}
	if got, _ := e.vfs.ReadlinkAt(e.ctx, e.creds, e.pop("/a/rel")); got != "b/file" {
		t.Errorf("readlink: %q", got)
	}
	_, err = e.vfs.ReadlinkAt(e.ctx, e.creds, e.pop("/a"))
	wantErr(t, "readlink dir", err, linux.EINVAL)
	e.symlink("nonexistent", "/dangling")
	_, err = e.open(e.creds, "/dangling", linux.O_RDONLY, 0)
	wantErr(t, "dangling", err, linux.ENOENT)
}

func TestSymlinkLoopLimit(t *testing.T) {
	e := newEnv(t)
	e.symlink("self", "/self")
	_, err := e.open(e.creds, "/self", linux.O_RDONLY, 0)
	wantErr(t, "self loop", err, linux.ELOOP)

	// A chain of exactly 40 links resolves; 41 is one too many.
	e.writeFile("/target", "x", 0644)
	prev := "/target"
	for i := 1; i <= 41; i++ {
		name := fmt.Sprintf("/l%d", i)
		e.symlink(prev, name)
		prev = name
	}
	if got := e.readFile("/l40"); got != "x" {
		t.Errorf("40 links: %q", got)
	}
	_, err = e.open(e.creds, "/l41", linux.O_RDONLY, 0)
	wantErr(t, "41 links", err, linux.ELOOP)

	_, err = e.open(e.creds, "/l1", linux.O_RDONLY|linux.O_NOFOLLOW, 0)
	wantErr(t, "O_NOFOLLOW", err, linux.ELOOP)
	fd, err := e.open(e.creds, "/l1", linux.O_PATH|linux.O_NOFOLLOW, 0)
	wantErr(t, "O_PATH|O_NOFOLLOW", err, nil)
	if fd != nil {
		_, err = fd.Read(e.ctx, vfs.BytesIOSequence(make([]byte, 1)), vfs.ReadOptions{})
		wantErr(t, "read O_PATH", err, linux.EBADF)
		st, err := fd.Stat(e.ctx, vfs.StatOptions{})
		wantErr(t, "fstat O_PATH", err, nil)
		if st.Mode&linux.S_IFMT != linux.S_IFLNK {
			t.Errorf("O_PATH fd on symlink has mode %#o", st.Mode)
		}
		fd.DecRef(e.ctx)
	}
}

func TestDotDot(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/jail", 0755)
	e.mkdir("/jail/etc", 0755)
	e.writeFile("/jail/etc/passwd", "inside", 0644)
	e.mkdir("/etc", 0755)
	e.writeFile("/etc/passwd", "outside", 0644)
	if got := e.readFile("/../../etc/passwd"); got != "outside" {
		t.Errorf("/.. at root: %q", got)
	}
	if got := e.readFile("/jail/./etc/../etc/passwd"); got != "inside" {
		t.Errorf("dots: %q", got)
	}

	// chroot to /jail: neither .. nor an absolute symlink escapes.
	jail, err := e.vfs.GetDentryAt(e.ctx, e.creds, e.pop("/jail"), &vfs.GetDentryOptions{CheckSearchable: true})
	wantErr(t, "get /jail", err, nil)
	defer jail.DecRef()
	e.symlink("/etc/passwd", "/jail/link")
	for _, p := range []string{"../../etc/passwd", "/../etc/passwd", "etc/../../etc/passwd", "link"} {
		fd, err := e.vfs.OpenAt(e.ctx, e.creds, &vfs.PathOperation{Root: jail, Start: jail, Path: p, FollowFinalSymlink: true}, &vfs.OpenOptions{Flags: linux.O_RDONLY})
		if err != nil {
			t.Errorf("jail %q: %v", p, err)
			continue
		}
		if got, _ := readAll(e.ctx, fd); got != "inside" {
			t.Errorf("jail %q read %q", p, got)
		}
		fd.DecRef(e.ctx)
	}
	// getcwd of the jail from inside it is "/".
	if p, err := e.vfs.PathnameForGetcwd(jail, jail); err != nil || p != "/" {
		t.Errorf("getcwd in jail: %q %v", p, err)
	}
	// and from outside the jail, /etc is unreachable.
	etc, _ := e.vfs.GetDentryAt(e.ctx, e.creds, e.pop("/etc"), nil)
	defer etc.DecRef()
	if p, _ := e.vfs.PathnameForGetcwd(jail, etc); !strings.HasPrefix(p, "(unreachable)") {
		t.Errorf("cwd outside root: %q", p)
	}
}

func TestTrailingSlash(t *testing.T) {
	e := newEnv(t)
	e.writeFile("/file", "x", 0644)
	e.mkdir("/dir", 0755)
	e.symlink("dir", "/dirlink")
	e.symlink("file", "/filelink")

	_, err := e.vfs.StatAt(e.ctx, e.creds, e.pop("/file/"), vfs.StatOptions{})
	wantErr(t, "stat file/", err, linux.ENOTDIR)
	_, err = e.vfs.StatAt(e.ctx, e.creds, e.pop("/file/."), vfs.StatOptions{})
	wantErr(t, "stat file/.", err, linux.ENOTDIR)
	// A trailing slash follows a final symlink even for lstat.
	st, err := e.vfs.StatAt(e.ctx, e.creds, e.nofollow("/dirlink/"), vfs.StatOptions{})
	wantErr(t, "lstat dirlink/", err, nil)
	if st.Mode&linux.S_IFMT != linux.S_IFDIR {
		t.Errorf("lstat dirlink/: mode %#o", st.Mode)
	}
	_, err = e.vfs.StatAt(e.ctx, e.creds, e.nofollow("/filelink/"), vfs.StatOptions{})
	wantErr(t, "lstat filelink/", err, linux.ENOTDIR)

	wantErr(t, "mkdir new/", e.vfs.MkdirAt(e.ctx, e.creds, e.pop("/new//"), 0755), nil)
	_, err = e.open(e.creds, "/newfile/", linux.O_CREAT|linux.O_WRONLY, 0644)
	wantErr(t, "creat newfile/", err, linux.EISDIR)
	wantErr(t, "unlink file/", e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/file/")), linux.ENOTDIR)
	wantErr(t, "mknod x/", e.vfs.MknodAt(e.ctx, e.creds, e.pop("/x/"), vfs.CreateOptions{Mode: linux.S_IFREG | 0644}), linux.ENOENT)
	wantErr(t, "rmdir dir/", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/dir/")), nil)
	wantErr(t, "rename file/", e.vfs.RenameAt(e.ctx, e.creds, e.pop("/file/"), e.pop("/f2"), 0), linux.ENOTDIR)
}

func TestNameLimits(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("n", 256)
	wantErr(t, "NAME_MAX+1", e.vfs.MkdirAt(e.ctx, e.creds, e.pop("/"+long), 0755), linux.ENAMETOOLONG)
	wantErr(t, "NAME_MAX", e.vfs.MkdirAt(e.ctx, e.creds, e.pop("/"+long[:255]), 0755), nil)
	path := strings.Repeat("a/", 2048)
	_, err := e.vfs.StatAt(e.ctx, e.creds, e.pop(path), vfs.StatOptions{})
	wantErr(t, "PATH_MAX", err, linux.ENAMETOOLONG)
	_, err = e.vfs.StatAt(e.ctx, e.creds, e.pop(""), vfs.StatOptions{})
	wantErr(t, "empty path", err, linux.ENOENT)
	p := e.pop("")
	p.AllowEmptyPath = true
	_, err = e.vfs.StatAt(e.ctx, e.creds, p, vfs.StatOptions{})
	wantErr(t, "AT_EMPTY_PATH", err, nil)
	wantErr(t, "long symlink", e.vfs.SymlinkAt(e.ctx, e.creds, e.pop("/s"), strings.Repeat("x", 4096)), linux.ENAMETOOLONG)
}

func TestMountCrossing(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/mnt", 0755)
	e.writeFile("/mnt/hidden", "under", 0644)
	mnt, err := e.vfs.MountAt(e.ctx, e.creds, "none", e.pop("/mnt"), "tmpfs", &vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.vfs.StatAt(e.ctx, e.creds, e.pop("/mnt/hidden"), vfs.StatOptions{})
	wantErr(t, "covered file", err, linux.ENOENT)
	e.writeFile("/mnt/f", "over", 0644)
	rootSt, mntSt := e.stat("/"), e.stat("/mnt")
	if rootSt.DevMinor == mntSt.DevMinor {
		t.Error("mount has the same st_dev as its parent")
	}
	if mntSt.Attributes&linux.STATX_ATTR_MOUNT_ROOT == 0 || mntSt.MntID != mnt.ID() {
		t.Errorf("mount root attrs: %#x id %d", mntSt.Attributes, mntSt.MntID)
	}
	// .. climbs out of the mount.
	e.writeFile("/top", "top", 0644)
	if got := e.readFile("/mnt/../top"); got != "top" {
		t.Errorf("/mnt/../top: %q", got)
	}
	// A second mount stacks on the first.
	if _, err := e.vfs.MountAt(e.ctx, e.creds, "none", e.pop("/mnt"), "tmpfs", &vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.vfs.StatAt(e.ctx, e.creds, e.pop("/mnt/f"), vfs.StatOptions{})
	wantErr(t, "stacked mount hides first", err, linux.ENOENT)
	wantErr(t, "umount top", e.vfs.UmountAt(e.ctx, e.creds, e.pop("/mnt"), &vfs.UmountOptions{}), nil)
	if got := e.readFile("/mnt/f"); got != "over" {
		t.Errorf("after unstack: %q", got)
	}

	// Busy: an open file, then a mount below.
	fd, err := e.open(e.creds, "/mnt/f", linux.O_RDONLY, 0)
	wantErr(t, "open", err, nil)
	wantErr(t, "umount busy", e.vfs.UmountAt(e.ctx, e.creds, e.pop("/mnt"), &vfs.UmountOptions{}), linux.EBUSY)
	fd.DecRef(e.ctx)
	e.mkdir("/mnt/sub", 0755)
	if _, err := e.vfs.MountAt(e.ctx, e.creds, "none", e.pop("/mnt/sub"), "tmpfs", &vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "umount with child", e.vfs.UmountAt(e.ctx, e.creds, e.pop("/mnt"), &vfs.UmountOptions{}), linux.EBUSY)
	wantErr(t, "rmdir mountpoint", e.vfs.RmdirAt(e.ctx, e.creds, e.pop("/mnt/sub")), linux.EBUSY)
	wantErr(t, "umount non-root", e.vfs.UmountAt(e.ctx, e.creds, e.pop("/mnt/f"), &vfs.UmountOptions{}), linux.EINVAL)
	wantErr(t, "umount /", e.vfs.UmountAt(e.ctx, e.creds, e.pop("/"), &vfs.UmountOptions{}), linux.EINVAL)
	// MNT_DETACH takes the whole subtree away.
	wantErr(t, "lazy umount", e.vfs.UmountAt(e.ctx, e.creds, e.pop("/mnt"), &vfs.UmountOptions{Flags: linux.MNT_DETACH}), nil)
	if got := e.readFile("/mnt/hidden"); got != "under" {
		t.Errorf("after umount: %q", got)
	}
	if mnt.Refs() != 0 {
		t.Errorf("mount refs leaked: %d", mnt.Refs())
	}
}

func TestBindMountAndReadOnly(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/src", 0755)
	e.mkdir("/src/d", 0755)
	e.writeFile("/src/d/f", "shared", 0644)
	e.mkdir("/dst", 0755)
	mnt, err := e.vfs.BindAt(e.ctx, e.creds, e.pop("/src/d"), e.pop("/dst"), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.readFile("/dst/f"); got != "shared" {
		t.Errorf("bind: %q", got)
	}
	e.writeFile("/dst/g", "via bind", 0644)
	if got := e.readFile("/src/d/g"); got != "via bind" {
		t.Errorf("bind write-through: %q", got)
	}
	// .. from a bind mount's root goes to the mountpoint's parent, not
	// the source's.
	e.writeFile("/marker", "root", 0644)
	if got := e.readFile("/dst/../marker"); got != "root" {
		t.Errorf("bind ..: %q", got)
	}
	mnt.SetFlags(linux.MS_RDONLY | linux.MS_NOEXEC)
	_, err = e.open(e.creds, "/dst/f", linux.O_WRONLY, 0)
	wantErr(t, "write on ro", err, linux.EROFS)
	_, err = e.open(e.creds, "/dst/new", linux.O_WRONLY|linux.O_CREAT, 0644)
	wantErr(t, "create on ro", err, linux.EROFS)
	wantErr(t, "unlink on ro", e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/dst/f")), linux.EROFS)
	wantErr(t, "chmod on ro", e.vfs.SetStatAt(e.ctx, e.creds, e.pop("/dst/f"), vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0600}), linux.EROFS)
	wantErr(t, "rename across mounts", e.vfs.RenameAt(e.ctx, e.creds, e.pop("/src/d/f"), e.pop("/dst/h"), 0), linux.EXDEV)
	e.writeFile("/src/d/x", "#!", 0755)
	wantErr(t, "exec on noexec", e.vfs.AccessAt(e.ctx, e.creds, e.pop("/dst/x"), 1), linux.EACCES)
	wantErr(t, "exec elsewhere", e.vfs.AccessAt(e.ctx, e.creds, e.pop("/src/d/x"), 1), nil)
	st, err := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/dst"))
	wantErr(t, "statfs", err, nil)
	if st.Flags&linux.ST_RDONLY == 0 || st.Type != linux.TMPFS_MAGIC {
		t.Errorf("statfs flags %#x type %#x", st.Flags, st.Type)
	}
}

func TestResolveFlags(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/base", 0755)
	e.mkdir("/base/sub", 0755)
	e.writeFile("/base/f", "b", 0644)
	e.writeFile("/outside", "o", 0644)
	e.symlink("/f", "/base/abs")
	e.symlink("f", "/base/rel")
	e.mkdir("/base/mnt", 0755)
	if _, err := e.vfs.MountAt(e.ctx, e.creds, "none", e.pop("/base/mnt"), "tmpfs", &vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	base, _ := e.vfs.GetDentryAt(e.ctx, e.creds, e.pop("/base"), nil)
	defer base.DecRef()
	open := func(path string, resolve uint64) error {
		fd, err := e.vfs.OpenAt(e.ctx, e.creds, &vfs.PathOperation{Root: e.root, Start: base, Path: path, FollowFinalSymlink: true, Resolve: resolve}, &vfs.OpenOptions{Flags: linux.O_RDONLY})
		if fd != nil {
			fd.DecRef(e.ctx)
		}
		return err
	}
	wantErr(t, "beneath ..", open("../outside", linux.RESOLVE_BENEATH), linux.EXDEV)
	wantErr(t, "beneath sub/..", open("sub/../f", linux.RESOLVE_BENEATH), nil)
	wantErr(t, "beneath absolute", open("/outside", linux.RESOLVE_BENEATH), linux.EXDEV)
	wantErr(t, "beneath abs link", open("abs", linux.RESOLVE_BENEATH), linux.EXDEV)
	wantErr(t, "in_root abs link", open("abs", linux.RESOLVE_IN_ROOT), nil)
	wantErr(t, "in_root ..", open("../../f", linux.RESOLVE_IN_ROOT), nil)
	wantErr(t, "no_symlinks", open("rel", linux.RESOLVE_NO_SYMLINKS), linux.ELOOP)
	wantErr(t, "no_xdev", open("mnt", linux.RESOLVE_NO_XDEV), linux.EXDEV)
	wantErr(t, "no_xdev ok", open("sub", linux.RESOLVE_NO_XDEV), nil)
	wantErr(t, "both", open("f", linux.RESOLVE_BENEATH|linux.RESOLVE_IN_ROOT), linux.EINVAL)
}
