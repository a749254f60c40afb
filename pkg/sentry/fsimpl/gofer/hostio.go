package gofer

import (
	"context"
	"sync"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// bounceSize is the largest chunk moved per host call: vfs.IOSequence
// only copies, so data goes through a Sentry buffer.
const bounceSize = 64 << 10

var bounceBufs = sync.Pool{New: func() any { b := make([]byte, bounceSize); return &b }}

// hostPread reads from host at off into dst until dst is full or the file
// ends. An error comes with the count read before it.
func hostPread(ctx context.Context, host int, dst vfs.IOSequence, off int64) (int64, error) {
	bp := bounceBufs.Get().(*[]byte)
	defer bounceBufs.Put(bp)
	var done int64
	for dst.NumBytes() > 0 {
		want := min(dst.NumBytes(), bounceSize)
		n, err := unix.Pread(host, (*bp)[:want], off+done)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, hostErr(err)
		}
		if n == 0 {
			break
		}
		c, cerr := dst.CopyOut(ctx, (*bp)[:n])
		done += int64(c)
		if cerr != nil {
			return done, cerr
		}
		if int64(n) < want {
			break
		}
		dst = dst.DropFirst(int64(n))
	}
	return done, nil
}

// hostPwrite writes src to host at off, calling written with each chunk
// that reached the file (so cached pages follow). An error comes with the
// count written before it.
func hostPwrite(ctx context.Context, host int, src vfs.IOSequence, off int64, written func(off int64, b []byte)) (int64, error) {
	bp := bounceBufs.Get().(*[]byte)
	defer bounceBufs.Put(bp)
	var done int64
	for src.NumBytes() > 0 {
		want := min(src.NumBytes(), bounceSize)
		c, cerr := src.CopyIn(ctx, (*bp)[:want])
		buf := (*bp)[:c]
		for len(buf) > 0 {
			n, err := unix.Pwrite(host, buf, off+done)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return done, hostErr(err)
			}
			if n == 0 {
				return done, linux.EIO
			}
			written(off+done, buf[:n])
			done += int64(n)
			buf = buf[n:]
		}
		if cerr != nil {
			return done, cerr
		}
		src = src.DropFirst(int64(c))
	}
	return done, nil
}
