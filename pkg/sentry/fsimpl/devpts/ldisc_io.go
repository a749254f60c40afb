package devpts

import (
	"context"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// This file moves data through the line discipline for the two ends'
// read and write calls.

// replicaRead reads input: a line at most in canonical mode, else
// following VMIN and VTIME as termios(3) describes (MIN bytes, an
// inter-byte timer once one arrived, or a read timer when MIN is 0).
func (l *ldisc) replicaRead(ctx context.Context, dst vfs.IOSequence, nonblock bool) (int64, error) {
	if dst.NumBytes() == 0 {
		return 0, nil
	}
	l.mu.Lock()
	defer l.unlock()
	if l.hungUp {
		return 0, nil
	}
	if l.lflag(linux.ICANON) {
		for len(l.lines) == 0 {
			if nonblock {
				return 0, linux.EAGAIN
			}
			if err := l.waitLocked(ctx, &l.replicaQ, waiter.ReadableEvents|waiter.EventHUp, time.Time{}); err != nil {
				return 0, err
			}
			if l.hungUp {
				return 0, nil
			}
			if !l.lflag(linux.ICANON) {
				return l.rawReadLocked(ctx, dst, nonblock)
			}
		}
		want := int(min(int64(l.lines[0]), dst.NumBytes()))
		n, err := dst.CopyOut(ctx, l.in.data()[:want])
		if n == 0 && l.lines[0] != 0 {
			return 0, err
		}
		l.in.drop(n)
		if l.lines[0] -= n; l.lines[0] == 0 {
			l.lines = l.lines[1:]
		}
		l.pendingMaster |= waiter.WritableEvents
		return int64(n), nil
	}
	return l.rawReadLocked(ctx, dst, nonblock)
}

func (l *ldisc) rawReadLocked(ctx context.Context, dst vfs.IOSequence, nonblock bool) (int64, error) {
	cc := &l.termios.ControlCharacters
	minimum := int64(cc[linux.VMIN])
	timer := time.Duration(cc[linux.VTIME]) * 100 * time.Millisecond
	var deadline time.Time
	interbyte := false
	if minimum == 0 {
		minimum = 1
		if timer == 0 {
			// Poll: return what is there, maybe nothing.
			deadline = time.Now()
		} else {
			deadline = time.Now().Add(timer)
		}
	} else {
		interbyte = timer != 0
	}
	var done int64
	for {
		if n := min(int64(l.in.len()), dst.NumBytes()); n > 0 {
			c, err := dst.CopyOut(ctx, l.in.data()[:n])
			l.in.drop(c)
			done += int64(c)
			dst = dst.DropFirst(int64(c))
			l.pendingMaster |= waiter.WritableEvents
			if err != nil {
				if done > 0 {
					return done, nil
				}
				return 0, err
			}
			if interbyte {
				deadline = time.Now().Add(timer)
			}
		}
		if done >= minimum || dst.NumBytes() == 0 || l.hungUp {
			return done, nil
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return done, nil
		}
		if nonblock {
			if done > 0 {
				return done, nil
			}
			return 0, linux.EAGAIN
		}
		err := l.waitLocked(ctx, &l.replicaQ, waiter.ReadableEvents|waiter.EventHUp, deadline)
		if err == vfs.ErrTimedOut {
			return done, nil
		}
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
	}
}

// replicaWrite writes output, waiting while the master's queue is full
// or output is stopped.
func (l *ldisc) replicaWrite(ctx context.Context, src vfs.IOSequence, nonblock bool) (int64, error) {
	var done int64
	buf := make([]byte, min(src.NumBytes(), chunkBytes))
	for src.NumBytes() > 0 {
		n, err := src.CopyIn(ctx, buf[:min(src.NumBytes(), chunkBytes)])
		if n == 0 {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		c, werr := l.replicaWriteChunk(ctx, buf[:n], nonblock)
		done += c
		if werr != nil || c < int64(n) {
			if done > 0 && werr != linux.EIO {
				return done, nil
			}
			return done, werr
		}
		src = src.DropFirst(int64(n))
		if err != nil {
			return done, nil
		}
	}
	return done, nil
}

func (l *ldisc) replicaWriteChunk(ctx context.Context, b []byte, nonblock bool) (int64, error) {
	l.mu.Lock()
	defer l.unlock()
	i := 0
	for i < len(b) {
		if l.hungUp {
			return int64(i), linux.EIO
		}
		if !l.stopped && l.out.len() < outputCap {
			if !l.oflag(linux.OPOST) {
				n := min(len(b)-i, outputCap-l.out.len())
				l.out.push(b[i : i+n]...)
				i += n
			} else {
				for i < len(b) && l.out.len() < outputCap {
					l.outputLocked(b[i])
					i++
				}
			}
			l.pendingMaster |= waiter.ReadableEvents
			continue
		}
		if nonblock {
			if i == 0 {
				return 0, linux.EAGAIN
			}
			return int64(i), nil
		}
		if err := l.waitLocked(ctx, &l.replicaQ, waiter.WritableEvents|waiter.EventHUp, time.Time{}); err != nil {
			return int64(i), err
		}
	}
	return int64(i), nil
}

// masterRead reads the replica's output and echoes. Once the replica has
// been opened and closed by everyone, an empty queue reads EIO.
func (l *ldisc) masterRead(ctx context.Context, dst vfs.IOSequence, nonblock bool) (int64, error) {
	if dst.NumBytes() == 0 {
		return 0, nil
	}
	l.mu.Lock()
	defer l.unlock()
	for l.out.len() == 0 {
		if l.replicaOpened && l.replicas == 0 {
			return 0, linux.EIO
		}
		if nonblock {
			return 0, linux.EAGAIN
		}
		if err := l.waitLocked(ctx, &l.masterQ, waiter.ReadableEvents|waiter.EventHUp, time.Time{}); err != nil {
			return 0, err
		}
	}
	n := min(int64(l.out.len()), dst.NumBytes())
	c, err := dst.CopyOut(ctx, l.out.data()[:n])
	l.out.drop(c)
	if c > 0 {
		l.pendingReplica |= waiter.WritableEvents
		return int64(c), nil
	}
	return 0, err
}

// masterWrite feeds input to the replica, waiting while the input buffer
// is full.
func (l *ldisc) masterWrite(ctx context.Context, src vfs.IOSequence, nonblock bool) (int64, error) {
	var done int64
	buf := make([]byte, min(src.NumBytes(), chunkBytes))
	for src.NumBytes() > 0 {
		n, err := src.CopyIn(ctx, buf[:min(src.NumBytes(), chunkBytes)])
		if n == 0 {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		c, werr := l.masterWriteChunk(ctx, buf[:n], nonblock)
		done += c
		if werr != nil || c < int64(n) {
			if done > 0 {
				return done, nil
			}
			return 0, werr
		}
		src = src.DropFirst(int64(n))
		if err != nil {
			return done, nil
		}
	}
	return done, nil
}

func (l *ldisc) masterWriteChunk(ctx context.Context, b []byte, nonblock bool) (int64, error) {
	l.mu.Lock()
	defer l.unlock()
	i := 0
	for i < len(b) {
		if l.receiveLocked(b[i]) {
			i++
			continue
		}
		if nonblock {
			if i == 0 {
				return 0, linux.EAGAIN
			}
			return int64(i), nil
		}
		if err := l.waitLocked(ctx, &l.masterQ, waiter.WritableEvents, time.Time{}); err != nil {
			return int64(i), err
		}
	}
	return int64(i), nil
}

// masterReadiness is poll on the master.
func (l *ldisc) masterReadiness(mask waiter.EventMask) waiter.EventMask {
	l.mu.Lock()
	defer l.mu.Unlock()
	var r waiter.EventMask
	if l.out.len() > 0 {
		r |= waiter.ReadableEvents
	}
	if l.replicaOpened && l.replicas == 0 {
		r |= waiter.EventHUp
	}
	if l.inputRoom() {
		r |= waiter.WritableEvents
	}
	return r & (mask | waiter.EventHUp | waiter.EventErr)
}

// replicaReadiness is poll on the replica; a hung-up replica is ready for
// everything, with an error.
func (l *ldisc) replicaReadiness(mask waiter.EventMask) waiter.EventMask {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hungUp {
		return (waiter.ReadableEvents | waiter.WritableEvents | waiter.EventErr | waiter.EventHUp) & (mask | waiter.EventHUp | waiter.EventErr)
	}
	var r waiter.EventMask
	if l.replicaReadableLocked(true) {
		r |= waiter.ReadableEvents
	}
	if !l.stopped && l.out.len() < outputCap {
		r |= waiter.WritableEvents
	}
	return r & (mask | waiter.EventHUp | waiter.EventErr)
}
