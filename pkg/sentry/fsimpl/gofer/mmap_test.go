package gofer_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// fakeSpace records invalidations, standing in for an address space.
type fakeSpace struct {
	mu  sync.Mutex
	inv []memmap.AddrRange
}

func (s *fakeSpace) Invalidate(ar memmap.AddrRange) {
	s.mu.Lock()
	s.inv = append(s.inv, ar)
	s.mu.Unlock()
}

// page returns the contents of the object's page at off as a mapping
// would see them, releasing the reference GetPages took.
func page(t *testing.T, mf *pgalloc.MemoryFile, m memmap.Mappable, off uint64) ([]byte, error) {
	t.Helper()
	pages := make([]uint64, 1)
	n, err := m.GetPages(off, pages, false)
	if n != 1 {
		return nil, err
	}
	r := pgalloc.Range{Start: pages[0], End: pages[0] + memmap.PageSize}
	b := bytes.Clone(mf.Slice(r))
	mf.DecRef(r)
	return b, err
}

func TestMMapPrivate(t *testing.T) {
	e := newEnv(t, "", envOpts{memoryFile: true})
	data := strings.Repeat("A", memmap.PageSize) + "BBBB"
	e.hostWrite("f", data)
	fd := e.mustOpen("f", linux.O_RDWR, 0)
	defer fd.DecRef(e.ctx)
	o := &mm.MMapOpts{Length: 2 * memmap.PageSize, Private: true, Perms: platform.Read, MaxPerms: platform.AnyAccess}
	if err := fd.ConfigureMMap(e.ctx, o); err != nil {
		t.Fatal(err)
	}
	m := o.Mappable
	if m == nil {
		t.Fatal("no Mappable")
	}
	ms := &fakeSpace{}
	ar := memmap.AddrRange{Start: 0x10000, End: 0x10000 + 2*memmap.PageSize}
	if err := m.AddMapping(ms, ar, 0, false); err != nil {
		t.Fatal(err)
	}
	// Closing every descriptor leaves the mapping usable.
	fd2 := e.mustOpen("f", linux.O_RDONLY, 0)
	fd2.DecRef(e.ctx)

	p0, err := page(t, e.mf, m, 0)
	if err != nil || string(p0) != data[:memmap.PageSize] {
		t.Fatalf("page 0: %v", err)
	}
	p1, err := page(t, e.mf, m, memmap.PageSize)
	if err != nil || string(p1[:4]) != "BBBB" || !bytes.Equal(p1[4:], make([]byte, memmap.PageSize-4)) {
		t.Fatalf("page 1 (partial, zero-filled): %q..., %v", p1[:8], err)
	}
	if _, err := page(t, e.mf, m, 2*memmap.PageSize); !errors.Is(err, memmap.ErrBeyondEOF) {
		t.Errorf("page past EOF: %v", err)
	}
	// Writes reach the cached pages, including growth into the last one.
	if _, err := fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("xyz")), 10, vfs.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := fd.PWrite(e.ctx, vfs.BytesIOSequence([]byte("CC")), memmap.PageSize+4, vfs.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	p0, _ = page(t, e.mf, m, 0)
	p1, _ = page(t, e.mf, m, memmap.PageSize)
	if string(p0[8:14]) != "AAxyzA" || string(p1[:6]) != "BBBBCC" {
		t.Errorf("after write: %q / %q", p0[8:14], p1[:6])
	}
	// Shrinking invalidates the mappings past the new end and drops them.
	if err := fd.SetStat(e.ctx, e.creds, vfs.SetStatOptions{Mask: linux.STATX_SIZE, Size: 100}); err != nil {
		t.Fatal(err)
	}
	if len(ms.inv) != 1 || ms.inv[0].Start != ar.Start+memmap.PageSize || ms.inv[0].End != ar.End {
		t.Errorf("invalidations %v", ms.inv)
	}
	if _, err := page(t, e.mf, m, memmap.PageSize); !errors.Is(err, memmap.ErrBeyondEOF) {
		t.Errorf("page past the new EOF: %v", err)
	}
	if p0, _ = page(t, e.mf, m, 0); !bytes.Equal(p0[100:], make([]byte, memmap.PageSize-100)) {
		t.Error("bytes past the new end still cached")
	}
	m.RemoveMapping(ms, ar, 0, false)
	if used := e.mf.Allocated(); used == 0 {
		t.Error("cache holds no pages")
	}
}

func TestMMapShared(t *testing.T) {
	e := newEnv(t, "", envOpts{memoryFile: true})
	e.hostWrite("f", "shared")
	rw := e.mustOpen("f", linux.O_RDWR, 0)
	defer rw.DecRef(e.ctx)
	o := &mm.MMapOpts{Length: memmap.PageSize, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess}
	wantErr(t, "writable MAP_SHARED", rw.ConfigureMMap(e.ctx, o), linux.ENODEV)
	o = &mm.MMapOpts{Length: memmap.PageSize, Perms: platform.Read, MaxPerms: platform.AnyAccess}
	if err := rw.ConfigureMMap(e.ctx, o); err != nil || o.Mappable == nil || o.MaxPerms.Write {
		t.Errorf("read-only MAP_SHARED: %v, %+v", err, o.MaxPerms)
	}
	wo := e.mustOpen("f", linux.O_WRONLY, 0)
	defer wo.DecRef(e.ctx)
	o = &mm.MMapOpts{Length: memmap.PageSize, Private: true, Perms: platform.Read, MaxPerms: platform.AnyAccess}
	wantErr(t, "mmap of a write-only file", wo.ConfigureMMap(e.ctx, o), linux.EACCES)
}

func TestMMapWithoutMemoryFile(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	e.hostWrite("f", "x")
	fd := e.mustOpen("f", linux.O_RDONLY, 0)
	defer fd.DecRef(e.ctx)
	o := &mm.MMapOpts{Length: memmap.PageSize, Private: true, Perms: platform.Read}
	wantErr(t, "mmap", fd.ConfigureMMap(e.ctx, o), linux.ENODEV)
}
