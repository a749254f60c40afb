package host

import (
	"context"
	"sync"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// maxChunk bounds the bounce buffer of one host read or write. Larger
// regular-file transfers loop; a stream read returns at most this much,
// as a short read that any reader of a pipe or socket must expect.
const maxChunk = 64 << 10

func chunkSize(n int64) int { return int(min(n, maxChunk)) }

// bouncePool recycles full-size bounce buffers: allocating and zeroing
// 64 KiB per call costs as much as the host call itself.
var bouncePool = sync.Pool{New: func() any { b := make([]byte, maxChunk); return &b }}

// getBuffer returns a bounce buffer of at least n (<= maxChunk) bytes
// and the function that gives it back.
func getBuffer(n int) ([]byte, func()) {
	if n < 4096 {
		return make([]byte, n), func() {}
	}
	bp := bouncePool.Get().(*[]byte)
	return (*bp)[:n], func() { bouncePool.Put(bp) }
}

// waitIO runs op, a non-blocking host read or write, until it does
// something or fails with an error other than EAGAIN. On EAGAIN it
// returns EAGAIN for a non-blocking sandbox file; otherwise it waits for
// the host to report mask. The entry is registered before op is retried,
// so readiness that arrives between the failed attempt and the sleep
// still wakes it.
func (i *inode) waitIO(ctx context.Context, mask waiter.EventMask, nonblock bool, op func() (int, error)) (int, error) {
	var ch <-chan struct{}
	for {
		n, err := op()
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
		default:
			return 0, hostErr(err)
		}
		if nonblock || !i.pollable {
			return 0, linux.EAGAIN
		}
		if ch == nil {
			var e *waiter.Entry
			e, ch = waiter.NewChannelEntry(mask)
			i.queue.EventRegister(e)
			defer i.queue.EventUnregister(e)
			continue
		}
		if err := vfs.BlockerFromContext(ctx).Block(ch); err != nil {
			return 0, err
		}
	}
}

// readStream does one host read of up to maxChunk bytes into dst,
// waiting for data unless nonblock. 0 bytes is end of file.
func (i *inode) readStream(ctx context.Context, dst vfs.IOSequence, nonblock bool) (int64, error) {
	buf, put := getBuffer(chunkSize(dst.NumBytes()))
	defer put()
	n, err := i.waitIO(ctx, waiter.ReadableEvents, nonblock, func() (int, error) {
		return unix.Read(int(i.hostFD), buf)
	})
	if err != nil {
		return 0, err
	}
	// Bytes read but not copied out are lost, as when Linux faults
	// copying a pipe buffer to user memory after consuming it.
	c, err := dst.CopyOut(ctx, buf[:n])
	if c > 0 {
		return int64(c), nil
	}
	return 0, err
}

// writeStream writes all of src unless nonblock (then as much as the
// host takes without waiting), a wait is interrupted, or the host fails.
// EPIPE is returned even after a partial write, with the count, so that
// the system call layer sends SIGPIPE as Linux does (the pipe package's
// convention).
func (i *inode) writeStream(ctx context.Context, src vfs.IOSequence, nonblock bool) (int64, error) {
	total := src.NumBytes()
	buf, put := getBuffer(chunkSize(total))
	defer put()
	var written int64
	for written < total {
		c, cerr := src.DropFirst(written).CopyIn(ctx, buf[:chunkSize(total-written)])
		for off := 0; off < c; {
			n, err := i.waitIO(ctx, waiter.WritableEvents, nonblock, func() (int, error) {
				return unix.Write(int(i.hostFD), buf[off:c])
			})
			if err == nil && n == 0 {
				// A stream that accepts nothing without an error
				// would otherwise spin here.
				err = linux.EIO
			}
			off += n
			written += int64(n)
			if err == linux.EPIPE {
				return written, err
			}
			if err != nil {
				if written > 0 {
					return written, nil
				}
				return 0, err
			}
		}
		if cerr != nil || c == 0 {
			if written > 0 {
				return written, nil
			}
			if cerr == nil {
				cerr = linux.EFAULT
			}
			return 0, cerr
		}
	}
	return written, nil
}

// preadFull reads a regular file at offset until dst is full or end of
// file.
func (i *inode) preadFull(ctx context.Context, dst vfs.IOSequence, offset int64) (int64, error) {
	total := dst.NumBytes()
	buf, put := getBuffer(chunkSize(total))
	defer put()
	var done int64
	for done < total {
		want := buf[:chunkSize(total-done)]
		var n int
		err := retryEINTR(func() (err error) {
			n, err = unix.Pread(int(i.hostFD), want, offset+done)
			return err
		})
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, hostErr(err)
		}
		if n == 0 {
			break
		}
		c, cerr := dst.DropFirst(done).CopyOut(ctx, buf[:n])
		done += int64(c)
		if cerr != nil || c < n {
			if done > 0 {
				return done, nil
			}
			if cerr == nil {
				cerr = linux.EFAULT
			}
			return 0, cerr
		}
		if n < len(want) {
			break
		}
	}
	return done, nil
}

// pwriteFull writes src to a regular file at offset, or at its end when
// appending, and returns the count and the offset after the data.
func (i *inode) pwriteFull(ctx context.Context, src vfs.IOSequence, offset int64, appending bool) (int64, int64, error) {
	if appending {
		i.appendMu.Lock()
		defer i.appendMu.Unlock()
		var st unix.Stat_t
		if err := fstat(int(i.hostFD), &st); err != nil {
			return 0, offset, err
		}
		offset = st.Size
	}
	total := src.NumBytes()
	if total == 0 {
		return 0, offset, nil
	}
	buf, put := getBuffer(chunkSize(total))
	defer put()
	var done int64
	for done < total {
		c, cerr := src.DropFirst(done).CopyIn(ctx, buf[:chunkSize(total-done)])
		for off := 0; off < c; {
			var n int
			err := retryEINTR(func() (err error) {
				n, err = unix.Pwrite(int(i.hostFD), buf[off:c], offset+done)
				return err
			})
			if err != nil {
				if done > 0 {
					return done, offset + done, nil
				}
				return 0, offset, hostErr(err)
			}
			if n == 0 {
				// Linux never does this for a non-empty write;
				// stop rather than spin.
				return done, offset + done, nil
			}
			off += n
			done += int64(n)
		}
		if cerr != nil || c == 0 {
			if done > 0 {
				return done, offset + done, nil
			}
			if cerr == nil {
				cerr = linux.EFAULT
			}
			return 0, offset, cerr
		}
	}
	return done, offset + done, nil
}
