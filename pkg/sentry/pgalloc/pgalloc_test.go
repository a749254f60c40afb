package pgalloc

import (
	"bytes"
	"sync"
	"testing"
)

func newFile(t *testing.T) *MemoryFile {
	t.Helper()
	f, err := New(Options{MaxSize: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Destroy)
	return f
}

func TestAllocateZeroedAndReused(t *testing.T) {
	f := newFile(t)
	r, err := f.Allocate(3 * pageSize)
	if err != nil {
		t.Fatal(err)
	}
	if r.Length() != 3*pageSize || r.Start%pageSize != 0 {
		t.Fatalf("range %v", r)
	}
	b := f.Slice(r)
	if !bytes.Equal(b, make([]byte, len(b))) {
		t.Fatal("new pages not zero")
	}
	for i := range b {
		b[i] = 0xaa
	}
	if got := f.Allocated(); got != 3*pageSize {
		t.Fatalf("Allocated = %d", got)
	}
	committed, err := f.Committed()
	if err != nil || committed < 3*pageSize {
		t.Fatalf("Committed = %d, %v after writing 3 pages", committed, err)
	}
	f.DecRef(r)
	if got := f.Allocated(); got != 0 {
		t.Fatalf("Allocated after free = %d", got)
	}
	if c, _ := f.Committed(); c != 0 {
		t.Fatalf("Committed after free = %d: hole not punched", c)
	}
	// First fit: the same pages come back, zeroed.
	r2, err := f.Allocate(2 * pageSize)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Start != r.Start {
		t.Errorf("reallocation at %v, want start %#x", r2, r.Start)
	}
	if b := f.Slice(r2); !bytes.Equal(b, make([]byte, len(b))) {
		t.Fatal("reused pages not zero")
	}
}

func TestRefCounts(t *testing.T) {
	f := newFile(t)
	r, _ := f.Allocate(2 * pageSize)
	f.IncRef(Range{r.Start, r.Start + pageSize})
	if f.RefCount(r.Start) != 2 || f.RefCount(r.Start+pageSize) != 1 {
		t.Fatalf("refs %d %d", f.RefCount(r.Start), f.RefCount(r.Start+pageSize))
	}
	f.DecRef(r)
	if f.RefCount(r.Start) != 1 || f.RefCount(r.Start+pageSize) != 0 {
		t.Fatalf("refs after DecRef %d %d", f.RefCount(r.Start), f.RefCount(r.Start+pageSize))
	}
	if f.Allocated() != pageSize {
		t.Fatalf("Allocated %d", f.Allocated())
	}
	// The freed page is the next one handed out; the held one is not.
	r3, _ := f.Allocate(pageSize)
	if r3.Start != r.Start+pageSize {
		t.Fatalf("got %v", r3)
	}
	defer func() {
		if recover() == nil {
			t.Error("IncRef of a free page did not panic")
		}
	}()
	f.DecRef(r3)
	f.IncRef(r3)
}

func TestGrowAndFull(t *testing.T) {
	f := newFile(t)
	r, err := f.Allocate(100 << 20) // larger than one growth chunk
	if err != nil {
		t.Fatal(err)
	}
	b := f.Slice(r)
	b[len(b)-1] = 1
	if _, err := f.Allocate(200 << 20); err != ErrNoSpace {
		t.Fatalf("over max: %v", err)
	}
	f.DecRef(r)
	if _, err := f.Allocate(200 << 20); err != nil {
		t.Fatalf("after free: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	f := newFile(t)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				r, err := f.Allocate(uint64(1+i%4) * pageSize)
				if err != nil {
					t.Error(err)
					return
				}
				b := f.Slice(r)
				if b[0] != 0 || b[len(b)-1] != 0 {
					t.Error("allocated page not zero")
				}
				b[0], b[len(b)-1] = byte(g+1), byte(g+1)
				f.IncRef(r)
				f.DecRef(r)
				if b[0] != byte(g+1) {
					t.Error("page changed under its owner")
				}
				f.DecRef(r)
			}
		}(g)
	}
	wg.Wait()
	if f.Allocated() != 0 {
		t.Fatalf("leak: %d", f.Allocated())
	}
}
