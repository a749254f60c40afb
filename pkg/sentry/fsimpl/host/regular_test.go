package host

import (
	"context"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

func tempFile(t *testing.T, content string, oflags int) int {
	t.Helper()
	path := t.TempDir() + "/f"
	if err := os.WriteFile(path, []byte(content), 0644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, oflags|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestRegularFileIO(t *testing.T) {
	ctx := context.Background()
	hfd := tempFile(t, "0123456789", unix.O_RDWR)
	fd := wrap(t, hfd, FDOptions{})
	if fd.IsStream() {
		t.Fatal("regular file is a stream")
	}
	expect(t, read(t, fd, 4), []byte("0123"))
	if fd.Offset() != 4 {
		t.Fatalf("offset %d after reading 4", fd.Offset())
	}
	buf := make([]byte, 3)
	if n, err := fd.PRead(ctx, vfs.BytesIOSequence(buf), 7, vfs.ReadOptions{}); err != nil || n != 3 {
		t.Fatalf("PRead = %d, %v", n, err)
	}
	expect(t, buf, []byte("789"))
	if fd.Offset() != 4 {
		t.Fatal("PRead moved the offset")
	}
	if n, err := fd.PWrite(ctx, vfs.BytesIOSequence([]byte("AB")), 1, vfs.WriteOptions{}); err != nil || n != 2 {
		t.Fatalf("PWrite = %d, %v", n, err)
	}
	write(t, fd, []byte("xy")) // at offset 4
	if off, err := fd.Seek(ctx, 0, linux.SEEK_SET); err != nil || off != 0 {
		t.Fatalf("Seek = %d, %v", off, err)
	}
	expect(t, read(t, fd, 100), []byte("0AB3xy6789"))
	if got := read(t, fd, 100); len(got) != 0 {
		t.Fatalf("read at end = %q", got)
	}

	// Writes past the end extend the host file; SEEK_END sees it.
	if _, err := fd.PWrite(ctx, vfs.BytesIOSequence([]byte("Z")), 20, vfs.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if off, err := fd.Seek(ctx, -1, linux.SEEK_END); err != nil || off != 20 {
		t.Fatalf("SEEK_END = %d, %v; want 20", off, err)
	}
	if off, err := fd.Seek(ctx, 2, linux.SEEK_CUR); err != nil || off != 22 {
		t.Fatalf("SEEK_CUR = %d, %v", off, err)
	}
	if _, err := fd.Seek(ctx, -100, linux.SEEK_CUR); err != linux.EINVAL {
		t.Fatalf("negative seek = %v, want EINVAL", err)
	}
	// The host answers SEEK_DATA/SEEK_HOLE; past the end is ENXIO.
	if off, err := fd.Seek(ctx, 0, linux.SEEK_DATA); err != nil || off != 0 {
		t.Fatalf("SEEK_DATA = %d, %v", off, err)
	}
	if off, err := fd.Seek(ctx, 0, linux.SEEK_HOLE); err != nil || off < 10 || off > 21 {
		t.Fatalf("SEEK_HOLE = %d, %v", off, err)
	}
	if _, err := fd.Seek(ctx, 100, linux.SEEK_DATA); err != linux.ENXIO {
		t.Fatalf("SEEK_DATA past end = %v, want ENXIO", err)
	}

	st, err := fd.Stat(ctx, vfs.StatOptions{Mask: linux.STATX_BASIC_STATS})
	if err != nil || st.Size != 21 || linux.FileMode(st.Mode).FileType() != linux.S_IFREG || st.Mode&0777 != 0644 {
		t.Fatalf("Stat = %+v, %v", st, err)
	}

	// FIONREAD on a regular file is what lies after the offset.
	if _, err := fd.Seek(ctx, 5, linux.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	mem := newUserMem()
	if _, err := fd.Ioctl(ctx, mem, linux.FIONREAD, memBase); err != nil || mem.int32At(memBase) != 16 {
		t.Fatalf("FIONREAD = %d, %v; want 16", mem.int32At(memBase), err)
	}
	if _, err := fd.Ioctl(ctx, mem, linux.TIOCGWINSZ, memBase); err != linux.ENOTTY {
		t.Fatalf("TIOCGWINSZ = %v, want ENOTTY", err)
	}
	if err := fd.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}

	creds := auth.NewRootCredentials(auth.NewRootUserNamespace())
	if err := fd.SetStat(ctx, creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 3}); err != nil {
		t.Fatal(err)
	}
	if err := fd.SetStat(ctx, creds, vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0600}); err != nil {
		t.Fatal(err)
	}
	var hst unix.Stat_t
	unix.Fstat(hfd, &hst)
	if hst.Size != 3 || hst.Mode&0777 != 0600 {
		t.Fatalf("host file after truncate/chmod: size %d mode %o", hst.Size, hst.Mode&0777)
	}
}

func TestRegularFileAppend(t *testing.T) {
	ctx := context.Background()
	// The host fd is O_APPEND: the sandbox sees O_APPEND and its writes
	// go to the end, while pwrite offsets keep working for a file
	// whose O_APPEND was cleared.
	hfd := tempFile(t, "abc", unix.O_RDWR|unix.O_APPEND)
	fd := wrap(t, hfd, FDOptions{})
	if fd.StatusFlags()&linux.O_APPEND == 0 {
		t.Fatal("O_APPEND not taken from the host")
	}
	write(t, fd, []byte("de"))
	if fd.Offset() != 5 {
		t.Fatalf("offset after append %d, want 5", fd.Offset())
	}
	if err := fd.SetStatusFlags(ctx, nil, linux.O_RDWR); err != nil {
		t.Fatal(err)
	}
	if _, err := fd.PWrite(ctx, vfs.BytesIOSequence([]byte("X")), 0, vfs.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	n, _ := unix.Pread(hfd, buf, 0)
	expect(t, buf[:n], []byte("Xbcde"))
}

func TestLargeRegularRead(t *testing.T) {
	data := make([]byte, 3*maxChunk+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	path := t.TempDir() + "/big"
	os.WriteFile(path, data, 0600)
	hfd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd := wrap(t, hfd, FDOptions{})
	// A regular file read is not short just because it is large.
	expect(t, read(t, fd, len(data)+10), data)
	if _, err := fd.Write(context.Background(), vfs.BytesIOSequence([]byte("x")), vfs.WriteOptions{}); err != linux.EBADF {
		t.Fatalf("write to O_RDONLY = %v, want EBADF", err)
	}
}

func TestStreamsRejectOffsets(t *testing.T) {
	ctx := context.Background()
	r, w := hostPipe(t)
	defer unix.Close(w)
	fd := wrap(t, r, FDOptions{})
	if _, err := fd.Seek(ctx, 0, linux.SEEK_CUR); err != linux.ESPIPE {
		t.Fatalf("Seek on pipe = %v, want ESPIPE", err)
	}
	if _, err := fd.PRead(ctx, vfs.BytesIOSequence(make([]byte, 1)), 0, vfs.ReadOptions{}); err != linux.ESPIPE {
		t.Fatalf("PRead on pipe = %v, want ESPIPE", err)
	}
}

func TestStatTypes(t *testing.T) {
	ctx := context.Background()
	v := vfs.New()
	r, w := hostPipe(t)
	defer unix.Close(w)
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sp[1])
	null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	reg := tempFile(t, "12345", unix.O_RDONLY)

	cases := []struct {
		name string
		fd   int
		typ  linux.FileMode
		size uint64
	}{
		{"pipe", r, linux.S_IFIFO, 0},
		{"socket", sp[0], linux.S_IFSOCK, 0},
		{"/dev/null", null, linux.S_IFCHR, 0},
		{"regular", reg, linux.S_IFREG, 5},
	}
	inos := map[uint64]string{}
	var dev uint32
	for i, c := range cases {
		var hst unix.Stat_t
		unix.Fstat(c.fd, &hst)
		fd := wrapIn(t, v, c.fd, FDOptions{})
		st, err := fd.Stat(ctx, vfs.StatOptions{Mask: linux.STATX_BASIC_STATS})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := linux.FileMode(st.Mode).FileType(); got != c.typ {
			t.Errorf("%s: type %#o, want %#o", c.name, got, c.typ)
		}
		if st.Mode != uint16(hst.Mode) || st.UID != hst.Uid || st.Size != c.size ||
			st.Mtime.Sec != hst.Mtim.Sec || st.Mtime.Nsec != uint32(hst.Mtim.Nsec) {
			t.Errorf("%s: stat %+v does not reflect host %+v", c.name, st, hst)
		}
		if st.Mask&linux.STATX_BASIC_STATS != linux.STATX_BASIC_STATS {
			t.Errorf("%s: mask %#x", c.name, st.Mask)
		}
		if prev, ok := inos[st.Ino]; ok {
			t.Errorf("%s and %s share inode %d", c.name, prev, st.Ino)
		}
		inos[st.Ino] = c.name
		if i == 0 {
			dev = st.DevMinor
		} else if st.DevMinor != dev || st.DevMajor != 0 {
			t.Errorf("%s: device %d:%d, want 0:%d like the others", c.name, st.DevMajor, st.DevMinor, dev)
		}
		if c.typ == linux.S_IFCHR && (st.RdevMajor != 1 || st.RdevMinor != 3) {
			t.Errorf("/dev/null rdev %d:%d, want 1:3", st.RdevMajor, st.RdevMinor)
		}
		// Stable: a second stat agrees.
		if st2, _ := fd.Stat(ctx, vfs.StatOptions{}); st2.Ino != st.Ino || st2.DevMinor != st.DevMinor {
			t.Errorf("%s: inode or device changed between stats", c.name)
		}
	}
}

func TestNewFDRejects(t *testing.T) {
	dir, err := unix.Open(t.TempDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dir)
	if _, err := NewFD(context.Background(), vfs.New(), dir, FDOptions{}); err != linux.EINVAL {
		t.Fatalf("NewFD(directory) = %v, want EINVAL", err)
	}
	if !isOpen(dir) {
		t.Fatal("failed NewFD closed the caller's fd")
	}
	if _, err := NewFD(context.Background(), vfs.New(), 1<<20, FDOptions{}); err != linux.EBADF {
		t.Fatalf("NewFD(bad fd) = %v, want EBADF", err)
	}
}
