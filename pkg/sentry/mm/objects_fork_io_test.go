package mm

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/memmap"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

func (e *env) file(name string, data []byte) *memmap.PageStore {
	s := memmap.NewPageStore(e.mf, name)
	if _, err := s.WriteAt(data, 0); err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) mmapFile(s memmap.Mappable, length uintptr, prot, flags int, off uint64) uintptr {
	e.t.Helper()
	o, err := ParseMMap(0, length, prot, flags, off)
	if err != nil {
		e.t.Fatal(err)
	}
	o.Mappable = s
	a, err := e.mm.MMap(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func TestPrivateFileMapping(t *testing.T) {
	e := newEnv(t)
	content := bytes.Repeat([]byte("file"), pageSize/2) // 2 pages
	f := e.file("/data", content)
	defer f.DecRef()
	a := e.mmapFile(f, 2*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_PRIVATE, 0)
	// A read fault maps the file's own page, read-only.
	if err := e.mm.HandleFault(a, platform.Read); err != nil {
		t.Fatal(err)
	}
	m, _ := e.as().Lookup(a)
	if m.At.Write {
		t.Error("private file page mapped writable before copy-on-write")
	}
	// Unknown access on a readable page of a writable VMA is a write: the
	// page is copied.
	if err := e.mm.HandleFault(a, platform.NoAccess); err != nil {
		t.Fatal(err)
	}
	m2, _ := e.as().Lookup(a)
	if !m2.At.Write || m2.Off == m.Off {
		t.Errorf("inferred write did not copy: before %+v after %+v", m, m2)
	}
	e.write(a+pageSize, []byte("XXXX"))
	got := make([]byte, 2*pageSize)
	f.ReadAt(got, 0)
	if !bytes.Equal(got, content) {
		t.Error("writing through a private mapping changed the file")
	}
	if r := e.read(a+pageSize, 8); string(r) != "XXXXfile" {
		t.Errorf("mapping reads %q", r)
	}
	// Pages not yet copied still see file writes (as in Linux).
	f.WriteAt([]byte("ZZ"), 10)
	e.mm.MAdvise(a, pageSize, linux.MADV_DONTNEED)
	if r := e.read(a+8, 4); string(r) != "fiZZ" {
		t.Errorf("after MADV_DONTNEED the private page should be the file's again: %q", r)
	}
	checkMirror(t, e.mm, e.as())
}

func TestSharedMappingCoherenceAndTruncate(t *testing.T) {
	e := newEnv(t)
	f := e.file("/shared", make([]byte, 3*pageSize))
	defer f.DecRef()
	a := e.mmapFile(f, 3*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED, 0)
	e.write(a+pageSize+1, []byte("via mapping"))
	got := make([]byte, 11)
	f.ReadAt(got, pageSize+1)
	if string(got) != "via mapping" {
		t.Errorf("file reads %q after writing through the mapping", got)
	}
	f.WriteAt([]byte("via write"), 2*pageSize)
	if r := e.read(a+2*pageSize, 9); string(r) != "via write" {
		t.Errorf("mapping reads %q after WriteAt", r)
	}
	// A second mapping at an offset sees the same pages.
	b := e.mmapFile(f, pageSize, linux.PROT_READ, linux.MAP_SHARED, pageSize)
	if r := e.read(b+1, 11); string(r) != "via mapping" {
		t.Errorf("offset mapping reads %q", r)
	}
	e.mm.HandleFault(a+2*pageSize, platform.ReadWrite)
	// Truncate: pages past the end leave every mapping; access is SIGBUS.
	f.Truncate(pageSize)
	if _, ok := e.as().Lookup(a + 2*pageSize); ok {
		t.Error("truncated page still mapped in the platform")
	}
	if err := e.mm.HandleFault(a+2*pageSize, platform.Read); !isSig(err, linux.SIGBUS) {
		t.Errorf("fault past EOF: %v", err)
	}
	if err := e.mm.HandleFault(b, platform.Read); !isSig(err, linux.SIGBUS) {
		t.Errorf("fault past EOF in the second mapping: %v", err)
	}
	if _, err := e.mm.CopyIn(a+2*pageSize, make([]byte, 1)); err != linux.EFAULT {
		t.Errorf("CopyIn past EOF: %v", err)
	}
	if e.read(a, 1)[0] != 0 {
		t.Error("page before EOF unreadable")
	}
	checkMirror(t, e.mm, e.as())
}

func isSig(err error, sig linux.Signal) bool {
	fe, ok := err.(*FaultError)
	return ok && fe.Signal == sig
}

func TestSharedAnonymous(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0, 2*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED)
	e.write(a, []byte("shared"))
	child, err := e.mm.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	child.CopyOut(a+pageSize, []byte("from child"))
	if r := e.read(a+pageSize, 10); string(r) != "from child" {
		t.Errorf("parent reads %q from MAP_SHARED|MAP_ANONYMOUS after child write", r)
	}
	if !strings.Contains(string(e.mm.Maps()), "rw-s 00000000 00:00 0                          /dev/zero (deleted)") {
		t.Errorf("maps:\n%s", e.mm.Maps())
	}
}

func TestForkCOW(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0, 4*pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	e.write(a, bytes.Repeat([]byte{1}, 4*pageSize))
	for i := uintptr(0); i < 4; i++ {
		e.mm.HandleFault(a+i*pageSize, platform.ReadWrite)
	}
	allocBefore := e.mf.Allocated()

	child, err := e.mm.Fork()
	if err != nil {
		t.Fatal(err)
	}
	cas := e.fa.Last()
	if e.mf.Allocated() != allocBefore {
		t.Errorf("fork copied memory: %d -> %d", allocBefore, e.mf.Allocated())
	}
	// The parent's writable mappings became read-only.
	for i := uintptr(0); i < 4; i++ {
		if m, ok := e.as().Lookup(a + i*pageSize); !ok || m.At.Write {
			t.Errorf("parent page %d after fork: %+v %v", i, m, ok)
		}
	}
	e.mm.mu.RLock()
	off0 := e.mm.pages[a>>pageShift].off
	e.mm.mu.RUnlock()
	if n := e.mf.RefCount(off0); n != 2 {
		t.Errorf("shared page refcount %d, want 2", n)
	}

	// Parent writes page 0 through a fault of unknown kind, child writes
	// page 1 through CopyOut.
	if err := e.mm.HandleFault(a, platform.NoAccess); err != nil {
		t.Fatal(err)
	}
	e.write(a, []byte{2})
	if _, err := child.CopyOut(a+pageSize, []byte{3}); err != nil {
		t.Fatal(err)
	}
	if err := child.HandleFault(a+pageSize, platform.Read); err != nil {
		t.Fatal(err)
	}
	cr := make([]byte, 1)
	child.CopyIn(a, cr)
	if cr[0] != 1 {
		t.Error("child sees parent's post-fork write")
	}
	if e.read(a+pageSize, 1)[0] != 1 {
		t.Error("parent sees child's post-fork write")
	}
	child.CopyIn(a+pageSize, cr)
	if cr[0] != 3 {
		t.Error("child lost its own write")
	}
	if n := e.mf.RefCount(off0); n != 1 {
		t.Errorf("after the parent's copy, the original page has %d refs, want 1 (child only)", n)
	}
	// Two pages were copied; pages 2 and 3 are still shared.
	if got := e.mf.Allocated(); got != allocBefore+2*pageSize {
		t.Errorf("allocated %d, want %d (two copies)", got, allocBefore+2*pageSize)
	}
	e.mm.mu.RLock()
	off2 := e.mm.pages[(a>>pageShift)+2].off
	e.mm.mu.RUnlock()
	if n := e.mf.RefCount(off2); n != 2 {
		t.Errorf("unwritten page refcount %d, want 2", n)
	}
	checkMirror(t, e.mm, e.as())
	checkMirror(t, child, cas)

	// The child exits: the parent's page 2 is its own again and a write
	// needs no copy.
	child.Release()
	if !cas.Released() {
		t.Error("child's platform address space not released")
	}
	before := e.mf.Allocated()
	e.write(a+2*pageSize, []byte{4})
	if e.mf.Allocated() != before {
		t.Error("write to a page no longer shared copied it")
	}
}

func TestForkDontFork(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0, 2*pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	e.write(a, []byte{9})
	e.write(a+pageSize, []byte{9})
	if err := e.mm.MAdvise(a, pageSize, linux.MADV_DONTFORK); err != nil {
		t.Fatal(err)
	}
	if err := e.mm.MAdvise(a+pageSize, pageSize, linux.MADV_WIPEONFORK); err != nil {
		t.Fatal(err)
	}
	child, err := e.mm.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	if _, err := child.CopyIn(a, make([]byte, 1)); err != linux.EFAULT {
		t.Errorf("MADV_DONTFORK range present in child: %v", err)
	}
	b := make([]byte, 1)
	if _, err := child.CopyIn(a+pageSize, b); err != nil || b[0] != 0 {
		t.Errorf("MADV_WIPEONFORK range in child: %v %v", b, err)
	}
}

func TestCopyBoundaries(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0x10000000, 2*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_FIXED)
	e.mmap(a+2*pageSize, pageSize, linux.PROT_READ|linux.PROT_EXEC, linux.MAP_FIXED)
	// A copy across two VMAs with different permissions.
	buf := bytes.Repeat([]byte{7}, 2*pageSize)
	if n, err := e.mm.CopyOut(a+pageSize, buf); n != pageSize || err != linux.EFAULT {
		t.Errorf("CopyOut into read-only tail: %d, %v", n, err)
	}
	if n, err := e.mm.CopyIn(a+pageSize, buf); n != 2*pageSize || err != nil {
		t.Errorf("CopyIn across VMAs: %d, %v", n, err)
	}
	if !bytes.Equal(buf[:pageSize], bytes.Repeat([]byte{7}, pageSize)) || !bytes.Equal(buf[pageSize:], make([]byte, pageSize)) {
		t.Error("CopyIn across VMAs read wrong data")
	}
	// Running off the end into unmapped memory: partial count.
	if n, err := e.mm.CopyIn(a+3*pageSize-10, make([]byte, 20)); n != 10 || err != linux.EFAULT {
		t.Errorf("CopyIn into unmapped: %d, %v", n, err)
	}
	if n, err := e.mm.ZeroOut(a+2*pageSize-5, 10); n != 5 || err != linux.EFAULT {
		t.Errorf("ZeroOut into read-only: %d, %v", n, err)
	}
	// Hostile addresses never crash.
	for _, addr := range []uintptr{0, 1, 0xffffffffffffffff, 0xfffffffffffff000, testMax} {
		if n, err := e.mm.CopyIn(addr, make([]byte, 16)); n != 0 || err != linux.EFAULT {
			t.Errorf("CopyIn(%#x) = %d, %v", addr, n, err)
		}
		if n, err := e.mm.CopyOut(addr, make([]byte, 16)); n != 0 || err != linux.EFAULT {
			t.Errorf("CopyOut(%#x) = %d, %v", addr, n, err)
		}
	}
	// Objects: within a page (direct) and straddling pages.
	in := linux.Iovec{Base: 0x1122334455667788, Len: 99}
	for _, addr := range []uintptr{a + 8, a + pageSize - 8} {
		if err := e.mm.CopyObjectOut(addr, &in); err != nil {
			t.Fatal(err)
		}
		var out linux.Iovec
		if err := e.mm.CopyObjectIn(addr, &out); err != nil || out != in {
			t.Errorf("object round trip at %#x: %+v %v", addr, out, err)
		}
	}
	if err := e.mm.CopyObjectOut(a+2*pageSize-8, &in); err != linux.EFAULT {
		t.Errorf("object into read-only: %v", err)
	}
	checkMirror(t, e.mm, e.as())
}

func TestCopyInString(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0x10000000, 2*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_FIXED)
	e.write(a, []byte("hello\x00"))
	if s, err := e.mm.CopyInString(a, 6); s != "hello" || err != nil {
		t.Errorf("fits exactly: %q %v", s, err)
	}
	if _, err := e.mm.CopyInString(a, 5); err != linux.ENAMETOOLONG {
		t.Errorf("one too short: %v", err)
	}
	// A string crossing into a page then running into unmapped memory.
	tail := a + 2*pageSize - 3
	e.write(tail, []byte("abc"))
	if _, err := e.mm.CopyInString(tail, 100); err != linux.EFAULT {
		t.Errorf("unterminated at the end of the mapping: %v", err)
	}
	e.write(a+pageSize-2, []byte("xy"))
	e.write(a+pageSize, []byte("z\x00"))
	if s, err := e.mm.CopyInString(a+pageSize-2, linux.PATH_MAX); s != "xyz" || err != nil {
		t.Errorf("across pages: %q %v", s, err)
	}
	long := bytes.Repeat([]byte{'a'}, 1000)
	e.write(a+100, append(long, 0))
	if s, err := e.mm.CopyInString(a+100, linux.PATH_MAX); len(s) != 1000 || err != nil {
		t.Errorf("long string: %d %v", len(s), err)
	}
	for _, n := range []int{255, 256, 257, 511, 512, 513} {
		e.write(a+100, append(long[:n:n], 0))
		if s, err := e.mm.CopyInString(a+100, linux.PATH_MAX); len(s) != n || err != nil {
			t.Errorf("%d-byte string: %d %v", n, len(s), err)
		}
		if _, err := e.mm.CopyInString(a+100, n); err != linux.ENAMETOOLONG {
			t.Errorf("%d-byte string with max %d: %v", n, n, err)
		}
	}
	// A path's usual length costs one allocation: the string.
	e.write(a, []byte("/usr/lib/x86_64-linux-gnu/libc.so.6\x00"))
	if n := testing.AllocsPerRun(100, func() { e.mm.CopyInString(a, linux.PATH_MAX) }); n > 1 {
		t.Errorf("CopyInString of a short path: %v allocations", n)
	}
}

func TestIovecs(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0x10000000, 2*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_FIXED)
	iovs := []linux.Iovec{{Base: uint64(a + 100), Len: 3}, {Base: uint64(a + pageSize), Len: 4}}
	raw := make([]byte, 2*linux.SizeofIovec)
	iovs[0].MarshalBytes(raw)
	iovs[1].MarshalBytes(raw[linux.SizeofIovec:])
	e.write(a+1000, raw)
	var stack [8]linux.Iovec
	got, err := e.mm.CopyInIovecs(a+1000, 2, stack[:0])
	if err != nil || len(got) != 2 || got[1] != iovs[1] {
		t.Fatalf("CopyInIovecs: %v %v", got, err)
	}
	if n, err := e.mm.CopyOutVec(got, []byte("abcdefgh")); n != 7 || err != nil {
		t.Errorf("CopyOutVec: %d %v", n, err)
	}
	buf := make([]byte, 7)
	if n, err := e.mm.CopyInVec(got, buf); n != 7 || err != nil || string(buf) != "abcdefg" {
		t.Errorf("CopyInVec: %q %d %v", buf, n, err)
	}
	if _, err := e.mm.CopyInIovecs(a, linux.UIO_MAXIOV+1, nil); err != linux.EINVAL {
		t.Errorf("too many iovecs: %v", err)
	}
	bad := linux.Iovec{Base: 0, Len: 1 << 63}
	bad.MarshalBytes(raw)
	e.write(a+1000, raw[:linux.SizeofIovec])
	if _, err := e.mm.CopyInIovecs(a+1000, 1, nil); err != linux.EINVAL {
		t.Errorf("negative length: %v", err)
	}
}

func TestMapsFormat(t *testing.T) {
	e := newEnv(t)
	f := e.file("/usr/bin/prog", make([]byte, 3*pageSize))
	defer f.DecRef()
	o, _ := ParseMMap(0x400000, 2*pageSize, linux.PROT_READ|linux.PROT_EXEC, linux.MAP_PRIVATE|linux.MAP_FIXED, pageSize)
	o.Mappable = f
	if _, err := e.mm.MMap(o); err != nil {
		t.Fatal(err)
	}
	e.mmap(0x7ffff7ff0000, pageSize, linux.PROT_READ|linux.PROT_EXEC, linux.MAP_FIXED)
	o = e.opts(0x7ffff7ff8000, 2*pageSize, linux.PROT_READ|linux.PROT_EXEC, linux.MAP_FIXED|linux.MAP_ANONYMOUS)
	o.Name = "[vdso]"
	e.mm.MMap(o)
	e.mmap(0x7ffff7ffa000, pageSize, linux.PROT_NONE, linux.MAP_FIXED)
	want := "" +
		"00400000-00402000 r-xp 00001000 00:00 0                                  /usr/bin/prog\n" +
		"7ffff7ff0000-7ffff7ff1000 r-xp 00000000 00:00 0 \n" +
		"7ffff7ff8000-7ffff7ffa000 r-xp 00000000 00:00 0                          [vdso]\n" +
		"7ffff7ffa000-7ffff7ffb000 ---p 00000000 00:00 0 \n"
	if got := string(e.mm.Maps()); got != want {
		t.Errorf("maps:\n%s\nwant:\n%s", got, want)
	}
}

func TestMAdviseMSyncMInCore(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0x10000000, 4*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_FIXED)
	e.write(a, bytes.Repeat([]byte{1}, 2*pageSize))
	vec, err := e.mm.MInCore(a, 4*pageSize)
	if err != nil || vec[0] != 1 || vec[1] != 1 {
		t.Fatalf("mincore %v %v", vec, err)
	}
	if err := e.mm.MAdvise(a, 2*pageSize, linux.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if vec, _ := e.mm.MInCore(a, pageSize); vec[0] != 0 {
		t.Error("page still resident after MADV_DONTNEED")
	}
	if !bytes.Equal(e.read(a, 2*pageSize), make([]byte, 2*pageSize)) {
		t.Error("MADV_DONTNEED did not zero private anonymous memory")
	}
	if err := e.mm.MAdvise(a, 8*pageSize, linux.MADV_DONTNEED); err != linux.ENOMEM {
		t.Errorf("madvise over a hole: %v", err)
	}
	if err := e.mm.MAdvise(a, pageSize, 999); err != linux.EINVAL {
		t.Errorf("bad advice: %v", err)
	}
	if _, err := e.mm.MInCore(a+4*pageSize, pageSize); err != linux.ENOMEM {
		t.Errorf("mincore unmapped: %v", err)
	}
	for _, c := range []struct {
		flags int
		want  error
	}{{linux.MS_SYNC, nil}, {linux.MS_ASYNC | linux.MS_SYNC, linux.EINVAL}, {0x10, linux.EINVAL}} {
		if err := e.mm.MSync(a, pageSize, c.flags); err != c.want {
			t.Errorf("msync(%#x) = %v, want %v", c.flags, err, c.want)
		}
	}
	if err := e.mm.MSync(a+4*pageSize, pageSize, linux.MS_SYNC); err != linux.ENOMEM {
		t.Errorf("msync unmapped: %v", err)
	}
	if err := e.mm.MLock(a, pageSize, false); err != nil {
		t.Fatal(err)
	}
	if e.mm.Stats().Locked != pageSize {
		t.Errorf("VmLck %d", e.mm.Stats().Locked)
	}
	if err := e.mm.MAdvise(a, pageSize, linux.MADV_DONTNEED); err != linux.EINVAL {
		t.Errorf("MADV_DONTNEED on locked memory: %v", err)
	}
	e.mm.MUnlockAll()
	if e.mm.Stats().Locked != 0 || e.vmaCount() != 1 {
		t.Errorf("after munlockall: locked %d, %d VMAs", e.mm.Stats().Locked, e.vmaCount())
	}
}

func TestReleaseReturnsMemory(t *testing.T) {
	e := newEnv(t)
	f := e.file("/f", make([]byte, pageSize))
	a := e.mmap(0, 8*pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	e.write(a, make([]byte, 8*pageSize))
	b := e.mmapFile(f, pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_PRIVATE, 0)
	e.write(b, []byte{1})
	e.mmap(0, pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED)
	child, _ := e.mm.Fork()
	child.CopyOut(a, []byte{1})
	f.DecRef() // the mapping keeps the file alive
	if e.mf.Allocated() == 0 {
		t.Fatal("nothing allocated")
	}
	child.Release()
	e.mm.Release()
	if n := e.mf.Allocated(); n != 0 {
		t.Errorf("%d bytes still allocated after releasing every address space", n)
	}
	if _, err := e.mm.CopyIn(a, make([]byte, 1)); err != linux.EFAULT {
		t.Errorf("CopyIn after Release: %v", err)
	}
}

func TestConcurrentIO(t *testing.T) {
	e := newEnv(t)
	const region = 64 * pageSize
	a := e.mmap(0x20000000, region, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_FIXED)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf := make([]byte, 3*pageSize)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				off := uintptr((g*7919 + i*4099) % (region - len(buf)))
				for j := range buf {
					buf[j] = byte(g)
				}
				if n, err := e.mm.CopyOut(a+off, buf); err != nil || n != len(buf) {
					t.Errorf("CopyOut: %d %v", n, err)
					return
				}
				if _, err := e.mm.CopyIn(a+off, buf); err != nil {
					t.Errorf("CopyIn: %v", err)
					return
				}
			}
		}(g)
	}
	// Meanwhile, map and unmap other ranges, fault, and fork.
	other := uintptr(0x30000000)
	for i := 0; i < 300; i++ {
		e.mmap(other, 4*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_FIXED)
		e.mm.HandleFault(other, platform.ReadWrite)
		if _, err := e.mm.CopyOut(other+pageSize, []byte{1}); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			c, err := e.mm.Fork()
			if err != nil {
				t.Fatal(err)
			}
			c.Release()
		}
		if err := e.mm.MUnmap(other, 4*pageSize); err != nil {
			t.Fatal(err)
		}
		e.mm.MProtect(a+region-pageSize, pageSize, linux.PROT_READ|linux.PROT_WRITE)
	}
	close(stop)
	wg.Wait()
	checkMirror(t, e.mm, e.as())
}

func BenchmarkCopyOut(b *testing.B) {
	for _, size := range []int{8, 64 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			e := newEnv(b)
			a := e.mmap(0, 128<<10, linux.PROT_READ|linux.PROT_WRITE, 0)
			src := make([]byte, size)
			e.write(a, make([]byte, 128<<10))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := e.mm.CopyOut(a+64, src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCopyObjectOut(b *testing.B) {
	e := newEnv(b)
	a := e.mmap(0, pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	e.write(a, make([]byte, pageSize))
	v := &linux.Iovec{Base: 1, Len: 2}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := e.mm.CopyObjectOut(a+64, v); err != nil {
			b.Fatal(err)
		}
	}
}
