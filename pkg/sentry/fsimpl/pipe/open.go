package pipe

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// Open opens an end of p for the node at vd. A named pipe (fifo) follows
// fifo(7)'s rules: O_RDWR never waits; O_RDONLY waits for a writer unless
// O_NONBLOCK; O_WRONLY waits for a reader, or with O_NONBLOCK fails with
// ENXIO when there is none. A wait interrupted by a signal fails with
// vfs.ErrInterrupted. An anonymous pipe reopened through /proc/PID/fd
// never waits and never fails for want of a partner, as on Linux: its
// other end may be gone for good (a shell's `cat /dev/stdin` after the
// writer closed), and the reader must see end of file, not hang.
func (p *Pipe) Open(ctx context.Context, vd vfs.VirtualDentry, flags uint32, fifo bool) (*vfs.FileDescription, error) {
	var readable, writable bool
	switch flags & linux.O_ACCMODE {
	case linux.O_RDONLY:
		readable = true
	case linux.O_WRONLY:
		writable = true
	case linux.O_RDWR:
		readable, writable = true, true
	default:
		return nil, linux.EINVAL
	}
	nonblock := flags&linux.O_NONBLOCK != 0
	impl := &FD{pipe: p, readable: readable, writable: writable}

	p.mu.Lock()
	if fifo && writable && !readable && nonblock && p.readers == 0 {
		p.mu.Unlock()
		return nil, linux.ENXIO
	}
	if readable {
		p.readers++
		p.rCounter++
	}
	if writable {
		p.writers++
		p.wCounter++
	}
	p.wakeOpenersLocked()
	var err error
	switch {
	case !fifo:
	case readable && !writable && p.writers == 0:
		if nonblock {
			impl.hupVersion = p.wCounter
		} else {
			err = p.waitPartnerLocked(ctx, func() uint64 { return p.wCounter })
		}
	case writable && !readable && p.readers == 0:
		err = p.waitPartnerLocked(ctx, func() uint64 { return p.rCounter })
	}
	if err != nil {
		if readable {
			p.readers--
		}
		if writable {
			p.writers--
		}
		p.mu.Unlock()
		p.queue.Notify(waiter.EventHUp | waiter.EventErr)
		return nil, err
	}
	p.mu.Unlock()
	// A new reader makes writers' EventErr go away and vice versa;
	// either way waiters should re-check.
	p.queue.Notify(waiter.ReadableEvents | waiter.WritableEvents)

	fd := &vfs.FileDescription{}
	fd.Init(impl, flags, vd, &vfs.FileDescriptionOptions{Stream: true})
	return fd, nil
}

func (p *Pipe) wakeOpenersLocked() {
	if p.openCh != nil {
		close(p.openCh)
		p.openCh = nil
	}
}

// waitPartnerLocked waits, with p.mu held on entry and exit, until the
// counter counter returns changes.
func (p *Pipe) waitPartnerLocked(ctx context.Context, counter func() uint64) error {
	start := counter()
	b := vfs.BlockerFromContext(ctx)
	for counter() == start {
		if p.openCh == nil {
			p.openCh = make(chan struct{})
		}
		ch := p.openCh
		p.mu.Unlock()
		err := b.Block(ch)
		p.mu.Lock()
		if err != nil {
			return err
		}
	}
	return nil
}
