package gofer_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

func TestConcurrentAppends(t *testing.T) {
	e := newEnv(t, "", envOpts{})
	e.hostWrite("log", "")
	const writers, records = 4, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			fd := e.mustOpen("log", linux.O_WRONLY|linux.O_APPEND, 0)
			defer fd.DecRef(e.ctx)
			for i := range records {
				e.write(fd, fmt.Sprintf("w%d-r%04d\n", w, i))
			}
		})
	}
	wg.Wait()
	got := e.hostRead("log")
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != writers*records {
		t.Fatalf("%d records, want %d", len(lines), writers*records)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if len(l) != 8 || seen[l] {
			t.Fatalf("torn or repeated record %q", l)
		}
		seen[l] = true
	}
	if st := e.stat("log", true); st.Size != uint64(len(got)) {
		t.Errorf("size %d, host %d", st.Size, len(got))
	}
}

// TestConcurrentOpens churns a tiny idle cache from several goroutines.
func TestConcurrentOpens(t *testing.T) {
	e := newEnv(t, "", envOpts{data: ",idle_handles=1"})
	for i := range 8 {
		e.hostWrite(fmt.Sprint(i), fmt.Sprint("content ", i))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				n := (g + i) % 8
				if got := e.mustRead(fmt.Sprint(n)); got != fmt.Sprint("content ", n) {
					t.Errorf("read %d = %q", n, got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestUnusedInodesReleased checks that inodes nobody refers to any more
// give their gofer node handles back.
func TestUnusedInodesReleased(t *testing.T) {
	e := newEnv(t, "", envOpts{data: ",idle_handles=0"})
	const n = 50
	for i := range n {
		e.hostWrite(fmt.Sprint(i), "x")
	}
	base := countFDs(t)
	for i := range n {
		e.stat(fmt.Sprint(i), true)
	}
	if c := countFDs(t); c < base+n {
		t.Fatalf("lookups made %d handles, want %d", c-base, n)
	}
	// Unlinking drops the dentries; the inodes become garbage.
	for i := range n {
		if err := e.vfs.UnlinkAt(e.ctx, e.creds, e.pop(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for countFDs(t) > base+n/5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors still open, base %d", countFDs(t), base)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
