package gofer_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// benchOpenReadClose opens, reads and closes a small file through the
// VFS, the gofer filesystem and a real gofer server.
func benchOpenReadClose(b *testing.B, data string) {
	e := newEnv(b, "", envOpts{data: data})
	e.hostWrite("small", "a small file's contents\n")
	buf := make([]byte, 4096)
	// Look the path up once, as any program's second open would find it.
	e.mustRead("small")
	b.ResetTimer()
	for b.Loop() {
		fd, err := e.open("small", linux.O_RDONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := fd.Read(e.ctx, vfs.BytesIOSequence(buf), vfs.ReadOptions{}); err != nil || n != 24 {
			b.Fatalf("read %d, %v", n, err)
		}
		fd.DecRef(e.ctx)
	}
}

// BenchmarkOpenReadClose reuses the host descriptor the previous close
// left in the idle cache: no gofer round trip at all.
func BenchmarkOpenReadClose(b *testing.B) { benchOpenReadClose(b, "") }

// BenchmarkOpenReadCloseUncached makes every open ask the gofer for a new
// host descriptor (one round trip; closes are batched).
func BenchmarkOpenReadCloseUncached(b *testing.B) { benchOpenReadClose(b, ",idle_handles=0") }

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(ents)
}

// TestIdleHandlesBounded checks that closed files do not keep host
// descriptors beyond the idle cache's size.
func TestIdleHandlesBounded(t *testing.T) {
	for _, tc := range []struct {
		data string
		max  int
	}{{",idle_handles=0", 0}, {",idle_handles=3", 3}} {
		e := newEnv(t, "", envOpts{data: tc.data})
		for i := range 20 {
			e.hostWrite(fmt.Sprint(i), "x")
		}
		// Looking a file up pins it with a node handle in the gofer for
		// as long as its dentry lives; count from there.
		for i := range 20 {
			e.stat(fmt.Sprint(i), true)
		}
		base := countFDs(t)
		for i := range 20 {
			e.mustRead(fmt.Sprint(i))
		}
		// Each idle handle is a descriptor here and one in the
		// in-process gofer; closes reach the gofer in batches.
		deadline := time.Now().Add(5 * time.Second)
		for countFDs(t) > base+2*tc.max {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d descriptors, base %d", tc.data, countFDs(t), base)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
