package netstack

import (
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/waiter"
)

// conn is an established TCP connection between two sides. On the
// loopback path each side is a tcpEndpoint; for a connection leaving
// the sandbox, side 1 is a FarEnd driven by the External stack. Bytes a
// side sends go straight into the other side's receive queue.
type conn struct {
	// mu guards every connSide field not marked otherwise.
	mu   sync.Mutex
	side [2]connSide
}

// connSide is one end of a connection, named after Linux's socket
// fields where they exist.
type connSide struct {
	// queue is the side's waiter queue (its endpoint's); set once.
	queue *waiter.Queue

	// sendMu and recvMu admit one sender and one receiver at a time:
	// they copy without mu (see streamQueue).
	sendMu, recvMu sync.Mutex

	rq streamQueue
	// limit is the most bytes rq holds: the side's receive window.
	limit int
	// gotFin: the other side shut its sending; rq's end is the end of
	// the stream (Linux's SOCK_DONE).
	gotFin bool
	// rdShut and sndShut are shutdown(2)'s RCV_SHUTDOWN and
	// SEND_SHUTDOWN as this side asked for them.
	rdShut, sndShut bool
	// reset: the connection was reset; nothing more is sent or
	// received beyond what rq holds.
	reset bool
	// err is the pending error (ECONNRESET, EPIPE), reported once.
	err error
	// closed: the side's socket is gone; bytes sent to it are answered
	// with a reset.
	closed bool

	// urg is the urgent data received (urgent.go); inline is the
	// socket's SO_OOBINLINE, always set for a FarEnd, whose queue is
	// TCP's send buffer and must keep every byte.
	urg    urgent
	inline bool
	// sigurg sends SIGURG to the owner of the side's socket file; nil
	// for a FarEnd. It is called without mu.
	sigurg func()
}

func newConn(q0, q1 *waiter.Queue, limit0, limit1 int) *conn {
	c := &conn{}
	c.side[0].queue, c.side[0].limit = q0, limit0
	c.side[1].queue, c.side[1].limit = q1, limit1
	return c
}

// writableLocked reports whether side s may send: the other side's
// queue has at least half its room free, or a send would fail at once.
// Waking writers only at half room keeps a bulk sender from being woken
// for every read.
func (c *conn) writableLocked(s int) bool {
	me, p := &c.side[s], &c.side[1-s]
	if me.sndShut || me.reset || p.closed || me.err != nil {
		return true
	}
	return p.limit-p.rq.n >= p.limit/2 || p.rq.n == 0
}

// readableLocked reports whether a receive on side s would not block.
func (c *conn) readableLocked(s int, lowat int) bool {
	me := &c.side[s]
	return me.rq.n >= me.readTargetLocked(lowat) || me.gotFin || me.rdShut || me.reset || me.err != nil
}

// readinessLocked is tcp_poll for an established (or finished)
// connection.
func (c *conn) readinessLocked(s int, lowat int) waiter.EventMask {
	me := &c.side[s]
	var r waiter.EventMask
	if me.err != nil {
		r |= waiter.EventErr
	}
	rcvShut := me.gotFin || me.rdShut || me.reset
	sndShut := me.sndShut || me.reset
	if rcvShut && sndShut {
		r |= waiter.EventHUp
	}
	if rcvShut {
		r |= waiter.ReadableEvents | waiter.EventRdHUp
	}
	if me.rq.n >= me.readTargetLocked(lowat) {
		r |= waiter.ReadableEvents
	}
	if me.urg.state == urgValid {
		r |= waiter.EventPri
	}
	if sndShut || c.writableLocked(s) {
		r |= waiter.WritableEvents
	}
	return r
}

// shutdownLocked implements shutdown(2) on side s and returns the
// sides to notify.
func (c *conn) shutdownLocked(s int, rd, wr bool) {
	me, p := &c.side[s], &c.side[1-s]
	if rd {
		me.rdShut = true
	}
	if wr && !me.sndShut {
		me.sndShut = true
		if !me.reset {
			p.gotFin = true
		}
	}
}

// resetLocked resets the connection as side s's RST does: the other
// side's next call fails with ECONNRESET (EPIPE if it had already seen
// the end of the stream, as Linux reports a reset in CLOSE_WAIT).
func (c *conn) resetLocked(s int) {
	me, p := &c.side[s], &c.side[1-s]
	me.reset = true
	if !p.reset && !p.closed {
		p.reset = true
		if p.gotFin {
			p.err = linux.EPIPE
		} else {
			p.err = linux.ECONNRESET
		}
	}
}

// closeLocked is side s's socket going away: a reset if it leaves
// unread data behind (or linger is zero), a FIN otherwise.
func (c *conn) closeLocked(s int, abort bool) {
	me := &c.side[s]
	if abort || me.rq.n > 0 {
		c.resetLocked(s)
	} else {
		c.shutdownLocked(s, true, true)
	}
	me.closed = true
	me.rq.drain()
}

// notifyBoth wakes both sides for every event; used after state
// changes.
func (c *conn) notifyBoth() {
	for i := range c.side {
		if q := c.side[i].queue; q != nil {
			q.Notify(waiter.AllEvents)
		}
	}
}
