package netstack

import (
	"runtime"
	"time"

	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// maxCommit is how many bytes a sender copies before making them
// readable and waking the receiver: big enough to keep wake-ups rare,
// small enough that the receiver starts copying while the sender goes
// on.
const maxCommit = 256 << 10

// connection returns e's connection and side, or the error a send or
// receive on an unconnected socket gets.
func (e *tcpEndpoint) connection(send bool) (*conn, int, sockOpts, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == tcpConnected {
		return e.c, e.side, e.opts, nil
	}
	if e.err != nil {
		err := e.err
		e.err = nil
		return nil, 0, e.opts, err
	}
	if send {
		return nil, 0, e.opts, linux.EPIPE
	}
	if e.rdShut || e.failed {
		// A shut-down socket reads end of file.
		return nil, 0, e.opts, nil
	}
	return nil, 0, e.opts, linux.ENOTCONN
}

// SendMsg implements socket.Socket. A destination address is ignored,
// as TCP ignores it, and so are control messages at other levels than
// SOL_SOCKET (IP_TOS, IP_TTL...), which tcp_sendmsg's sock_cmsg_send
// skips; EPIPE is returned without SIGPIPE, which is the caller's to
// raise. MSG_OOB makes the last byte sent urgent (urgent.go).
func (e *tcpEndpoint) SendMsg(ctx context.Context, src vfs.IOSequence, _ []byte, _ socket.Resolver, ctl *socket.SendControl, flags int, nonblock bool) (int64, error) {
	// SCM_RIGHTS means nothing to inet sockets: __sock_cmsg_send
	// accepts and ignores it.
	for _, f := range ctl.Files() {
		f.DecRef(ctx)
	}
	nonblock = nonblock || flags&socket.MSG_DONTWAIT != 0
	c, s, opts, err := e.connection(true)
	if err != nil {
		return 0, err
	}
	return c.send(ctx, s, src, flags&socket.MSG_OOB, nonblock, socket.Deadline(opts.SndTimeo))
}

// send moves src into the other side's receive queue. With MSG_OOB in
// flags, the last byte sent is the urgent byte.
func (c *conn) send(ctx context.Context, s int, src vfs.IOSequence, flags int, nonblock bool, dl time.Time) (int64, error) {
	me := &c.side[s]
	me.sendMu.Lock()
	defer me.sendMu.Unlock()
	urgent := flags&socket.MSG_OOB != 0
	total := src.NumBytes()
	var done int64
	// marked: the urgent byte is set; announced: the send waited for
	// room and told the peer of its urgent pointer, ahead (-1: the
	// peer had a newer one).
	marked, announced, ahead := false, false, int64(-1)
	// finish ends the call, with mu held: an urgent send cut short
	// makes the last byte it sent urgent.
	finish := func(err error) (int64, error) {
		var ev urgentEvents
		if urgent && !marked {
			if done > 0 {
				ev = c.urgentSentLocked(1 - s)
			} else if ahead >= 0 {
				c.dropAheadLocked(1-s, ahead)
			}
		}
		c.mu.Unlock()
		c.urgentNotify(1-s, ev, 0)
		if done > 0 {
			return done, nil
		}
		return 0, err
	}
	var w waitEntry
	defer w.done()
	c.mu.Lock()
	for {
		p := &c.side[1-s]
		if me.err != nil {
			if done > 0 {
				return finish(nil)
			}
			err := me.err
			me.err = nil
			return finish(err)
		}
		if me.sndShut || me.reset {
			return finish(linux.EPIPE)
		}
		if p.closed {
			// The peer's socket is gone: what fits in a window goes
			// out and its reset comes back, so the call reports that
			// much (not all of a large write) and the next one fails.
			c.resetLocked(1 - s)
			c.mu.Unlock()
			me.queue.Notify(waiter.AllEvents)
			return done + min(total-done, int64(p.limit)), nil
		}
		if done == total {
			// All sent (or nothing to send: MSG_OOB then marks
			// nothing, as on Linux).
			return finish(nil)
		}
		room := p.limit - p.rq.n
		if room > 0 {
			f := p.rq.beginWrite()
			c.mu.Unlock()
			cerr := f.copyIn(ctx, src.DropFirst(done), int(min(int64(room), total-done, maxCommit)))
			c.mu.Lock()
			p.rq.commit(&f)
			if p.closed {
				p.rq.drain()
			}
			done += int64(f.total)
			var ev urgentEvents
			if urgent && done == total {
				ev, marked = c.urgentSentLocked(1-s), true
			} else if p.urg.state == urgNotYet && c.urgentArrivedLocked(1-s) {
				// The byte of a pointer the packet stack passed on.
				ev = urgArrived
			}
			c.mu.Unlock()
			if f.total > 0 || ev != 0 {
				c.urgentNotify(1-s, ev, waiter.ReadableEvents)
			}
			c.mu.Lock()
			if cerr != nil {
				return finish(cerr)
			}
			continue
		}
		if nonblock {
			return finish(linux.EAGAIN)
		}
		if !w.armed() {
			w.arm(me.queue, waiter.WritableEvents)
			continue
		}
		if urgent && !announced {
			announced = true
			var ev urgentEvents
			ahead, ev = c.urgentAheadLocked(1-s, total-done)
			c.mu.Unlock()
			c.urgentNotify(1-s, ev, 0)
			c.mu.Lock()
			continue
		}
		c.mu.Unlock()
		if err := w.block(ctx, dl); err != nil {
			if err == errTimeout {
				err = linux.EAGAIN
			}
			c.mu.Lock()
			return finish(err)
		}
		c.mu.Lock()
	}
}

// RecvMsg implements socket.Socket.
func (e *tcpEndpoint) RecvMsg(ctx context.Context, dst vfs.IOSequence, flags int, nonblock bool) (socket.RecvResult, error) {
	if flags&socket.MSG_OOB != 0 {
		return e.recvUrgent(ctx, dst, flags)
	}
	nonblock = nonblock || flags&socket.MSG_DONTWAIT != 0
	c, s, opts, err := e.connection(false)
	if err != nil || c == nil {
		return socket.RecvResult{}, err
	}
	n, err := c.recv(ctx, s, dst, flags, nonblock, socket.Deadline(opts.RcvTimeo), int(opts.RcvLowat))
	return socket.RecvResult{N: n, MsgLen: n}, err
}

// recv copies side s's received bytes to dst, as tcp_recvmsg: it
// returns once it has something (at least lowat bytes, or all of dst
// with MSG_WAITALL), or at end of stream, an error, or the timeout. It
// stops at the urgent mark and steps over an urgent byte not read
// inline (urgent.go).
func (c *conn) recv(ctx context.Context, s int, dst vfs.IOSequence, flags int, nonblock bool, dl time.Time, lowat int) (int64, error) {
	me := &c.side[s]
	me.recvMu.Lock()
	defer me.recvMu.Unlock()
	peek := flags&socket.MSG_PEEK != 0
	discard := flags&socket.MSG_TRUNC != 0
	want := dst.NumBytes()
	target := int64(min(max(lowat, 1), int(want)))
	if flags&socket.MSG_WAITALL != 0 && !peek {
		target = want
	}
	var done int64
	var w waitEntry
	defer w.done()
	var segs [maxSegs][]byte
	c.mu.Lock()
	for {
		if want == 0 {
			c.mu.Unlock()
			return 0, nil
		}
		if done > 0 && me.atMarkLocked() {
			// A read never crosses the urgent mark.
			c.mu.Unlock()
			return done, nil
		}
		if !peek && me.headSkipLocked() == 1 {
			// The urgent byte is out of the normal stream.
			me.consumeLocked(1)
			c.wakeWriterAfterLocked(s, 1)
			continue
		}
		// A peek leaves the urgent byte in place and looks past it.
		skip := 0
		if peek {
			skip = me.headSkipLocked()
		}
		if avail := int64(me.rq.n - skip); avail > 0 && !(peek && done > 0) {
			n := me.untilMarkLocked(skip, int(min(avail, want-done)))
			if discard && !peek {
				me.consumeLocked(n)
				done += int64(n)
			} else {
				ss := me.rq.peekSegments(skip, n, segs[:0])
				me.rq.reading = true
				c.mu.Unlock()
				var copied int
				var cerr error
				for _, b := range ss {
					var k int
					if !discard {
						k, cerr = dst.DropFirst(done+int64(copied)).CopyOut(ctx, b)
					} else {
						k = len(b)
					}
					copied += k
					if cerr != nil || k < len(b) {
						cerr = copyErr(cerr)
						break
					}
				}
				c.mu.Lock()
				me.rq.reading = false
				if !peek {
					me.consumeLocked(copied)
				}
				done += int64(copied)
				if cerr != nil {
					c.mu.Unlock()
					if done > 0 {
						return done, nil
					}
					return 0, cerr
				}
			}
			if !peek {
				c.wakeWriterAfterLocked(s, n)
			}
			if done >= target || peek {
				c.mu.Unlock()
				return done, nil
			}
			continue
		}
		if done > 0 && (me.err != nil || me.gotFin || me.rdShut || me.reset || nonblock) {
			c.mu.Unlock()
			return done, nil
		}
		if me.gotFin {
			c.mu.Unlock()
			return 0, nil
		}
		if me.err != nil {
			err := me.err
			me.err = nil
			c.mu.Unlock()
			return 0, err
		}
		if me.rdShut || me.reset {
			c.mu.Unlock()
			return 0, nil
		}
		if nonblock {
			c.mu.Unlock()
			return 0, linux.EAGAIN
		}
		if !w.armed() {
			// A sender on another CPU usually commits more within
			// microseconds; waiting for it briefly is much cheaper
			// than sleeping and being woken.
			if c.spinUntilLocked(func() bool { return me.rq.n > me.headSkipLocked() }) {
				continue
			}
			w.arm(me.queue, waiter.ReadableEvents|waiter.EventRdHUp|waiter.EventHUp|waiter.EventErr)
			continue
		}
		c.mu.Unlock()
		if err := w.block(ctx, dl); err != nil {
			if done > 0 {
				return done, nil
			}
			if err == errTimeout {
				err = linux.EAGAIN
			}
			return 0, err
		}
		c.mu.Lock()
	}
}

// wakeWriterAfterLocked wakes the other side's writers (with mu
// dropped meanwhile) when taking n bytes out of side s's queue made it
// writable again.
func (c *conn) wakeWriterAfterLocked(s, n int) {
	if !c.wakeWriterLocked(s, n) {
		return
	}
	c.mu.Unlock()
	if q := c.side[1-s].queue; q != nil {
		q.Notify(waiter.WritableEvents)
	}
	c.mu.Lock()
}

// wakeWriterLocked reports whether taking n bytes out of side s's queue
// made the other side writable again (its EPOLLOUT edge).
func (c *conn) wakeWriterLocked(s, n int) bool {
	me := &c.side[s]
	free := me.limit - me.rq.n
	return free >= me.limit/2 && free-n < me.limit/2 || me.rq.n == 0
}

// Read implements vfs.FileDescriptionImpl.
func (e *tcpEndpoint) Read(ctx context.Context, dst vfs.IOSequence, _ int64, opts vfs.ReadOptions) (int64, error) {
	res, err := e.RecvMsg(ctx, dst, 0, opts.Nonblocking)
	return res.N, err
}

// Write implements vfs.FileDescriptionImpl.
func (e *tcpEndpoint) Write(ctx context.Context, src vfs.IOSequence, _ int64, opts vfs.WriteOptions) (int64, int64, error) {
	n, err := e.SendMsg(ctx, src, nil, nil, nil, 0, opts.Nonblocking)
	return n, 0, err
}

// spinTime bounds how long a receiver polls for data before sleeping.
const spinTime = 20 * time.Microsecond

// spinUntilLocked drops mu and polls cond (under mu) for up to spinTime,
// yielding the processor in between; it returns with mu held.
func (c *conn) spinUntilLocked(cond func() bool) bool {
	if runtime.GOMAXPROCS(0) < 2 {
		return false
	}
	start := time.Now()
	for time.Since(start) < spinTime {
		c.mu.Unlock()
		runtime.Gosched()
		c.mu.Lock()
		if cond() {
			return true
		}
	}
	return false
}
