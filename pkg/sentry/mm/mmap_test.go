package mm

import (
	"bytes"
	"errors"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/mm/mmtest"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

const (
	testBase = 0x7f0000000000
	testMax  = 0x7ffffffff000
)

type env struct {
	t  testing.TB
	mf *pgalloc.MemoryFile
	fa *mmtest.Factory
	mm *MemoryManager
}

func newEnv(t testing.TB) *env {
	t.Helper()
	mf, err := pgalloc.New(pgalloc.Options{MaxSize: 512 << 20})
	if err != nil {
		t.Fatal(err)
	}
	fa := &mmtest.Factory{}
	m, err := New(mf, fa.New)
	if err != nil {
		t.Fatal(err)
	}
	m.SetMmapLayout(MmapLayout{MinAddr: DefaultMinAddr, MaxAddr: testMax, TopDownBase: testBase, BottomUpBase: 0x2aaaaaaaa000, StackTop: testMax})
	e := &env{t, mf, fa, m}
	t.Cleanup(func() {
		e.mm.Release()
		if !fa.All[0].Released() {
			t.Error("platform address space not released")
		}
		if n := mf.Allocated(); n != 0 && !t.Failed() {
			t.Errorf("memory file leak after Release: %d bytes", n)
		}
		mf.Destroy()
	})
	return e
}

func (e *env) as() *mmtest.FakeAddressSpace { return e.fa.All[0] }

// mmap maps anonymous private memory.
func (e *env) mmap(addr, length uintptr, prot, flags int) uintptr {
	e.t.Helper()
	a, err := e.mm.MMap(e.opts(addr, length, prot, flags|linux.MAP_ANONYMOUS))
	if err != nil {
		e.t.Fatalf("mmap(%#x, %#x): %v", addr, length, err)
	}
	return a
}

func (e *env) opts(addr, length uintptr, prot, flags int) MMapOpts {
	if flags&linux.MAP_TYPE == 0 {
		flags |= linux.MAP_PRIVATE
	}
	o, err := ParseMMap(addr, length, prot, flags, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *env) write(addr uintptr, b []byte) {
	e.t.Helper()
	if n, err := e.mm.CopyOut(addr, b); err != nil || n != len(b) {
		e.t.Fatalf("CopyOut(%#x) = %d, %v", addr, n, err)
	}
}

func (e *env) read(addr uintptr, n int) []byte {
	e.t.Helper()
	b := make([]byte, n)
	if c, err := e.mm.CopyIn(addr, b); err != nil || c != n {
		e.t.Fatalf("CopyIn(%#x) = %d, %v", addr, c, err)
	}
	return b
}

// checkMirror asserts the platform address space maps exactly the pages
// the MemoryManager says it does, with permissions no wider than allowed.
func checkMirror(t testing.TB, m *MemoryManager, as *mmtest.FakeAddressSpace) {
	t.Helper()
	m.mu.RLock()
	defer m.mu.RUnlock()
	plat := as.Pages()
	for pn, p := range m.pages {
		got, ok := plat[pn]
		if p.plat == platform.NoAccess {
			if ok {
				t.Errorf("page %#x mapped in platform but not recorded", pn<<pageShift)
			}
			continue
		}
		if !ok || got.Off != p.off || got.At != p.plat {
			t.Errorf("page %#x: platform %+v (present %v), mm off %#x at %v", pn<<pageShift, got, ok, p.off, p.plat)
		}
		v := m.vmaAtLocked(pn << pageShift)
		if v == nil || !effectivePerms(v.perms).SupersetOf(p.plat) || (p.plat.Write && !p.writable) {
			t.Errorf("page %#x mapped %v beyond what is allowed", pn<<pageShift, p.plat)
		}
		delete(plat, pn)
	}
	for pn := range plat {
		t.Errorf("platform maps %#x, which mm does not have", pn<<pageShift)
	}
}

func (e *env) vmaCount() int {
	e.mm.mu.RLock()
	defer e.mm.mu.RUnlock()
	return len(e.mm.vmas)
}

func TestMMapPlacement(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0, 3*pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	if a != testBase-3*pageSize {
		t.Fatalf("first mapping at %#x, want just below the base %#x", a, testBase)
	}
	b := e.mmap(0, pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	if b != a-pageSize {
		t.Fatalf("second mapping at %#x, want %#x", b, a-pageSize)
	}
	if e.vmaCount() != 1 {
		t.Errorf("adjacent compatible mappings not merged: %d VMAs", e.vmaCount())
	}
	// A free hint is honoured (rounded up to a page); a taken one is not.
	h := e.mmap(0x100000001, pageSize, linux.PROT_READ, 0)
	if h != 0x100001000 {
		t.Errorf("hint: got %#x", h)
	}
	h2 := e.mmap(a, pageSize, linux.PROT_READ, 0)
	if h2 == a || (h2 < a+3*pageSize && h2+pageSize > a) {
		t.Errorf("taken hint %#x gave overlapping %#x", a, h2)
	}
	// Length 0, bad offset, both or neither of shared/private.
	if _, err := ParseMMap(0, 0, 0, linux.MAP_PRIVATE, 0); err != linux.EINVAL {
		t.Errorf("length 0: %v", err)
	}
	if _, err := ParseMMap(0, 1, 0, linux.MAP_PRIVATE, 1); err != linux.EINVAL {
		t.Errorf("unaligned offset: %v", err)
	}
	if _, err := ParseMMap(0, 1, 0, linux.MAP_ANONYMOUS, 0); err != linux.EINVAL {
		t.Errorf("no type: %v", err)
	}
	o := e.opts(0x1001, pageSize, linux.PROT_READ, linux.MAP_FIXED|linux.MAP_ANONYMOUS)
	if _, err := e.mm.MMap(o); err != linux.EINVAL {
		t.Errorf("unaligned MAP_FIXED: %v", err)
	}
	o = e.opts(0x1000, pageSize, linux.PROT_READ, linux.MAP_FIXED|linux.MAP_ANONYMOUS)
	if _, err := e.mm.MMap(o); err != linux.EPERM {
		t.Errorf("MAP_FIXED below mmap_min_addr: %v", err)
	}
	o = e.opts(0, 1<<50, linux.PROT_READ, linux.MAP_ANONYMOUS)
	if _, err := e.mm.MMap(o); err != linux.ENOMEM {
		t.Errorf("too large: %v", err)
	}
}

func TestMMapFixedReplacesAndNoReplace(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0, 4*pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	e.write(a, bytes.Repeat([]byte{1}, 4*pageSize))
	before := e.mf.Allocated()
	o := e.opts(a+pageSize, 2*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_ANONYMOUS|linux.MAP_FIXED_NOREPLACE)
	if _, err := e.mm.MMap(o); err != linux.EEXIST {
		t.Fatalf("MAP_FIXED_NOREPLACE over a mapping: %v", err)
	}
	if got := e.mmap(a+pageSize, 2*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_FIXED); got != a+pageSize {
		t.Fatalf("MAP_FIXED at %#x", got)
	}
	if e.mf.Allocated() != before-2*pageSize {
		t.Errorf("replaced pages not freed: %d -> %d", before, e.mf.Allocated())
	}
	got := e.read(a, 4*pageSize)
	want := append(append(bytes.Repeat([]byte{1}, pageSize), make([]byte, 2*pageSize)...), bytes.Repeat([]byte{1}, pageSize)...)
	if !bytes.Equal(got, want) {
		t.Error("MAP_FIXED did not replace exactly its range with zeros")
	}
	// NOREPLACE into a free range works.
	o = e.opts(a-2*pageSize, pageSize, linux.PROT_READ, linux.MAP_ANONYMOUS|linux.MAP_FIXED_NOREPLACE)
	if got, err := e.mm.MMap(o); err != nil || got != a-2*pageSize {
		t.Errorf("NOREPLACE into free space: %#x, %v", got, err)
	}
	checkMirror(t, e.mm, e.as())
}

func TestMUnmapSplits(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0, 3*pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	for i := uintptr(0); i < 3; i++ {
		if err := e.mm.HandleFault(a+i*pageSize, platform.ReadWrite); err != nil {
			t.Fatal(err)
		}
	}
	e.write(a, []byte{1})
	e.write(a+2*pageSize, []byte{3})
	if err := e.mm.MUnmap(a+pageSize, pageSize); err != nil {
		t.Fatal(err)
	}
	if e.vmaCount() != 2 {
		t.Fatalf("%d VMAs after punching a hole", e.vmaCount())
	}
	if _, err := e.mm.CopyIn(a+pageSize, make([]byte, 1)); err != linux.EFAULT {
		t.Errorf("read of unmapped hole: %v", err)
	}
	if _, ok := e.as().Lookup(a + pageSize); ok {
		t.Error("unmapped page still mapped in the platform")
	}
	if e.read(a, 1)[0] != 1 || e.read(a+2*pageSize, 1)[0] != 3 {
		t.Error("neighbours lost their data")
	}
	if e.mm.ResidentSize() != 2*pageSize {
		t.Errorf("RSS %d after unmapping one of three pages", e.mm.ResidentSize())
	}
	if err := e.mm.MUnmap(a+1, pageSize); err != linux.EINVAL {
		t.Errorf("unaligned munmap: %v", err)
	}
	if err := e.mm.MUnmap(a, 0); err != linux.EINVAL {
		t.Errorf("zero-length munmap: %v", err)
	}
	if err := e.mm.MUnmap(a, 3*pageSize); err != nil {
		t.Fatal(err)
	}
	if e.mf.Allocated() != 0 || e.mm.ResidentSize() != 0 || e.vmaCount() != 0 {
		t.Errorf("after full munmap: allocated %d rss %d vmas %d", e.mf.Allocated(), e.mm.ResidentSize(), e.vmaCount())
	}
	checkMirror(t, e.mm, e.as())
}

func TestMProtectSplitMerge(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0, 3*pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	for i := uintptr(0); i < 3; i++ {
		e.mm.HandleFault(a+i*pageSize, platform.ReadWrite)
	}
	if err := e.mm.MProtect(a+pageSize, pageSize, linux.PROT_READ); err != nil {
		t.Fatal(err)
	}
	if e.vmaCount() != 3 {
		t.Fatalf("%d VMAs after mprotect of the middle page", e.vmaCount())
	}
	if m, _ := e.as().Lookup(a + pageSize); m.At != platform.Read {
		t.Errorf("platform still maps the middle page %v", m.At)
	}
	if n, err := e.mm.CopyOut(a, make([]byte, 2*pageSize)); n != pageSize || err != linux.EFAULT {
		t.Errorf("CopyOut across into read-only: %d, %v", n, err)
	}
	if err := e.mm.HandleFault(a+pageSize, platform.ReadWrite); !isFault(err, linux.SEGV_ACCERR) {
		t.Errorf("write fault on read-only page: %v", err)
	}
	if err := e.mm.MProtect(a+pageSize, pageSize, linux.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.as().Lookup(a + pageSize); ok {
		t.Error("PROT_NONE page still mapped in the platform")
	}
	if _, err := e.mm.CopyIn(a+pageSize, make([]byte, 1)); err != linux.EFAULT {
		t.Errorf("read of PROT_NONE: %v", err)
	}
	if err := e.mm.HandleFault(a+pageSize, platform.Read); !isFault(err, linux.SEGV_ACCERR) {
		t.Errorf("read fault on PROT_NONE: %v", err)
	}
	if err := e.mm.MProtect(a+pageSize, pageSize, linux.PROT_READ|linux.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	if e.vmaCount() != 1 {
		t.Errorf("%d VMAs after restoring protection, want 1 (merged)", e.vmaCount())
	}
	if err := e.mm.MProtect(a, 4*pageSize, linux.PROT_READ); err != linux.ENOMEM {
		t.Errorf("mprotect over a hole: %v", err)
	}
	if err := e.mm.MProtect(a+1, pageSize, linux.PROT_READ); err != linux.EINVAL {
		t.Errorf("unaligned: %v", err)
	}
	if err := e.mm.MProtect(a, pageSize, 0x80); err != linux.EINVAL {
		t.Errorf("bad prot: %v", err)
	}
	checkMirror(t, e.mm, e.as())
}

func isFault(err error, code int32) bool {
	var fe *FaultError
	return errors.As(err, &fe) && fe.Code == code
}

func TestMProtectSharedMaxPerms(t *testing.T) {
	e := newEnv(t)
	store := memmap.NewPageStore(e.mf, "/ro-file")
	defer store.DecRef()
	store.Truncate(pageSize)
	o := e.opts(0, pageSize, linux.PROT_READ, linux.MAP_SHARED)
	o.Mappable = store
	o.MaxPerms = platform.AccessType{Read: true, Execute: true} // opened O_RDONLY
	a, err := e.mm.MMap(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.mm.MProtect(a, pageSize, linux.PROT_READ|linux.PROT_WRITE); err != linux.EACCES {
		t.Errorf("mprotect(PROT_WRITE) of read-only shared file: %v", err)
	}
	o.Perms = platform.ReadWrite
	if _, err := e.mm.MMap(o); err != linux.EACCES {
		t.Errorf("mmap(PROT_WRITE, MAP_SHARED) of read-only file: %v", err)
	}
}

func TestMRemap(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0, 2*pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	data := append(bytes.Repeat([]byte{5}, pageSize), bytes.Repeat([]byte{6}, pageSize)...)
	e.write(a, data)
	e.mm.HandleFault(a, platform.Read)

	// Shrink in place.
	if got, err := e.mm.MRemap(a, 2*pageSize, pageSize, 0, 0); err != nil || got != a {
		t.Fatalf("shrink: %#x, %v", got, err)
	}
	if _, err := e.mm.CopyIn(a+pageSize, make([]byte, 1)); err != linux.EFAULT {
		t.Errorf("shrunk tail still mapped: %v", err)
	}
	// Grow in place (the space above is free: top-down put it at the base).
	if got, err := e.mm.MRemap(a, pageSize, 3*pageSize, 0, 0); err != nil || got != a {
		t.Fatalf("grow in place: %#x, %v", got, err)
	}
	if got := e.read(a, 3*pageSize); !bytes.Equal(got[:pageSize], data[:pageSize]) || !bytes.Equal(got[pageSize:], make([]byte, 2*pageSize)) {
		t.Error("grown mapping has wrong contents")
	}
	// Block growth: without MAYMOVE it fails, with it the mapping moves.
	blocker := e.mmap(a+3*pageSize, pageSize, linux.PROT_READ, linux.MAP_FIXED)
	if _, err := e.mm.MRemap(a, 3*pageSize, 4*pageSize, 0, 0); err != linux.ENOMEM {
		t.Errorf("blocked grow without MAYMOVE: %v", err)
	}
	moved, err := e.mm.MRemap(a, 3*pageSize, 5*pageSize, linux.MREMAP_MAYMOVE, 0)
	if err != nil || moved == a {
		t.Fatalf("MAYMOVE: %#x, %v", moved, err)
	}
	if got := e.read(moved, pageSize); !bytes.Equal(got, data[:pageSize]) {
		t.Error("moved mapping lost its contents")
	}
	if _, err := e.mm.CopyIn(a, make([]byte, 1)); err != linux.EFAULT {
		t.Errorf("old range still mapped after move: %v", err)
	}
	if _, ok := e.as().Lookup(a); ok {
		t.Error("old range still mapped in the platform")
	}
	// MREMAP_FIXED to a chosen address, replacing what is there.
	dst := blocker + 16*pageSize
	e.mmap(dst, pageSize, linux.PROT_READ, linux.MAP_FIXED)
	if got, err := e.mm.MRemap(moved, pageSize, pageSize, linux.MREMAP_MAYMOVE|linux.MREMAP_FIXED, dst); err != nil || got != dst {
		t.Fatalf("MREMAP_FIXED: %#x, %v", got, err)
	}
	if got := e.read(dst, pageSize); !bytes.Equal(got, data[:pageSize]) {
		t.Error("MREMAP_FIXED lost contents")
	}
	// DONTUNMAP leaves the old range mapped and empty.
	nd, err := e.mm.MRemap(dst, pageSize, pageSize, linux.MREMAP_MAYMOVE|linux.MREMAP_DONTUNMAP, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.read(nd, pageSize), data[:pageSize]) || !bytes.Equal(e.read(dst, pageSize), make([]byte, pageSize)) {
		t.Error("DONTUNMAP: wrong contents")
	}
	// Errors.
	for _, c := range []struct {
		old, oldLen, newLen uintptr
		flags               int
		want                error
	}{
		{nd, pageSize, 0, 0, linux.EINVAL},
		{nd + 1, pageSize, pageSize, 0, linux.EINVAL},
		{nd, pageSize, pageSize, linux.MREMAP_FIXED, linux.EINVAL},
		{nd, pageSize, 2 * pageSize, linux.MREMAP_MAYMOVE | linux.MREMAP_DONTUNMAP, linux.EINVAL},
		{nd, pageSize, pageSize, 8, linux.EINVAL},
		{0x10000000, pageSize, 2 * pageSize, linux.MREMAP_MAYMOVE, linux.EFAULT},
		{nd, 0, pageSize, linux.MREMAP_MAYMOVE, linux.EINVAL}, // private duplicate
	} {
		if _, err := e.mm.MRemap(c.old, c.oldLen, c.newLen, c.flags, 0); err != c.want {
			t.Errorf("MRemap(%#x, %#x, %#x, %#x) = %v, want %v", c.old, c.oldLen, c.newLen, c.flags, err, c.want)
		}
	}
	checkMirror(t, e.mm, e.as())
}

func TestBrk(t *testing.T) {
	e := newEnv(t)
	const start = 0x600123
	// The program's data ends mid-page; the break starts there.
	e.mmap(0x600000, pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_FIXED)
	e.mm.BrkSetup(start)
	if got := e.mm.Brk(0); got != start {
		t.Fatalf("brk(0) = %#x", got)
	}
	if got := e.mm.Brk(start - 1); got != start {
		t.Errorf("brk below start = %#x, want unchanged %#x", got, start)
	}
	top := uintptr(start + 3*pageSize)
	if got := e.mm.Brk(top); got != top {
		t.Fatalf("grow: %#x", got)
	}
	e.write(start, bytes.Repeat([]byte{0xee}, int(top-start)))
	// Shrink to just past the start, then grow: the freed pages come back
	// zeroed (the part of the first page that stayed keeps its data).
	if got := e.mm.Brk(start + 10); got != start+10 {
		t.Fatalf("shrink: %#x", got)
	}
	keep := (uintptr(start) + pageMask) &^ pageMask
	if _, err := e.mm.CopyIn(keep, make([]byte, 1)); err != linux.EFAULT {
		t.Errorf("shrunk heap still mapped: %v", err)
	}
	e.mm.Brk(top)
	if got := e.read(keep, int(top-keep)); !bytes.Equal(got, make([]byte, len(got))) {
		t.Error("re-grown heap not zeroed")
	}
	if got := e.read(start, 1); got[0] != 0xee {
		t.Error("brk shrink within a page lost data")
	}
	// Growth into another mapping fails quietly.
	e.mmap(0x700000, pageSize, linux.PROT_READ, linux.MAP_FIXED)
	if got := e.mm.Brk(0x800000); got != top {
		t.Errorf("brk into a mapping = %#x, want %#x", got, top)
	}
	if maps := string(e.mm.Maps()); !bytes.Contains([]byte(maps), []byte("[heap]")) {
		t.Errorf("no [heap] in maps:\n%s", maps)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0, 64*pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	if err := e.mm.HandleFault(a+20*pageSize+123, platform.Read); err != nil {
		t.Fatal(err)
	}
	m, ok := e.as().Lookup(a + 20*pageSize)
	if !ok || m.At != platform.ReadWrite {
		t.Fatalf("anonymous private page mapped %+v %v; want rw (exclusively owned)", m, ok)
	}
	if b := e.mf.Slice(pgalloc.Range{Start: m.Off, End: m.Off + pageSize}); !bytes.Equal(b, make([]byte, pageSize)) {
		t.Error("faulted page not zero")
	}
	// Fault-around mapped the aligned block of neighbours, within the VMA.
	if _, ok := e.as().Lookup(a + 16*pageSize); !ok {
		t.Error("no fault-around")
	}
	if _, ok := e.as().Lookup(a + 40*pageSize); ok {
		t.Error("fault-around went past its block")
	}
	if err := e.mm.HandleFault(0x20000, platform.Read); !isFault(err, linux.SEGV_MAPERR) {
		t.Errorf("fault outside any VMA: %v", err)
	}
	ro := e.mmap(0, pageSize, linux.PROT_READ, 0)
	if err := e.mm.HandleFault(ro, platform.AccessType{Execute: true}); !isFault(err, linux.SEGV_ACCERR) {
		t.Errorf("exec of non-exec page: %v", err)
	}
	// Unknown access (ptrace): first populate read; the same fault again
	// on a page mapped with all the VMA allows is either an access
	// violation or a race with another thread's fault, which the task
	// tells apart by running the instruction again (ErrFullyMapped).
	if err := e.mm.HandleFault(ro, platform.NoAccess); err != nil {
		t.Fatal(err)
	}
	if err := e.mm.HandleFault(ro, platform.NoAccess); err != ErrFullyMapped {
		t.Errorf("repeated unknown fault on a fully mapped read-only page: %v, want ErrFullyMapped", err)
	}
	checkMirror(t, e.mm, e.as())
}

func TestGrowsDown(t *testing.T) {
	e := newEnv(t)
	s := e.mmap(0x7000000000, 4*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_FIXED|linux.MAP_GROWSDOWN)
	e.mm.SetStackStart(s + 4*pageSize - 16)
	if err := e.mm.HandleFault(s-10*pageSize, platform.ReadWrite); err != nil {
		t.Fatalf("fault below a growsdown mapping: %v", err)
	}
	if e.mm.VirtualSize() != 14*pageSize {
		t.Errorf("stack did not grow: vsize %d", e.mm.VirtualSize())
	}
	if err := e.mm.HandleFault(s-(9<<20), platform.ReadWrite); !isFault(err, linux.SEGV_MAPERR) {
		t.Errorf("fault beyond RLIMIT_STACK: %v", err)
	}
	if maps := e.mm.Maps(); !bytes.Contains(maps, []byte("[stack]")) {
		t.Errorf("no [stack]:\n%s", maps)
	}
}
