package mm

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
)

func (e *env) word(addr uintptr) uint32 {
	e.t.Helper()
	return binary.LittleEndian.Uint32(e.read(addr, 4))
}

func (e *env) setWord(addr uintptr, v uint32) {
	e.t.Helper()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	e.write(addr, b[:])
}

func TestAtomicOps(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0, pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	if v, err := e.mm.LoadUint32(a + 8); err != nil || v != 0 {
		t.Fatalf("LoadUint32 of a fresh page = %d, %v", v, err)
	}
	e.setWord(a+8, 7)
	if v, err := e.mm.LoadUint32(a + 8); err != nil || v != 7 {
		t.Fatalf("LoadUint32 = %d, %v; want 7", v, err)
	}
	if prev, err := e.mm.CompareAndSwapUint32(a+8, 6, 9); err != nil || prev != 7 || e.word(a+8) != 7 {
		t.Fatalf("failing CAS: prev %d err %v word %d", prev, err, e.word(a+8))
	}
	if prev, err := e.mm.CompareAndSwapUint32(a+8, 7, 9); err != nil || prev != 7 || e.word(a+8) != 9 {
		t.Fatalf("CAS: prev %d err %v word %d", prev, err, e.word(a+8))
	}
	if prev, err := e.mm.SwapUint32(a+8, 0xdeadbeef); err != nil || prev != 9 || e.word(a+8) != 0xdeadbeef {
		t.Fatalf("Swap: prev %d err %v word %#x", prev, err, e.word(a+8))
	}

	for _, c := range []struct {
		name        string
		init        uint32
		op          uint32
		oparg       int32
		want        uint32
		wantErrNone bool
	}{
		{"set", 5, linux.FUTEX_OP_SET, 3, 3, true},
		{"add", 5, linux.FUTEX_OP_ADD, 3, 8, true},
		{"add negative", 5, linux.FUTEX_OP_ADD, -6, 0xffffffff, true},
		{"or", 5, linux.FUTEX_OP_OR, 2, 7, true},
		{"andn", 7, linux.FUTEX_OP_ANDN, 2, 5, true},
		{"xor", 6, linux.FUTEX_OP_XOR, 3, 5, true},
		{"set shift", 0, linux.FUTEX_OP_SET | linux.FUTEX_OP_OPARG_SHIFT, 4, 16, true},
		{"or shift", 1, linux.FUTEX_OP_OR | linux.FUTEX_OP_OPARG_SHIFT, 31, 0x80000001, true},
		// Linux takes an out-of-range shift modulo 32.
		{"add shift 33", 5, linux.FUTEX_OP_ADD | linux.FUTEX_OP_OPARG_SHIFT, 33, 7, true},
		{"unknown op", 5, 5, 1, 5, false},
		{"unknown op 7", 5, 7, 1, 5, false},
	} {
		e.setWord(a, c.init)
		old, err := e.mm.FutexOp(a, c.op, c.oparg)
		if c.wantErrNone && (err != nil || old != c.init) || !c.wantErrNone && err != linux.ENOSYS {
			t.Errorf("%s: FutexOp = %d, %v", c.name, old, err)
		}
		if got := e.word(a); got != c.want {
			t.Errorf("%s: word = %#x, want %#x", c.name, got, c.want)
		}
	}
}

func TestAtomicErrors(t *testing.T) {
	e := newEnv(t)
	rw := e.mmap(0, pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	ro := e.mmap(0, pageSize, linux.PROT_READ, 0)
	none := e.mmap(0, pageSize, linux.PROT_NONE, 0)
	unmapped := e.mmap(0, pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	if err := e.mm.MUnmap(unmapped, pageSize); err != nil {
		t.Fatal(err)
	}

	ops := map[string]func(uintptr) error{
		"load": func(a uintptr) error { _, err := e.mm.LoadUint32(a); return err },
		"cas":  func(a uintptr) error { _, err := e.mm.CompareAndSwapUint32(a, 0, 1); return err },
		"swap": func(a uintptr) error { _, err := e.mm.SwapUint32(a, 1); return err },
		"op":   func(a uintptr) error { _, err := e.mm.FutexOp(a, linux.FUTEX_OP_ADD, 1); return err },
	}
	for name, f := range ops {
		if err := f(rw + 2); err != linux.EINVAL {
			t.Errorf("%s unaligned: %v, want EINVAL", name, err)
		}
		if err := f(unmapped); err != linux.EFAULT {
			t.Errorf("%s unmapped: %v, want EFAULT", name, err)
		}
		if err := f(none); err != linux.EFAULT {
			t.Errorf("%s PROT_NONE: %v, want EFAULT", name, err)
		}
		want := error(linux.EFAULT)
		if name == "load" {
			want = nil
		}
		if err := f(ro); err != want {
			t.Errorf("%s read-only: %v, want %v", name, err, want)
		}
	}
	// A failing comparison still needs write access, as with cmpxchg.
	if _, err := e.mm.CompareAndSwapUint32(ro, 5, 6); err != linux.EFAULT {
		t.Errorf("failing CAS on read-only memory: %v", err)
	}
	if _, err := e.mm.FutexKey(rw+1, true); err != linux.EINVAL {
		t.Errorf("FutexKey unaligned: %v", err)
	}
	if _, err := e.mm.FutexKey(unmapped, false); err != linux.EFAULT {
		t.Errorf("shared FutexKey unmapped: %v", err)
	}
	if _, err := e.mm.FutexKey(none, false); err != linux.EFAULT {
		t.Errorf("shared FutexKey PROT_NONE: %v", err)
	}
	// Linux does not look at the memory for a private futex.
	if _, err := e.mm.FutexKey(unmapped, true); err != nil {
		t.Errorf("private FutexKey unmapped: %v", err)
	}
	if _, err := e.mm.FutexKey(testMax-2, true); err != linux.EINVAL {
		t.Errorf("FutexKey near the top: %v", err)
	}
	if _, err := e.mm.FutexKey(testMax, true); err != linux.EFAULT {
		t.Errorf("FutexKey beyond the address space: %v", err)
	}
}

func TestAtomicBreaksCOW(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0, pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	e.setWord(a, 1)
	child, err := e.mm.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	// A load shares the page; a write must copy it first.
	if v, err := child.LoadUint32(a); err != nil || v != 1 {
		t.Fatalf("child load = %d, %v", v, err)
	}
	if prev, err := child.CompareAndSwapUint32(a, 1, 2); err != nil || prev != 1 {
		t.Fatalf("child CAS = %d, %v", prev, err)
	}
	if e.word(a) != 1 {
		t.Errorf("child's atomic write reached the parent's page: %d", e.word(a))
	}
	if old, err := e.mm.FutexOp(a, linux.FUTEX_OP_ADD, 10); err != nil || old != 1 {
		t.Fatalf("parent FutexOp = %d, %v", old, err)
	}
	if v, _ := child.LoadUint32(a); v != 2 {
		t.Errorf("parent's atomic write reached the child: child reads %d", v)
	}
	if e.word(a) != 11 {
		t.Errorf("parent word = %d, want 11", e.word(a))
	}
	// Copy-on-write pages are never written in place: the private page
	// each side writes now has one user.
	e.mm.mu.RLock()
	p := e.mm.pages[a>>pageShift]
	e.mm.mu.RUnlock()
	if !p.writable || e.mf.RefCount(p.off) != 1 {
		t.Errorf("parent page after atomic write: %+v refs %d", p, e.mf.RefCount(p.off))
	}
}

// TestAtomicSharedAfterForkAndKeys checks that a MAP_SHARED region is one
// memory for both processes after fork, for atomics and for futex keys,
// while private mappings and private keys stay per address space.
func TestAtomicSharedAfterForkAndKeys(t *testing.T) {
	e := newEnv(t)
	shared := e.mmap(0, 2*pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED)
	private := e.mmap(0, pageSize, linux.PROT_READ|linux.PROT_WRITE, 0)
	child, err := e.mm.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()

	if _, err := child.SwapUint32(shared+pageSize+4, 42); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.mm.LoadUint32(shared + pageSize + 4); v != 42 {
		t.Errorf("parent reads %d from shared memory the child wrote 42 to", v)
	}

	pk, err := e.mm.FutexKey(shared+pageSize+4, false)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := child.FutexKey(shared+pageSize+4, false)
	if err != nil {
		t.Fatal(err)
	}
	if pk != ck {
		t.Errorf("shared keys differ after fork: %+v vs %+v", pk, ck)
	}
	if other, _ := e.mm.FutexKey(shared+4, false); other == pk {
		t.Error("different words of a shared mapping have one key")
	}
	ppk, _ := e.mm.FutexKey(shared+pageSize+4, true)
	cpk, _ := child.FutexKey(shared+pageSize+4, true)
	if ppk == cpk || ppk == pk {
		t.Errorf("private keys of shared memory must be per address space: %+v %+v %+v", ppk, cpk, pk)
	}
	p1, _ := e.mm.FutexKey(private, false)
	p2, _ := child.FutexKey(private, false)
	if p1 == p2 {
		t.Error("a private mapping's futex key is the same in parent and child")
	}
	if p3, _ := e.mm.FutexKey(private, true); p3 != p1 {
		t.Error("shared and private keys of a private mapping differ (Linux makes them equal)")
	}

	// The same object mapped at another address has the same key.
	f := e.file("/shm", make([]byte, pageSize))
	defer f.DecRef()
	m1 := e.mmapFile(f, pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED, 0)
	m2 := e.mmapFile(f, pageSize, linux.PROT_READ, linux.MAP_SHARED, 0)
	before := e.mm.residentPages()
	k1, err1 := e.mm.FutexKey(m1+64, false)
	k2, err2 := e.mm.FutexKey(m2+64, false)
	if err1 != nil || err2 != nil || k1 != k2 {
		t.Errorf("one file mapped twice: keys %+v %+v (%v %v)", k1, k2, err1, err2)
	}
	// Keys name the object, not its page: nothing is populated.
	if n := e.mm.residentPages(); n != before {
		t.Errorf("FutexKey populated pages: %d -> %d", before, n)
	}
}

func (mm *MemoryManager) residentPages() int {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	return len(mm.pages)
}

// TestAtomicAgainstApplication races futex operations with "application"
// atomic adds made through another view of the same memory-file page, as a
// stub process's would be, and checks no update is lost.
func TestAtomicAgainstApplication(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(0, pageSize, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED)
	if _, err := e.mm.SwapUint32(a, 0); err != nil {
		t.Fatal(err)
	}
	e.mm.mu.RLock()
	off := e.mm.pages[a>>pageShift].off
	e.mm.mu.RUnlock()
	app := (*uint32)(unsafe.Pointer(&e.mf.Slice(pgalloc.Range{Start: off, End: off + 4})[0]))

	const n = 10000
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				switch g {
				case 0:
					e.mm.FutexOp(a, linux.FUTEX_OP_ADD, 1)
				case 1:
					for {
						v, _ := e.mm.LoadUint32(a)
						if p, _ := e.mm.CompareAndSwapUint32(a, v, v+1); p == v {
							break
						}
					}
				default:
					atomic.AddUint32(app, 1)
				}
			}
		}()
	}
	wg.Wait()
	if v, _ := e.mm.LoadUint32(a); v != 4*n {
		t.Errorf("word = %d after %d increments", v, 4*n)
	}
}
