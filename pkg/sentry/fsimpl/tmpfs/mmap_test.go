package tmpfs_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/tmpfs"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/mm/mmtest"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

const page = linux.PageSize

// mmEnv is a tmpfs on a memory file and a memory manager over the same
// file with a fake platform address space.
type mmEnv struct {
	*env
	mf *pgalloc.MemoryFile
	mm *mm.MemoryManager
	fa *mmtest.Factory
}

func newMMEnv(t *testing.T, data string) *mmEnv {
	t.Helper()
	mf, err := pgalloc.New(pgalloc.Options{MaxSize: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	v := vfs.New()
	v.RegisterFilesystemType(tmpfs.FilesystemType{MemoryFile: mf}, &vfs.RegisterFilesystemTypeOptions{AllowUserMount: true})
	creds := auth.NewRootCredentials(auth.NewRootUserNamespace())
	ctx := context.Background()
	ns, err := v.NewMountNamespace(ctx, creds, "", tmpfs.Name, &vfs.MountOptions{GetFilesystemOptions: vfs.GetFilesystemOptions{Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	fa := &mmtest.Factory{}
	m, err := mm.New(mf, fa.New)
	if err != nil {
		t.Fatal(err)
	}
	m.SetMmapLayout(mm.MmapLayout{MinAddr: mm.DefaultMinAddr, MaxAddr: 0x7ffffffff000, TopDownBase: 0x7f0000000000,
		BottomUpBase: 0x2aaaaaaaa000, StackTop: 0x7ffffffff000})
	e := &mmEnv{env: &env{ctx: ctx, vfs: v, root: ns.Root(), creds: creds}, mf: mf, mm: m, fa: fa}
	t.Cleanup(func() {
		m.Release()
		mf.Destroy()
	})
	return e
}

// create makes path with data and returns it open read-write.
func (e *mmEnv) create(t *testing.T, path string, data []byte) *vfs.FileDescription {
	t.Helper()
	fd, err := e.open(e.ctx, path, linux.O_CREAT|linux.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := fd.PWrite(e.ctx, vfs.BytesIOSequence(data), 0, vfs.WriteOptions{}); err != nil || n != int64(len(data)) {
		t.Fatalf("pwrite: %d %v", n, err)
	}
	return fd
}

// mmap maps fd as mmap(2) would, with the checks the system call layer
// leaves to the file.
func (e *mmEnv) mmap(t *testing.T, fd *vfs.FileDescription, length uintptr, prot, flags int, off uint64) uintptr {
	t.Helper()
	addr, err := e.tryMmap(fd, length, prot, flags, off)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	return addr
}

func (e *mmEnv) tryMmap(fd *vfs.FileDescription, length uintptr, prot, flags int, off uint64) (uintptr, error) {
	o, err := mm.ParseMMap(0, length, prot, flags, off)
	if err != nil {
		return 0, err
	}
	if err := fd.ConfigureMMap(e.ctx, &o); err != nil {
		return 0, err
	}
	return e.mm.MMap(o)
}

// appView returns the bytes of the page at addr as the application sees
// them: it faults the page in like the platform would, then reads the
// memory-file page the fake address space maps there.
func (e *mmEnv) appView(t *testing.T, addr uintptr, at platform.AccessType) []byte {
	t.Helper()
	if err := e.mm.HandleFault(addr, at); err != nil {
		t.Fatalf("fault at %#x: %v", addr, err)
	}
	m, ok := e.fa.Last().Lookup(addr)
	if !ok {
		t.Fatalf("page %#x not mapped after fault", addr)
	}
	if at.Write && !m.At.Write {
		t.Fatalf("page %#x mapped %v after a write fault", addr, m.At)
	}
	return e.mf.Slice(pgalloc.Range{Start: m.Off, End: m.Off + page})
}

func (e *mmEnv) pread(t *testing.T, fd *vfs.FileDescription, n int, off int64) []byte {
	t.Helper()
	b := make([]byte, n)
	got, err := fd.PRead(e.ctx, vfs.BytesIOSequence(b), off, vfs.ReadOptions{})
	if err != nil {
		t.Fatalf("pread: %v", err)
	}
	return b[:got]
}

func TestMMapSharedCoherent(t *testing.T) {
	e := newMMEnv(t, "")
	fd := e.create(t, "/shm", append([]byte("hello"), make([]byte, 2*page-5)...))
	defer fd.DecRef(e.ctx)
	addr := e.mmap(t, fd, 2*page, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED, 0)

	// write(2) data shows through the mapping, in the page the platform
	// maps.
	view := e.appView(t, addr, platform.Read)
	if string(view[:5]) != "hello" {
		t.Fatalf("mapping reads %q", view[:5])
	}
	fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("HELLO")), 0, vfs.WriteOptions{})
	if string(view[:5]) != "HELLO" {
		t.Errorf("write after mapping not visible: %q", view[:5])
	}

	// Stores by the application (to the mapped page) and by the kernel on
	// its behalf (CopyOut) reach read(2).
	w := e.appView(t, addr+page, platform.ReadWrite)
	copy(w[10:], "from app")
	if got := e.pread(t, fd, 8, page+10); string(got) != "from app" {
		t.Errorf("pread after store through mapping: %q", got)
	}
	if _, err := e.mm.CopyOut(addr+100, []byte("copyout")); err != nil {
		t.Fatal(err)
	}
	if got := e.pread(t, fd, 7, 100); string(got) != "copyout" {
		t.Errorf("pread after CopyOut: %q", got)
	}

	// A second shared mapping (another process) sees the same page.
	addr2 := e.mmap(t, fd, page, linux.PROT_READ, linux.MAP_SHARED, page)
	if v := e.appView(t, addr2, platform.Read); string(v[10:18]) != "from app" {
		t.Errorf("second mapping reads %q", v[10:18])
	}

	// Pages are held by the file and the mapping, not copied.
	if st := e.stat(t, "/shm"); st.Blocks != 2*page/512 {
		t.Errorf("st_blocks %d", st.Blocks)
	}
}

func TestMMapPrivate(t *testing.T) {
	e := newMMEnv(t, "")
	fd := e.create(t, "/f", bytes.Repeat([]byte("a"), page))
	defer fd.DecRef(e.ctx)
	addr := e.mmap(t, fd, page, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_PRIVATE, 0)

	// Before its first write the private mapping reads the file's page,
	// so later file changes show.
	view := e.appView(t, addr, platform.Read)
	fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("b")), 0, vfs.WriteOptions{})
	if view[0] != 'b' {
		t.Errorf("private mapping before COW reads %q", view[:1])
	}
	// Its writes stay private.
	w := e.appView(t, addr, platform.ReadWrite)
	copy(w, "private")
	if _, err := e.mm.CopyOut(addr+100, []byte("also private")); err != nil {
		t.Fatal(err)
	}
	if got := e.pread(t, fd, 8, 0); string(got) != "baaaaaaa" {
		t.Errorf("private write reached the file: %q", got)
	}
	if got := e.pread(t, fd, 12, 100); string(got) != "aaaaaaaaaaaa" {
		t.Errorf("private CopyOut reached the file: %q", got)
	}
	// And later file writes no longer show in the copied page.
	fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("c")), 1, vfs.WriteOptions{})
	b := make([]byte, 7)
	e.mm.CopyIn(addr, b)
	if string(b) != "private" {
		t.Errorf("private page after COW reads %q", b)
	}
}

func TestMMapTruncateSIGBUS(t *testing.T) {
	e := newMMEnv(t, "")
	fd := e.create(t, "/f", bytes.Repeat([]byte("x"), 3*page))
	defer fd.DecRef(e.ctx)
	addr := e.mmap(t, fd, 3*page, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED, 0)
	for i := uintptr(0); i < 3; i++ {
		e.appView(t, addr+i*page, platform.ReadWrite)
	}
	before := e.mf.Allocated()

	if err := fd.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: page + 10}); err != nil {
		t.Fatal(err)
	}
	// The pages past the end are gone from the address space and from
	// the memory file.
	if _, ok := e.fa.Last().Lookup(addr + 2*page); ok {
		t.Error("page past EOF still mapped in the platform")
	}
	if got := e.mf.Allocated(); got != before-page {
		t.Errorf("memory file holds %d bytes after truncate, want %d", got, before-page)
	}
	var fe *mm.FaultError
	if err := e.mm.HandleFault(addr+2*page, platform.Read); !errors.As(err, &fe) || fe.Signal != linux.SIGBUS || fe.Code != linux.BUS_ADRERR {
		t.Errorf("fault past EOF: %v", err)
	}
	if _, err := e.mm.CopyIn(addr+2*page, make([]byte, 1)); !errors.Is(err, linux.EFAULT) {
		t.Errorf("CopyIn past EOF: %v", err)
	}
	// The page holding EOF stays, its tail reading zeros.
	v := e.appView(t, addr+page, platform.Read)
	if v[9] != 'x' || v[10] != 0 || v[page-1] != 0 {
		t.Errorf("page at EOF: %q %q %q", v[9], v[10], v[page-1])
	}
	// Growing the file again makes the range mappable, as zeros.
	fd.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 3 * page})
	if v := e.appView(t, addr+2*page, platform.Read); v[0] != 0 {
		t.Error("regrown page not zero")
	}
}

func TestMMapMemoryReturned(t *testing.T) {
	e := newMMEnv(t, "")
	start := e.mf.Allocated()

	// Unlink and close without a mapping.
	fd := e.create(t, "/a", make([]byte, 5*page))
	if e.mf.Allocated() != start+5*page {
		t.Errorf("allocated %d after writing 5 pages", e.mf.Allocated()-start)
	}
	e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/a"))
	fd.DecRef(e.ctx)
	if got := e.mf.Allocated(); got != start {
		t.Errorf("unlink+close left %d bytes", got-start)
	}

	// A mapping keeps an unlinked, closed file's data alive, and can
	// still fault in holes; munmap then returns everything.
	fd = e.create(t, "/b", []byte("keep me"))
	fd.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 4 * page})
	addr := e.mmap(t, fd, 4*page, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED, 0)
	e.appView(t, addr, platform.Read)
	e.vfs.UnlinkAt(e.ctx, e.creds, e.pop("/b"))
	fd.DecRef(e.ctx)
	if v := e.appView(t, addr, platform.Read); string(v[:7]) != "keep me" {
		t.Errorf("unlinked file's mapping reads %q", v[:7])
	}
	copy(e.appView(t, addr+3*page, platform.ReadWrite), "late")
	if e.mf.Allocated() == start {
		t.Fatal("data freed while mapped")
	}
	if err := e.mm.MUnmap(addr, 4*page); err != nil {
		t.Fatal(err)
	}
	if got := e.mf.Allocated(); got != start {
		t.Errorf("after munmap %d bytes left", got-start)
	}
	if fs, _ := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/")); fs.Blocks != 0 {
		t.Errorf("unlimited tmpfs reports %d blocks", fs.Blocks)
	}
}

func TestMMapSizeLimit(t *testing.T) {
	e := newMMEnv(t, "size=8k")
	fd := e.create(t, "/f", nil)
	defer fd.DecRef(e.ctx)
	fd.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 4 * page})
	addr := e.mmap(t, fd, 4*page, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED, 0)
	// Faults allocate (and charge) the holes they touch, up to the limit.
	e.appView(t, addr, platform.ReadWrite)
	e.appView(t, addr+page, platform.Read)
	if fs, _ := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/")); fs.BlocksFree != 0 {
		t.Errorf("free blocks %d after faulting two pages", fs.BlocksFree)
	}
	var fe *mm.FaultError
	if err := e.mm.HandleFault(addr+2*page, platform.ReadWrite); err == nil || errors.As(err, &fe) {
		t.Errorf("fault on a full tmpfs: %v", err)
	}
	if _, err := fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("x")), 3*page, vfs.WriteOptions{}); !errors.Is(err, linux.ENOSPC) {
		t.Errorf("write on a full tmpfs: %v", err)
	}
	// Punching a mapped page frees its space; the mapping faults a fresh
	// zero page back in.
	copy(e.appView(t, addr, platform.ReadWrite), "data")
	if err := fd.Allocate(e.ctx, linux.FALLOC_FL_PUNCH_HOLE|linux.FALLOC_FL_KEEP_SIZE, 0, page); err != nil {
		t.Fatal(err)
	}
	if fs, _ := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/")); fs.BlocksFree != 1 {
		t.Errorf("free blocks %d after punching a page", fs.BlocksFree)
	}
	if _, ok := e.fa.Last().Lookup(addr); ok {
		t.Error("punched page still mapped")
	}
	if v := e.appView(t, addr, platform.ReadWrite); v[0] != 0 {
		t.Error("fresh page not zero")
	}
	copy(e.appView(t, addr, platform.ReadWrite), "new")
	if got := e.pread(t, fd, 4, 0); string(got) != "new\x00" {
		t.Errorf("punched and rewritten page reads %q", got)
	}
	if got := e.pread(t, fd, 4, 2*page); !bytes.Equal(got, make([]byte, 4)) {
		t.Errorf("hole reads %q", got)
	}
	// fallocate that cannot be satisfied gives back what it took (page 1
	// here, after a punch) and leaves the size alone.
	fd.Allocate(e.ctx, linux.FALLOC_FL_PUNCH_HOLE|linux.FALLOC_FL_KEEP_SIZE, page, page)
	if err := fd.Allocate(e.ctx, 0, 0, 6*page); !errors.Is(err, linux.ENOSPC) {
		t.Errorf("fallocate past the limit: %v", err)
	}
	if st := e.stat(t, "/f"); st.Blocks != 8 || st.Size != 4*page {
		t.Errorf("after failed fallocate: blocks %d size %d", st.Blocks, st.Size)
	}
	if fs, _ := e.vfs.StatFSAt(e.ctx, e.creds, e.pop("/")); fs.BlocksFree != 1 {
		t.Errorf("free blocks %d after failed fallocate", fs.BlocksFree)
	}
}

func TestMMapAccessRules(t *testing.T) {
	e := newMMEnv(t, "")
	fd := e.create(t, "/f", []byte("abc"))
	defer fd.DecRef(e.ctx)
	ro, _ := e.open(e.ctx, "/f", linux.O_RDONLY)
	defer ro.DecRef(e.ctx)
	wo, _ := e.open(e.ctx, "/f", linux.O_WRONLY)
	defer wo.DecRef(e.ctx)

	if _, err := e.tryMmap(wo, page, linux.PROT_READ, linux.MAP_SHARED, 0); !errors.Is(err, linux.EACCES) {
		t.Errorf("mmap of a write-only fd: %v", err)
	}
	if _, err := e.tryMmap(ro, page, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED, 0); !errors.Is(err, linux.EACCES) {
		t.Errorf("writable shared mmap of a read-only fd: %v", err)
	}
	addr, err := e.tryMmap(ro, page, linux.PROT_READ, linux.MAP_SHARED, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.mm.MProtect(addr, page, linux.PROT_READ|linux.PROT_WRITE); !errors.Is(err, linux.EACCES) {
		t.Errorf("mprotect(PROT_WRITE) of a read-only shared mapping: %v", err)
	}
	// A private writable mapping of a read-only fd is fine.
	if _, err := e.tryMmap(ro, page, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_PRIVATE, 0); err != nil {
		t.Errorf("private writable mmap of a read-only fd: %v", err)
	}
	if maps := string(e.mm.Maps()); !bytes.Contains([]byte(maps), []byte(" /f\n")) {
		t.Errorf("/proc/PID/maps does not name the file:\n%s", maps)
	}

	// Without the sandbox's memory file a tmpfs cannot be mapped.
	plain := newEnv(t, "")
	pfd, _ := plain.open(plain.ctx, "/g", linux.O_CREAT|linux.O_RDWR)
	defer pfd.DecRef(plain.ctx)
	o, _ := mm.ParseMMap(0, page, linux.PROT_READ, linux.MAP_SHARED, 0)
	if err := pfd.ConfigureMMap(plain.ctx, &o); !errors.Is(err, linux.ENODEV) {
		t.Errorf("mmap without a memory file: %v", err)
	}
	// Nor can a memory manager on another memory file map one.
	other, err := pgalloc.New(pgalloc.Options{MaxSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Destroy()
	m2, _ := mm.New(other, (&mmtest.Factory{}).New)
	defer m2.Release()
	m2.SetMmapLayout(e.mm.Layout())
	o, _ = mm.ParseMMap(0, page, linux.PROT_READ, linux.MAP_SHARED, 0)
	if err := fd.ConfigureMMap(e.ctx, &o); err != nil {
		t.Fatal(err)
	}
	if _, err := m2.MMap(o); !errors.Is(err, linux.ENODEV) {
		t.Errorf("mapping into another memory file's address space: %v", err)
	}
}

// userSeq is an IOSequence over application memory, as the system call
// layer makes them.
type userSeq struct {
	mm   *mm.MemoryManager
	addr uintptr
	n    int64
}

func (s userSeq) NumBytes() int64 { return s.n }
func (s userSeq) CopyOut(_ context.Context, src []byte) (int, error) {
	return s.mm.CopyOut(s.addr, src[:min(int64(len(src)), s.n)])
}
func (s userSeq) CopyIn(_ context.Context, dst []byte) (int, error) {
	return s.mm.CopyIn(s.addr, dst[:min(int64(len(dst)), s.n)])
}
func (s userSeq) DropFirst(n int64) vfs.IOSequence {
	n = min(n, s.n)
	return userSeq{s.mm, s.addr + uintptr(n), s.n - n}
}

// TestMMapIOFromOwnMapping does read(2) and write(2) whose buffers are
// mappings of the same file, including pages not yet faulted in: the file
// must not hold its data lock while the memory manager asks it for pages.
func TestMMapIOFromOwnMapping(t *testing.T) {
	e := newMMEnv(t, "")
	data := make([]byte, 4*page)
	for i := range data {
		data[i] = byte(i / 7)
	}
	fd := e.create(t, "/f", data)
	defer fd.DecRef(e.ctx)
	addr := e.mmap(t, fd, 4*page, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED, 0)

	done := make(chan struct{})
	go func() {
		defer close(done)
		// Copy the first two pages over the last two, through the
		// mapping, then read page 1 into page 0.
		n, err := fd.PWrite(e.ctx, userSeq{e.mm, addr, 2 * page}, 2*page, vfs.WriteOptions{})
		if err != nil || n != 2*page {
			t.Errorf("pwrite from own mapping: %d %v", n, err)
		}
		n, err = fd.PRead(e.ctx, userSeq{e.mm, addr, page}, page, vfs.ReadOptions{})
		if err != nil || n != page {
			t.Errorf("pread into own mapping: %d %v", n, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("I/O through a mapping of the same file deadlocked")
	}
	got := e.pread(t, fd, 4*page, 0)
	if !bytes.Equal(got[2*page:], data[:2*page]) || !bytes.Equal(got[:page], data[page:2*page]) {
		t.Error("file contents wrong after I/O through its own mapping")
	}
}

// TestMMapConcurrent races writes, truncation and faults, for the race
// detector and the lock order.
func TestMMapConcurrent(t *testing.T) {
	e := newMMEnv(t, "")
	fd := e.create(t, "/f", make([]byte, 8*page))
	defer fd.DecRef(e.ctx)
	addr := e.mmap(t, fd, 8*page, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED, 0)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			fd.PWrite(e.ctx, vfs.BytesIOSequence(make([]byte, 3*page)), int64(i%6)*page, vfs.WriteOptions{})
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			size := uint64(i%9) * page
			fd.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: size})
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 400; i++ {
			e.mm.HandleFault(addr+uintptr(i%8)*page, platform.ReadWrite)
			e.mm.CopyOut(addr+uintptr(i%8)*page+8, []byte("racing"))
		}
	}()
	wg.Wait()
	start := e.mf.Allocated()
	if err := e.mm.MUnmap(addr, 8*page); err != nil {
		t.Fatal(err)
	}
	_, pages := e.stat(t, "/f").Size, e.stat(t, "/f").Blocks/8
	if got := e.mf.Allocated(); got != pages*page || got > start {
		t.Errorf("after munmap the memory file holds %d bytes, the file %d pages", got, pages)
	}
}
