// Package pipe implements pipes: the anonymous ones pipe(2) makes and the
// named ones (FIFOs) that filesystems open through the same object.
//
// Semantics follow pipe(7): a bounded byte buffer (64 KiB by default,
// F_SETPIPE_SZ up to 1 MiB), writes of at most PIPE_BUF bytes are atomic,
// readers see end of file once every writer is gone, writers get EPIPE
// once every reader is gone (the caller then sends SIGPIPE), and opening a
// FIFO waits for the other end as fifo(7) describes.
package pipe

//go:generate go run appkernel.dev/appkernel/tools/stateify

import (
	"context"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

const (
	// DefaultPipeSize is a new pipe's capacity (PIPE_DEF_BUFFERS pages).
	DefaultPipeSize = linux.PIPE_DEF_BUFFERS * linux.PageSize
	// MaximumPipeSize is /proc/sys/fs/pipe-max-size's default, the most
	// F_SETPIPE_SZ grants without CAP_SYS_RESOURCE.
	MaximumPipeSize = 1 << 20
	// MinimumPipeSize is one page: smaller requests are rounded up.
	MinimumPipeSize = linux.PageSize
)

// Pipe is the shared state of both ends of a pipe.
//
// +stateify savable
type Pipe struct {
	queue waiter.Queue

	// mu guards everything below.
	mu sync.Mutex // +state:nosave

	// buf is a ring of capacity bytes (allocated on first write) holding
	// size bytes starting at head.
	buf      []byte
	head     int
	size     int
	capacity int

	// readers and writers count the open ends. rCounter and wCounter
	// count every open ever made of each kind, so that a FIFO opener
	// waiting for a partner notices one that came and went.
	readers, writers   int
	rCounter, wCounter uint64

	// named is set for FIFOs, whose buffer is discarded once nobody has
	// them open (anonymous pipes are never reopened once both ends are
	// closed, except through /proc, which reopens a live pipe).
	named bool

	// openCh, when non-nil, is closed at the next open to wake FIFO
	// openers waiting for a partner.
	openCh chan struct{} // +state:nosave

	// readBusy and writeBusy are set while a splice moves bytes between
	// the pipe and another file with mu dropped (splice.go): the reading
	// side has looked at bytes it has not consumed yet, or the writing
	// side has reserved free space it has not filled yet. Other readers
	// (or writers) wait meanwhile, as they would for Linux's pipe mutex.
	readBusy, writeBusy bool // +state:nosave
}

// NewPipe returns an empty pipe with the default capacity. named marks a
// FIFO.
func NewPipe(named bool) *Pipe {
	return &Pipe{capacity: DefaultPipeSize, named: named}
}

// Capacity returns the buffer size (F_GETPIPE_SZ).
func (p *Pipe) Capacity() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int64(p.capacity)
}

// SetCapacity implements F_SETPIPE_SZ: size is rounded up to a power of
// two pages; more than MaximumPipeSize is EPERM unless privileged, and a
// size smaller than what the pipe holds is EBUSY. It returns the new
// capacity.
func (p *Pipe) SetCapacity(size int64, privileged bool) (int64, error) {
	if size <= 0 {
		size = MinimumPipeSize
	}
	if size > 1<<31 {
		return 0, linux.EINVAL
	}
	n := int64(MinimumPipeSize)
	for n < size {
		n <<= 1
	}
	if n > MaximumPipeSize && !privileged {
		return 0, linux.EPERM
	}
	p.mu.Lock()
	if int64(p.size) > n || p.readBusy || p.writeBusy {
		p.mu.Unlock()
		return 0, linux.EBUSY
	}
	if p.buf != nil {
		nb := make([]byte, n)
		p.copyOutLocked(nb, p.size)
		p.buf, p.head = nb, 0
	}
	p.capacity = int(n)
	p.mu.Unlock()
	p.queue.Notify(waiter.WritableEvents)
	return n, nil
}

// copyOutLocked copies the first n buffered bytes to dst without
// consuming them.
func (p *Pipe) copyOutLocked(dst []byte, n int) {
	first := min(n, len(p.buf)-p.head)
	copy(dst, p.buf[p.head:p.head+first])
	copy(dst[first:], p.buf[:n-first])
}

// Queued returns how many bytes are buffered (FIONREAD).
func (p *Pipe) Queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size
}

// read copies buffered bytes to dst, waiting for some if there are none
// and writers remain.
func (p *Pipe) read(ctx context.Context, dst vfs.IOSequence, nonblock bool) (int64, error) {
	if dst.NumBytes() == 0 {
		return 0, nil
	}
	for {
		p.mu.Lock()
		if p.readBusy {
			if err := p.waitLocked(ctx, waiter.ReadableEvents); err != nil {
				return 0, err
			}
			continue
		}
		if p.size > 0 {
			n, err := p.readLocked(ctx, dst)
			p.mu.Unlock()
			if n > 0 {
				p.queue.Notify(waiter.WritableEvents)
				return n, nil
			}
			return 0, err
		}
		if p.writers == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		if nonblock {
			p.mu.Unlock()
			return 0, linux.EAGAIN
		}
		if err := p.waitLocked(ctx, waiter.ReadableEvents); err != nil {
			return 0, err
		}
	}
}

// readLocked moves up to dst.NumBytes() bytes from the ring to dst.
func (p *Pipe) readLocked(ctx context.Context, dst vfs.IOSequence) (int64, error) {
	want := int(min(dst.NumBytes(), int64(p.size)))
	var done int
	for done < want {
		seg := min(want-done, len(p.buf)-p.head)
		n, err := dst.CopyOut(ctx, p.buf[p.head:p.head+seg])
		p.head = (p.head + n) % len(p.buf)
		p.size -= n
		done += n
		if err != nil {
			return int64(done), err
		}
		if n < seg {
			return int64(done), linux.EFAULT
		}
		dst = dst.DropFirst(int64(n))
	}
	if p.size == 0 {
		p.head = 0
	}
	return int64(done), nil
}

// waitLocked registers for mask, drops p.mu and sleeps until notified.
// Registering before unlocking means a change made after our check
// cannot be missed.
func (p *Pipe) waitLocked(ctx context.Context, mask waiter.EventMask) error {
	e, ch := waiter.NewChannelEntry(mask)
	p.queue.EventRegister(e)
	p.mu.Unlock()
	err := vfs.BlockerFromContext(ctx).Block(ch)
	p.queue.EventUnregister(e)
	return err
}

// write copies src into the pipe. A write of at most PIPE_BUF bytes goes
// in whole or waits; a larger one goes in as space appears and may be
// partial if interrupted or non-blocking. With no reader it fails with
// EPIPE, and the caller must send SIGPIPE (also when some bytes were
// written before the last reader left, in which case n > 0).
func (p *Pipe) write(ctx context.Context, src vfs.IOSequence, nonblock bool) (int64, error) {
	total := src.NumBytes()
	if total == 0 {
		return 0, nil
	}
	atomic := total <= linux.PIPE_BUF
	var written int64
	for {
		p.mu.Lock()
		if p.readers == 0 {
			p.mu.Unlock()
			return written, linux.EPIPE
		}
		if p.writeBusy {
			if err := p.waitLocked(ctx, waiter.WritableEvents); err != nil {
				if written > 0 {
					return written, nil
				}
				return 0, err
			}
			continue
		}
		free := int64(p.capacity - p.size)
		remaining := total - written
		if (atomic && free >= remaining) || (!atomic && free > 0) {
			n, err := p.writeLocked(ctx, src.DropFirst(written), min(free, remaining))
			p.mu.Unlock()
			written += n
			if n > 0 {
				p.queue.Notify(waiter.ReadableEvents)
			}
			if err != nil {
				if written > 0 {
					return written, nil
				}
				return 0, err
			}
			if written == total {
				return written, nil
			}
			continue
		}
		if nonblock {
			p.mu.Unlock()
			if written > 0 {
				return written, nil
			}
			return 0, linux.EAGAIN
		}
		if err := p.waitLocked(ctx, waiter.WritableEvents); err != nil {
			if written > 0 {
				return written, nil
			}
			return 0, err
		}
	}
}

func (p *Pipe) writeLocked(ctx context.Context, src vfs.IOSequence, count int64) (int64, error) {
	if p.buf == nil || len(p.buf) != p.capacity {
		nb := make([]byte, p.capacity)
		if p.buf != nil {
			p.copyOutLocked(nb, p.size)
		}
		p.buf, p.head = nb, 0
	}
	var done int64
	for done < count {
		tail := (p.head + p.size) % len(p.buf)
		seg := min(int(count-done), len(p.buf)-tail)
		n, err := src.CopyIn(ctx, p.buf[tail:tail+seg])
		p.size += n
		done += int64(n)
		if err != nil {
			return done, err
		}
		if n < seg {
			return done, linux.EFAULT
		}
		src = src.DropFirst(int64(n))
	}
	return done, nil
}

// readiness reports the events of an end that is readable and/or
// writable. hupVersion suppresses EventHUp for a FIFO reader that opened
// without a writer until some writer has opened since.
func (p *Pipe) readiness(mask waiter.EventMask, readable, writable bool, hupVersion uint64) waiter.EventMask {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ready waiter.EventMask
	if readable {
		if p.size > 0 {
			ready |= waiter.ReadableEvents
		}
		if p.writers == 0 && p.wCounter != hupVersion {
			ready |= waiter.EventHUp
		}
	}
	if writable {
		if p.capacity-p.size >= linux.PIPE_BUF {
			ready |= waiter.WritableEvents
		}
		if p.readers == 0 {
			ready |= waiter.EventErr
		}
	}
	return ready & (mask | waiter.EventErr | waiter.EventHUp)
}

// release drops an end.
func (p *Pipe) release(readable, writable bool) {
	p.mu.Lock()
	var ev waiter.EventMask
	if readable {
		p.readers--
		if p.readers == 0 {
			ev |= waiter.EventErr | waiter.WritableEvents
		}
	}
	if writable {
		p.writers--
		if p.writers == 0 {
			ev |= waiter.EventHUp | waiter.ReadableEvents
		}
	}
	if p.named && p.readers == 0 && p.writers == 0 {
		p.buf, p.head, p.size = nil, 0, 0
	}
	p.mu.Unlock()
	p.queue.Notify(ev)
}
