package pipe

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// Splicing (splice(2), tee(2), sendfile(2) from a pipe) moves bytes
// between a pipe and another file without the application's memory. The
// other file may block (a full socket, a FIFO), so the pipe's lock cannot
// be held across its read or write: instead the pipe marks itself busy on
// that side, copies through a kernel buffer of at most the pipe's
// capacity, and only then consumes (or fills) what the other file took.
// Bytes the other file does not accept stay in the pipe.

// WaitReadable waits until the pipe holds data (true) or has no writer
// left (false, end of file). Non-blocking, it fails with EAGAIN instead.
func (p *Pipe) WaitReadable(ctx context.Context, nonblock bool) (bool, error) {
	p.mu.Lock()
	for {
		if p.size > 0 {
			p.mu.Unlock()
			return true, nil
		}
		if p.writers == 0 {
			p.mu.Unlock()
			return false, nil
		}
		if nonblock {
			p.mu.Unlock()
			return false, linux.EAGAIN
		}
		if err := p.waitLocked(ctx, waiter.ReadableEvents); err != nil {
			return false, err
		}
		p.mu.Lock()
	}
}

// WriteTo passes up to count buffered bytes, waiting for some as read(2)
// does, to write, which returns how many it took; with consume those
// leave the pipe (splice), otherwise they stay (tee). It returns 0 at end
// of file.
func (p *Pipe) WriteTo(ctx context.Context, count int64, nonblock, consume bool, write func([]byte) (int64, error)) (int64, error) {
	if count <= 0 {
		return 0, nil
	}
	p.mu.Lock()
	for p.readBusy || p.size == 0 {
		if !p.readBusy && p.writers == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		if nonblock && !p.readBusy {
			p.mu.Unlock()
			return 0, linux.EAGAIN
		}
		if err := p.waitLocked(ctx, waiter.ReadableEvents); err != nil {
			return 0, err
		}
		p.mu.Lock()
	}
	p.readBusy = true
	buf := make([]byte, min(count, int64(p.size)))
	p.copyOutLocked(buf, len(buf))
	p.mu.Unlock()

	n, err := write(buf)
	n = max(0, min(n, int64(len(buf))))

	p.mu.Lock()
	if consume && n > 0 {
		p.head = (p.head + int(n)) % len(p.buf)
		p.size -= int(n)
		if p.size == 0 {
			p.head = 0
		}
	}
	p.readBusy = false
	p.mu.Unlock()
	p.queue.Notify(waiter.ReadableEvents | waiter.WritableEvents)
	return n, err
}

// ReadFrom fills up to count bytes of free space, waiting for some as
// write(2) does, from read, which returns how many it produced. With no
// reader it fails with EPIPE (the caller sends SIGPIPE).
func (p *Pipe) ReadFrom(ctx context.Context, count int64, nonblock bool, read func([]byte) (int64, error)) (int64, error) {
	if count <= 0 {
		return 0, nil
	}
	p.mu.Lock()
	for {
		if p.readers == 0 {
			p.mu.Unlock()
			return 0, linux.EPIPE
		}
		if !p.writeBusy && p.capacity > p.size {
			break
		}
		if nonblock && !p.writeBusy {
			p.mu.Unlock()
			return 0, linux.EAGAIN
		}
		if err := p.waitLocked(ctx, waiter.WritableEvents); err != nil {
			return 0, err
		}
		p.mu.Lock()
	}
	p.writeBusy = true
	// Free space only grows while writeBusy is held: readers consume,
	// and SetCapacity refuses to run.
	buf := make([]byte, min(count, int64(p.capacity-p.size)))
	p.mu.Unlock()

	n, err := read(buf)
	n = max(0, min(n, int64(len(buf))))

	p.mu.Lock()
	if n > 0 {
		p.writeLocked(ctx, vfs.BytesIOSequence(buf[:n]), n)
	}
	p.writeBusy = false
	p.mu.Unlock()
	p.queue.Notify(waiter.ReadableEvents | waiter.WritableEvents)
	return n, err
}

// peek copies buffered bytes to dst without consuming them (tee's
// source).
func (p *Pipe) peek(dst []byte) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(len(dst), p.size)
	p.copyOutLocked(dst, n)
	return int64(n)
}

// take consumes up to len(dst) buffered bytes without waiting (the
// source of a pipe-to-pipe splice, once it is known to hold data).
func (p *Pipe) take(ctx context.Context, dst []byte) (int64, error) {
	p.mu.Lock()
	if p.readBusy || p.size == 0 {
		p.mu.Unlock()
		return 0, nil
	}
	n, err := p.readLocked(ctx, vfs.BytesIOSequence(dst))
	p.mu.Unlock()
	if n > 0 {
		p.queue.Notify(waiter.WritableEvents)
	}
	return n, err
}

// Tee implements tee(2): copies up to count bytes from src to dst,
// leaving them in src. It returns 0 when src has no data and no writer.
func Tee(ctx context.Context, src, dst *Pipe, count int64, nonblock bool) (int64, error) {
	if src == dst {
		return 0, linux.EINVAL
	}
	ok, err := src.WaitReadable(ctx, nonblock)
	if !ok {
		return 0, err
	}
	return dst.ReadFrom(ctx, count, nonblock, func(b []byte) (int64, error) { return src.peek(b), nil })
}

// Splice implements splice(2) between two pipes: moves up to count bytes
// from src to dst.
func Splice(ctx context.Context, src, dst *Pipe, count int64, nonblock bool) (int64, error) {
	if src == dst {
		return 0, linux.EINVAL
	}
	ok, err := src.WaitReadable(ctx, nonblock)
	if !ok {
		return 0, err
	}
	return dst.ReadFrom(ctx, count, nonblock, func(b []byte) (int64, error) { return src.take(ctx, b) })
}
