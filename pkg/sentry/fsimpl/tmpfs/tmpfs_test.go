package tmpfs_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/state"
	"appkernel.dev/appkernel/pkg/waiter"
)

type env struct {
	ctx   context.Context
	vfs   *vfs.VirtualFilesystem
	root  vfs.VirtualDentry
	creds *auth.Credentials
}

func newEnv(t *testing.T, data string) *env {
	t.Helper()
	v := vfs.New()
	v.RegisterFilesystemType(tmpfs.FilesystemType{}, &vfs.RegisterFilesystemTypeOptions{AllowUserMount: true})
	creds := auth.NewRootCredentials(auth.NewRootUserNamespace())
	ctx := context.Background()
	ns, err := v.NewMountNamespace(ctx, creds, "", tmpfs.Name, &vfs.MountOptions{GetFilesystemOptions: vfs.GetFilesystemOptions{Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{ctx: ctx, vfs: v, root: ns.Root(), creds: creds}
}

func (e *env) pop(p string) *vfs.PathOperation {
	return &vfs.PathOperation{Root: e.root, Start: e.root, Path: p, FollowFinalSymlink: true}
}

func (e *env) open(ctx context.Context, p string, flags uint32) (*vfs.FileDescription, error) {
	return e.vfs.OpenAt(ctx, e.creds, e.pop(p), &vfs.OpenOptions{Flags: flags, Mode: 0644})
}

func (e *env) stat(t *testing.T, p string) linux.Statx {
	t.Helper()
	st, err := e.vfs.StatAt(e.ctx, e.creds, e.pop(p), vfs.StatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestMountOptions(t *testing.T) {
	e := newEnv(t, "mode=0700,uid=12,gid=34,size=8k")
	st := e.stat(t, "/")
	if st.Mode != linux.S_IFDIR|0700 || st.UID != 12 || st.GID != 34 {
		t.Errorf("root: %#o %d:%d", st.Mode, st.UID, st.GID)
	}
	fs, err := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/"))
	if err != nil || fs.Type != linux.TMPFS_MAGIC || fs.Blocks != 2 || fs.BlocksFree != 2 || fs.NameLength != 255 {
		t.Errorf("statfs: %+v %v", fs, err)
	}
	// Two pages fit; the third does not.
	fd, _ := e.open(e.ctx, "/f", linux.O_CREAT|linux.O_RDWR)
	n, err := fd.Write(e.ctx, vfs.BytesIOSequence(make([]byte, 3*linux.PageSize)), vfs.WriteOptions{})
	if n != 2*linux.PageSize || err != nil {
		t.Errorf("write past size limit: %d %v", n, err)
	}
	if _, err := fd.Write(e.ctx, vfs.BytesIOSequence([]byte("x")), vfs.WriteOptions{}); !errors.Is(err, linux.ENOSPC) {
		t.Errorf("full fs: %v", err)
	}
	if fs, _ := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/")); fs.BlocksFree != 0 {
		t.Errorf("free blocks %d", fs.BlocksFree)
	}
	// Unlinking the open file frees nothing until it is closed.
	e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/f"))
	if fs, _ := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/")); fs.BlocksFree != 0 {
		t.Error("space freed while open")
	}
	fd.DecRef(e.ctx)
	if fs, _ := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/")); fs.BlocksFree != 2 {
		t.Errorf("space not freed after close: %d", fs.BlocksFree)
	}
	for _, bad := range []string{"mode=999", "size=abc", "bogus=1", "uid", "nr_blocks=3"} {
		if _, err := tmpfs.ParseOptions(bad, e.creds); !errors.Is(err, linux.EINVAL) {
			t.Errorf("option %q: %v", bad, err)
		}
	}
	if o, _ := tmpfs.ParseOptions("size=1", e.creds); o.MaxSize != linux.PageSize {
		t.Errorf("size rounds to a page: %d", o.MaxSize)
	}
}

func TestTimestamps(t *testing.T) {
	e := newEnv(t, "")
	e.vfs.MkdirAt(e.ctx, e.creds, e.pop("/d"), 0755)
	d0 := e.stat(t, "/d")
	time.Sleep(2 * time.Millisecond)
	fd, _ := e.open(e.ctx, "/d/f", linux.O_CREAT|linux.O_RDWR)
	defer fd.DecRef(e.ctx)
	d1 := e.stat(t, "/d")
	if !after(d1.Mtime, d0.Mtime) || !after(d1.Ctime, d0.Ctime) {
		t.Error("create did not update the directory's mtime/ctime")
	}
	f0 := e.stat(t, "/d/f")
	if f0.Btime != f0.Mtime || f0.Mask&linux.STATX_BTIME == 0 {
		t.Error("btime")
	}
	time.Sleep(2 * time.Millisecond)
	fd.Write(e.ctx, vfs.BytesIOSequence([]byte("abc")), vfs.WriteOptions{})
	f1 := e.stat(t, "/d/f")
	if !after(f1.Mtime, f0.Mtime) || !after(f1.Ctime, f0.Ctime) || f1.Atime != f0.Atime {
		t.Error("write: mtime/ctime must move, atime must not")
	}
	time.Sleep(2 * time.Millisecond)
	fd.PRead(e.ctx, vfs.BytesIOSequence(make([]byte, 3)), 0, vfs.ReadOptions{})
	f2 := e.stat(t, "/d/f")
	if !after(f2.Atime, f1.Atime) || f2.Mtime != f1.Mtime {
		t.Error("read: atime must move (relatime: atime <= mtime), mtime must not")
	}
	time.Sleep(2 * time.Millisecond)
	fd.PRead(e.ctx, vfs.BytesIOSequence(make([]byte, 3)), 0, vfs.ReadOptions{})
	if f3 := e.stat(t, "/d/f"); f3.Atime != f2.Atime {
		t.Error("relatime: second read moved atime")
	}
	time.Sleep(2 * time.Millisecond)
	e.vfs.SetStatAt(e.ctx, e.creds, e.pop("/d/f"), vfs.SetStatOptions{Mask: linux.STATX_MODE, Mode: 0600})
	f4 := e.stat(t, "/d/f")
	if !after(f4.Ctime, f2.Ctime) || f4.Mtime != f2.Mtime {
		t.Error("chmod: ctime only")
	}
	e.vfs.SetStatAt(e.ctx, e.creds, e.pop("/d/f"), vfs.SetStatOptions{
		Mask: linux.STATX_ATIME | linux.STATX_MTIME, Atime: linux.Timespec{Sec: 100, Nsec: 5}, Mtime: linux.Timespec{Sec: 200}})
	f5 := e.stat(t, "/d/f")
	if f5.Atime.Sec != 100 || f5.Atime.Nsec != 5 || f5.Mtime.Sec != 200 {
		t.Errorf("utimensat: %+v %+v", f5.Atime, f5.Mtime)
	}
	time.Sleep(2 * time.Millisecond)
	e.vfs.LinkAt(e.ctx, e.creds, e.pop("/d/f"), e.pop("/d/g"))
	if f6 := e.stat(t, "/d/f"); !after(f6.Ctime, f5.Ctime) || f6.Nlink != 2 {
		t.Error("link: ctime and nlink")
	}
	// Truncation through the fd (ftruncate) needs a writable fd.
	ro, _ := e.open(e.ctx, "/d/f", linux.O_RDONLY)
	if err := ro.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 1}); !errors.Is(err, linux.EINVAL) {
		t.Errorf("ftruncate read-only: %v", err)
	}
	ro.DecRef(e.ctx)
	if err := fd.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 10000}); err != nil {
		t.Error(err)
	}
	if st := e.stat(t, "/d/f"); st.Size != 10000 || st.Blocks != 8 {
		t.Errorf("after extend: size %d blocks %d", st.Size, st.Blocks)
	}
	fd.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 1})
	fd.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 3})
	b := make([]byte, 3)
	fd.PRead(e.ctx, vfs.BytesIOSequence(b), 0, vfs.ReadOptions{})
	if string(b) != "a\x00\x00" {
		t.Errorf("shrink then grow reads %q", b)
	}
}

func after(a, b linux.StatxTimestamp) bool {
	return a.Sec > b.Sec || (a.Sec == b.Sec && a.Nsec > b.Nsec)
}

func TestFallocate(t *testing.T) {
	e := newEnv(t, "")
	fd, _ := e.open(e.ctx, "/f", linux.O_CREAT|linux.O_RDWR)
	defer fd.DecRef(e.ctx)
	if err := fd.Allocate(e.ctx, 0, 0, 3*linux.PageSize); err != nil {
		t.Fatal(err)
	}
	if st := e.stat(t, "/f"); st.Size != 3*linux.PageSize || st.Blocks != 24 {
		t.Errorf("allocate: %d %d", st.Size, st.Blocks)
	}
	if err := fd.Allocate(e.ctx, linux.FALLOC_FL_PUNCH_HOLE|linux.FALLOC_FL_KEEP_SIZE, linux.PageSize, linux.PageSize); err != nil {
		t.Fatal(err)
	}
	if st := e.stat(t, "/f"); st.Size != 3*linux.PageSize || st.Blocks != 16 {
		t.Errorf("punch: %d %d", st.Size, st.Blocks)
	}
	if off, _ := fd.Seek(e.ctx, 0, linux.SEEK_HOLE); off != linux.PageSize {
		t.Errorf("hole at %d", off)
	}
	if err := fd.Allocate(e.ctx, linux.FALLOC_FL_PUNCH_HOLE, 0, 1); !errors.Is(err, linux.EINVAL) {
		t.Errorf("punch without keep_size: %v", err)
	}
	if err := fd.Allocate(e.ctx, linux.FALLOC_FL_COLLAPSE_RANGE, 0, 1); !errors.Is(err, linux.EOPNOTSUPP) {
		t.Errorf("collapse: %v", err)
	}
}

func TestFIFO(t *testing.T) {
	e := newEnv(t, "")
	if err := e.vfs.MknodAt(e.ctx, e.creds, e.pop("/fifo"), vfs.CreateOptions{Mode: linux.S_IFIFO | 0666}); err != nil {
		t.Fatal(err)
	}
	// No reader: a non-blocking writer gets ENXIO.
	if _, err := e.open(e.ctx, "/fifo", linux.O_WRONLY|linux.O_NONBLOCK); !errors.Is(err, linux.ENXIO) {
		t.Errorf("O_WRONLY|O_NONBLOCK without reader: %v", err)
	}
	// A non-blocking reader opens at once, and sees no hang-up until a
	// writer has come and gone.
	nr, err := e.open(e.ctx, "/fifo", linux.O_RDONLY|linux.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	if ev := nr.Readiness(waiter.AllEvents); ev != 0 {
		t.Errorf("fresh FIFO reader readiness %#x", ev)
	}
	nr.DecRef(e.ctx)

	// A blocking reader waits for a writer.
	opened := make(chan *vfs.FileDescription)
	go func() {
		r, err := e.open(e.ctx, "/fifo", linux.O_RDONLY)
		if err != nil {
			t.Error(err)
		}
		opened <- r
	}()
	select {
	case <-opened:
		t.Fatal("O_RDONLY open did not wait for a writer")
	case <-time.After(20 * time.Millisecond):
	}
	w, err := e.open(e.ctx, "/fifo", linux.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	r := <-opened
	w.Write(e.ctx, vfs.BytesIOSequence([]byte("via fifo")), vfs.WriteOptions{})
	b := make([]byte, 20)
	n, _ := r.Read(e.ctx, vfs.BytesIOSequence(b), vfs.ReadOptions{})
	if string(b[:n]) != "via fifo" {
		t.Errorf("read %q", b[:n])
	}
	// fstat shows the FIFO's own inode.
	if st, _ := r.Stat(e.ctx, vfs.StatOptions{}); st.Ino != e.stat(t, "/fifo").Ino {
		t.Error("fifo fd stat is not the node's")
	}
	w.DecRef(e.ctx)
	if r.Readiness(waiter.AllEvents)&waiter.EventHUp == 0 {
		t.Error("no hang-up after writer left")
	}
	r.DecRef(e.ctx)

	// O_RDWR never waits. A blocking writer waits for a reader, and an
	// interrupted wait gives up.
	rw, err := e.open(e.ctx, "/fifo", linux.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	rw.DecRef(e.ctx)
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := e.open(ctx, "/fifo", linux.O_WRONLY); !errors.Is(err, vfs.ErrInterrupted) {
		t.Errorf("interrupted writer open: %v", err)
	}
	// After the interrupted open no writer is left behind.
	nr, _ = e.open(e.ctx, "/fifo", linux.O_RDONLY|linux.O_NONBLOCK)
	if n, err := nr.Read(e.ctx, vfs.BytesIOSequence(b), vfs.ReadOptions{}); n != 0 || err != nil {
		t.Errorf("read with no writer: %d %v", n, err)
	}
	nr.DecRef(e.ctx)
}

// A tmpfs without the sandbox's memory file keeps file data in a memory
// file no checkpoint saves, so the files carry their bytes themselves.
func TestSaveRestoreFallback(t *testing.T) {
	e := newEnv(t, "size=64k")
	fd, _ := e.open(e.ctx, "/f", linux.O_CREAT|linux.O_RDWR)
	fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("first")), 0, vfs.WriteOptions{})
	fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("third")), 2*linux.PageSize+1, vfs.WriteOptions{})
	tab := vfs.NewFDTable()
	tab.NewFD(e.ctx, 0, fd, vfs.FDFlags{})
	fd.DecRef(e.ctx)
	var buf bytes.Buffer
	if err := state.Save(&buf, tab); err != nil {
		t.Fatal(err)
	}
	restored := &vfs.FDTable{}
	if err := state.Load(bytes.NewReader(buf.Bytes()), restored); err != nil {
		t.Fatal(err)
	}
	rfd, _ := restored.Get(0)
	defer rfd.DecRef(e.ctx)
	b := make([]byte, 3*linux.PageSize)
	n, _ := rfd.PRead(e.ctx, vfs.BytesIOSequence(b), 0, vfs.ReadOptions{})
	if n != 2*linux.PageSize+6 || string(b[:5]) != "first" || string(b[2*linux.PageSize+1:n]) != "third" ||
		!bytes.Equal(b[5:2*linux.PageSize+1], make([]byte, 2*linux.PageSize-4)) {
		t.Errorf("restored file reads %d bytes: %q ... %q", n, b[:5], b[2*linux.PageSize:n])
	}
	if st, _ := rfd.Stat(e.ctx, vfs.StatOptions{}); st.Blocks != 16 {
		t.Errorf("restored file has %d blocks, want 16 (the hole stays a hole)", st.Blocks)
	}
	// Writes to the restored file are independent of the original.
	rfd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("FIRST")), 0, vfs.WriteOptions{})
	orig, _ := tab.Get(0)
	defer orig.DecRef(e.ctx)
	orig.PRead(e.ctx, vfs.BytesIOSequence(b[:5]), 0, vfs.ReadOptions{})
	if string(b[:5]) != "first" {
		t.Errorf("original reads %q after writing the restored copy", b[:5])
	}
}
