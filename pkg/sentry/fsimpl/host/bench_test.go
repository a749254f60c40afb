package host

import (
	"context"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// BenchmarkPipeThroughput moves data from a writer FileDescription to a
// reader FileDescription over one host pipe, both blocking, so waits
// through the notifier are part of what is measured.
func BenchmarkPipeThroughput(b *testing.B) {
	for _, size := range []int{512, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			v := vfs.New()
			r, err := NewFD(ctx, v, p[0], FDOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer r.DecRef(ctx)
			w, err := NewFD(ctx, v, p[1], FDOptions{})
			if err != nil {
				b.Fatal(err)
			}
			src := make([]byte, size)
			b.SetBytes(int64(size))
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 0; i < b.N; i++ {
					if _, err := w.Write(ctx, vfs.BytesIOSequence(src), vfs.WriteOptions{}); err != nil {
						return
					}
				}
				w.DecRef(ctx)
			}()
			dst := make([]byte, size)
			for {
				n, err := r.Read(ctx, vfs.BytesIOSequence(dst), vfs.ReadOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			<-done
		})
	}
}

// BenchmarkNativePipeThroughput is the same transfer with plain blocking
// host reads and writes, the baseline for BenchmarkPipeThroughput.
func BenchmarkNativePipeThroughput(b *testing.B) {
	for _, size := range []int{512, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				b.Fatal(err)
			}
			defer unix.Close(p[0])
			src := make([]byte, size)
			b.SetBytes(int64(size))
			go func() {
				for i := 0; i < b.N; i++ {
					if _, err := unix.Write(p[1], src); err != nil {
						break
					}
				}
				unix.Close(p[1])
			}()
			dst := make([]byte, size)
			for {
				n, err := unix.Read(p[0], dst)
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
		})
	}
}
