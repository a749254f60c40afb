package netstack

import (
	"sync/atomic"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/waiter"
)

// This file is the rest of what the packet stack's TCP needs of a
// FarEnd (its tcp.App): the socket's send queue doubles as TCP's
// retransmission buffer, so TCP peeks at the bytes it sends and
// consumes them only when the peer acknowledges them; the socket's send
// buffer limit then covers unacknowledged bytes, as SO_SNDBUF does on
// Linux.
//
// None of these methods notifies f.Queue: the stack calls them and
// knows what changed. Only the socket's actions notify it.

// Status reports the socket's send side: pending bytes written and not
// consumed, whether it shut down writing (the stream ends after them),
// whether the socket is closed, and whether the connection was reset
// (by the socket, or by Fail and Reset).
func (f *FarEnd) Status() (pending int, finished, closed, aborted bool) {
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	me, sock := &c.side[farSide], &c.side[1-farSide]
	return me.rq.n, me.gotFin, sock.closed, me.reset
}

// Peek copies the pending bytes at offset off into p and returns how
// many it copied.
func (f *FarEnd) Peek(off int, p []byte) int {
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	me := &c.side[farSide]
	if off >= me.rq.n {
		return 0
	}
	var segs [maxSegs][]byte
	n := 0
	for n < len(p) && off+n < me.rq.n {
		ss := me.rq.peekSegments(off+n, len(p)-n, segs[:0])
		if len(ss) == 0 {
			break
		}
		for _, b := range ss {
			n += copy(p[n:], b)
		}
	}
	return n
}

// Consume drops the first n pending bytes, which the peer acknowledged,
// and wakes the socket's writers when that makes room.
func (f *FarEnd) Consume(n int) {
	c := f.c
	c.mu.Lock()
	me := &c.side[farSide]
	n = min(n, me.rq.n)
	if n <= 0 {
		c.mu.Unlock()
		return
	}
	me.consumeLocked(n)
	wake := c.wakeWriterLocked(farSide, n)
	c.mu.Unlock()
	if wake {
		c.side[1-farSide].queue.Notify(waiter.WritableEvents)
	}
}

// Fail ends the connection with err as the socket's pending error:
// ECONNRESET for the peer's RST (EPIPE once the socket read the end of
// the stream, as Linux reports it), ETIMEDOUT when the peer stopped
// answering.
func (f *FarEnd) Fail(err error) {
	c := f.c
	c.mu.Lock()
	c.resetLocked(farSide)
	me, sock := &c.side[farSide], &c.side[1-farSide]
	me.closed = true
	if err != linux.ECONNRESET && !sock.closed {
		sock.err = err
	}
	c.mu.Unlock()
	c.side[1-farSide].queue.Notify(waiter.AllEvents)
}

// SendUrgent returns the socket's urgent pointer (a send with MSG_OOB):
// up is the offset, in the pending bytes, just past the urgent byte,
// which may lie beyond them while the send waits for room; ok is false
// when there is none, or the peer acknowledged it.
func (f *FarEnd) SendUrgent() (up int, ok bool) {
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	me := &c.side[farSide]
	if me.urg.state == urgNone || me.urg.seq < me.rq.read {
		return 0, false
	}
	return int(me.urg.seq-me.rq.read) + 1, true
}

// RecvUrgent is the peer's urgent pointer: the urgent byte is off bytes
// after the next byte Write delivers. The socket's owner gets SIGURG
// for a new pointer; the byte is the out-of-band byte once written.
func (f *FarEnd) RecvUrgent(off int) {
	c := f.c
	c.mu.Lock()
	sock := &c.side[1-farSide]
	var ev urgentEvents
	if !sock.closed && off >= 0 && c.urgentPointerLocked(1-farSide, sock.rq.read+int64(sock.rq.n)+int64(off)) {
		ev = urgSignal
	}
	c.mu.Unlock()
	c.urgentNotify(1-farSide, ev, 0)
}

// EventRegister registers e on f.Queue, which the socket notifies when
// it sends, reads, shuts down or closes.
func (f *FarEnd) EventRegister(e *waiter.Entry) {
	f.Queue.EventRegister(e)
}

// keepalive holds the socket's keep-alive settings for the stack.
type keepalive struct {
	idle, intvl atomic.Int64 // nanoseconds; idle 0 = off
	count       atomic.Int32
}

// Keepalive returns the keep-alive settings: idle 0 means off.
func (f *FarEnd) Keepalive() (idle, interval time.Duration, count int) {
	return time.Duration(f.ka.idle.Load()), time.Duration(f.ka.intvl.Load()), int(f.ka.count.Load())
}

// SetKeepalive is for the socket layer (SO_KEEPALIVE, TCP_KEEPIDLE,
// TCP_KEEPINTVL, TCP_KEEPCNT): enabled false turns probing off. The
// stack learns of the change through f.Queue.
func (f *FarEnd) SetKeepalive(enabled bool, idle, interval time.Duration, count int) {
	if !enabled {
		idle = 0
	}
	f.ka.intvl.Store(int64(interval))
	f.ka.count.Store(int32(count))
	f.ka.idle.Store(int64(idle))
	f.Queue.Notify(waiter.EventIn)
}
