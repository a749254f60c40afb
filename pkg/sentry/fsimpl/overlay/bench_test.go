package overlay_test

import (
	"fmt"
	"strings"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

func benchEnv(b *testing.B) *env {
	return newTmpfsEnv(b, func(l *tree) {
		l.mkdir("/usr", 0755)
		l.mkdir("/usr/lib", 0755)
		l.writeFile("/usr/lib/libc.so", strings.Repeat("x", 4096), 0644)
		l.writeFile("/big", strings.Repeat("y", 1<<20), 0644)
	})
}

// BenchmarkStat compares stat of a lower-only file through the overlay
// with stat of the same file on the lower layer.
func BenchmarkStat(b *testing.B) {
	e := benchEnv(b)
	for _, c := range []struct {
		name string
		t    *tree
	}{{"overlay", e.tree}, {"lower", e.lower}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.t.statErr("/usr/lib/libc.so"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPRead compares 4 KiB preads of a lower-only file through the
// overlay with preads on the lower layer.
func BenchmarkPRead(b *testing.B) {
	e := benchEnv(b)
	buf := make([]byte, 4096)
	for _, c := range []struct {
		name string
		t    *tree
	}{{"overlay", e.tree}, {"lower", e.lower}} {
		b.Run(c.name, func(b *testing.B) {
			fd := c.t.mustOpen("/usr/lib/libc.so", linux.O_RDONLY, 0)
			defer fd.DecRef(c.t.ctx)
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if _, err := fd.PRead(c.t.ctx, vfs.BytesIOSequence(buf), 0, vfs.ReadOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCopyUp1MiB measures copying a 1 MiB lower file up (by
// opening it for writing), including the overlay setup per iteration.
func BenchmarkCopyUp1MiB(b *testing.B) {
	b.SetBytes(1 << 20)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		e := benchEnv(b)
		b.StartTimer()
		fd, err := e.open("/big", linux.O_WRONLY, 0)
		if err != nil {
			b.Fatal(fmt.Errorf("round %d: %w", i, err))
		}
		fd.DecRef(e.ctx)
	}
}
