package netstack

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// TCP urgent data (tcp(7) "Out-of-band data"), as Linux keeps it.
//
// A send with MSG_OOB makes its last byte the urgent byte. The receiver
// first learns of the urgent pointer, which sends SIGURG to the owner of
// its socket file (F_SETOWN); once the byte itself is in the receive
// queue it is the one out-of-band byte, which recv(MSG_OOB) returns and
// which makes the socket POLLPRI (select's exceptfds). Unless
// SO_OOBINLINE is set, normal reads step over that byte; inline or not,
// a read that has copied something stops at it (the "mark"), so that
// SIOCATMARK tells the reader when it got there. A newer pointer
// replaces the older one, whose byte, if still queued, is normal data
// from then on, except that it is dropped when the reader is right at
// it and does not read inline (Linux's tcp_check_urg).
//
// The state lives on the receiving side of a conn, placed by stream
// positions (streamQueue.read counts the bytes consumed). A loopback
// sender sets it directly, and one that must wait for room announces
// the pointer before the byte, as Linux's sender pushes it while its
// data waits in the send buffer; on a connection that leaves the sandbox the
// FarEnd's side holds the socket's outgoing pointer, which the packet
// stack's TCP sends as the URG flag and urgent pointer, and TCP hands
// the peer's pointers to FarEnd.RecvUrgent.

// urgState is Linux's tp->urg_data without the byte.
type urgState uint8

const (
	// urgNone: no urgent pointer, or the reader went past it.
	urgNone urgState = iota
	// urgNotYet: the pointer arrived, the urgent byte has not.
	urgNotYet
	// urgValid: the byte arrived and recv(MSG_OOB) has not taken it.
	urgValid
	// urgRead: recv(MSG_OOB) took the byte; the mark stays until the
	// reader passes it.
	urgRead
)

// urgent is the urgent data of one receiving side, guarded by the
// conn's mu.
type urgent struct {
	state urgState
	// seq is the urgent byte's stream position.
	seq int64
	// b is the byte, once it arrived.
	b byte
}

// urgentEvents says what a change of urgent state tells the receiver.
type urgentEvents uint8

const (
	// urgSignal: a new urgent pointer (SIGURG, POLL_PRI).
	urgSignal urgentEvents = 1 << iota
	// urgArrived: the urgent byte is in the queue (POLLPRI).
	urgArrived
)

// readTargetLocked is how many queued bytes make the side readable for
// SO_RCVLOWAT lowat: one more when the next byte is an urgent byte that
// reads step over (tcp_poll's target++).
func (me *connSide) readTargetLocked(lowat int) int {
	t := max(lowat, 1)
	if me.urg.state != urgNone && me.urg.seq == me.rq.read && !me.inline {
		t++
	}
	return t
}

// atMarkLocked is SIOCATMARK: the next byte a read returns (or steps
// over) is the urgent byte.
func (me *connSide) atMarkLocked() bool {
	return me.urg.state != urgNone && me.urg.seq == me.rq.read
}

// inqLocked is SIOCINQ (tcp_inq): the queued bytes, only those before
// the urgent byte when it is queued and not read inline.
func (me *connSide) inqLocked() int {
	u, q := &me.urg, &me.rq
	if me.inline || u.state == urgNone || u.seq < q.read || u.seq >= q.read+int64(q.n) {
		return q.n
	}
	return int(u.seq - q.read)
}

// headSkipLocked is 1 when the next queued byte is the urgent byte and
// not read inline: normal reads step over it.
func (me *connSide) headSkipLocked() int {
	u := &me.urg
	if (u.state == urgValid || u.state == urgRead) && u.seq == me.rq.read && !me.inline {
		return 1
	}
	return 0
}

// untilMarkLocked cuts a read of n bytes, skip bytes into the queue, so
// that it ends before the urgent byte: a read never crosses the mark.
func (me *connSide) untilMarkLocked(skip, n int) int {
	if me.urg.state == urgNone {
		return n
	}
	if off := me.urg.seq - me.rq.read - int64(skip); off > 0 && off < int64(n) {
		return int(off)
	}
	return n
}

// consumeLocked drops the first n queued bytes; a reader past the
// urgent byte ends the urgent data (an out-of-band byte not taken by
// then is lost, as on Linux).
func (me *connSide) consumeLocked(n int) {
	me.rq.consume(n)
	if me.urg.state != urgNone && me.urg.seq < me.rq.read {
		me.urg.state = urgNone
	}
}

// urgentPointerLocked is an urgent pointer reaching side r for the byte
// at stream position seq, not received yet (Linux's tcp_check_urg). It
// reports whether the pointer is new: one at a byte already read, or no
// newer than the current one, is ignored.
func (c *conn) urgentPointerLocked(r int, seq int64) bool {
	me := &c.side[r]
	u := &me.urg
	if seq < me.rq.read || u.state != urgNone && seq <= u.seq {
		return false
	}
	if me.headSkipLocked() == 1 && !me.rq.reading {
		// The older urgent byte, which the reader is at and would
		// step over, goes rather than turning into normal data.
		me.consumeLocked(1)
	}
	u.state, u.seq = urgNotYet, seq
	return true
}

// urgentArrivedLocked makes the byte of a pending pointer the
// out-of-band byte once it is in side r's queue (the rest of Linux's
// tcp_urg), and reports whether it did.
func (c *conn) urgentArrivedLocked(r int) bool {
	me := &c.side[r]
	u, q := &me.urg, &me.rq
	if u.state != urgNotYet || u.seq >= q.read+int64(q.n) {
		return false
	}
	u.b = q.byteAt(int(u.seq - q.read))
	u.state = urgValid
	return true
}

// urgentSentLocked makes the last byte in side r's queue, the end of a
// send with MSG_OOB, the urgent byte: its pointer (unless it went ahead
// while the send waited for room) and its arrival at once, since the
// byte is queued already.
func (c *conn) urgentSentLocked(r int) urgentEvents {
	me := &c.side[r]
	u, q := &me.urg, &me.rq
	if me.closed {
		return 0
	}
	seq := q.read + int64(q.n) - 1
	var ev urgentEvents
	switch {
	case seq < q.read:
		// A send cut short after waiting, whose last byte the reader
		// took as normal data meanwhile: no urgent byte then.
		if u.state == urgNotYet {
			u.state = urgNone
		}
		return 0
	case u.state == urgNotYet:
		// The pointer that went ahead (SIGURG was sent then) names
		// this byte now.
		u.seq = seq
	default:
		if !c.urgentPointerLocked(r, seq) {
			return 0
		}
		ev = urgSignal
	}
	if c.urgentArrivedLocked(r) {
		ev |= urgArrived
	}
	return ev
}

// urgentAheadLocked announces the urgent pointer of a send with MSG_OOB
// that must wait for room in side r's queue, as Linux's sender pushes
// it when it waits: it names the send's last byte, rest bytes on from
// the queue's end, so the receiver learns of urgent data its full
// window does not let in yet. It returns the pointer, -1 if ignored.
func (c *conn) urgentAheadLocked(r int, rest int64) (int64, urgentEvents) {
	q := &c.side[r].rq
	seq := q.read + int64(q.n) + rest - 1
	if !c.urgentPointerLocked(r, seq) {
		return -1, 0
	}
	return seq, urgSignal
}

// dropAheadLocked forgets the pointer urgentAheadLocked announced at
// seq, for a send that ends without sending a byte.
func (c *conn) dropAheadLocked(r int, seq int64) {
	if u := &c.side[r].urg; u.state == urgNotYet && u.seq == seq {
		u.state = urgNone
	}
}

// urgentNotify tells side r's socket of ev, with the waiter events in
// mask besides. Called without mu.
func (c *conn) urgentNotify(r int, ev urgentEvents, mask waiter.EventMask) {
	me := &c.side[r]
	if ev&urgSignal != 0 {
		if me.sigurg != nil {
			me.sigurg()
		}
		// Linux's sk_wake_async(POLL_PRI) for O_ASYNC.
		mask |= waiter.EventPri
	}
	if ev&urgArrived != 0 {
		mask |= waiter.ReadableEvents | waiter.EventPri
	}
	if mask != 0 && me.queue != nil {
		me.queue.Notify(mask)
	}
}

// recvUrgent is recv(2) with MSG_OOB on side s (Linux's tcp_recv_urg):
// the out-of-band byte, once; MSG_PEEK leaves it. It never waits. It
// returns the byte count and recvmsg's msg_flags.
func (c *conn) recvUrgent(ctx context.Context, s int, dst vfs.IOSequence, flags int) (int64, int, error) {
	c.mu.Lock()
	me := &c.side[s]
	u := &me.urg
	switch {
	case me.inline || u.state == urgNone || u.state == urgRead:
		c.mu.Unlock()
		return 0, 0, linux.EINVAL
	case me.reset && !me.gotFin:
		// Reset before the end of the stream: Linux's TCP_CLOSE
		// without SOCK_DONE.
		c.mu.Unlock()
		return 0, 0, linux.ENOTCONN
	case u.state == urgValid:
		b := u.b
		if flags&socket.MSG_PEEK == 0 {
			u.state = urgRead
		}
		c.mu.Unlock()
		if dst.NumBytes() == 0 {
			// The byte is taken all the same.
			return 0, socket.MSG_OOB | socket.MSG_TRUNC, nil
		}
		if flags&socket.MSG_TRUNC == 0 {
			if n, err := dst.CopyOut(ctx, []byte{b}); n == 0 {
				return 0, 0, copyErr(err)
			}
		}
		return 1, socket.MSG_OOB, nil
	case me.gotFin || me.rdShut || me.reset:
		// The byte will never come.
		c.mu.Unlock()
		return 0, 0, nil
	}
	c.mu.Unlock()
	// The pointer came, the byte has not: BSD and Linux never wait for
	// it.
	return 0, 0, linux.EAGAIN
}

// recvUrgent is RecvMsg with MSG_OOB.
func (e *tcpEndpoint) recvUrgent(ctx context.Context, dst vfs.IOSequence, flags int) (socket.RecvResult, error) {
	e.mu.Lock()
	st, c, s := e.state, e.c, e.side
	e.mu.Unlock()
	switch st {
	case tcpListening:
		return socket.RecvResult{}, linux.ENOTCONN
	case tcpConnected:
	default:
		// No connection, no urgent data (tcp_disconnect forgets it).
		return socket.RecvResult{}, linux.EINVAL
	}
	n, mflags, err := c.recvUrgent(ctx, s, dst, flags)
	return socket.RecvResult{N: n, MsgLen: n, OOB: mflags&socket.MSG_OOB != 0, Truncated: mflags&socket.MSG_TRUNC != 0}, err
}

// urgentOwnerLocked makes side me the receiving side of socket e:
// SIGURG goes to e's file owner, and e's SO_OOBINLINE applies. Requires
// e.mu; the connection is not in use yet.
func (me *connSide) urgentOwnerLocked(e *tcpEndpoint) {
	me.inline = e.opts.OOBInline
	me.sigurg = e.sendSIGURG
}

// setFile records the socket's file, whose owner gets SIGURG.
func (e *tcpEndpoint) setFile(fd *vfs.FileDescription) { e.file.Store(fd) }

// sendSIGURG sends SIGURG to the owner of e's file (F_SETOWN), if it
// has one, as Linux's sk_send_sigurg; a connection not accepted yet has
// no file and nobody hears of it.
func (e *tcpEndpoint) sendSIGURG() {
	fd := e.file.Load()
	if fd == nil {
		return
	}
	if o := fd.Owner(); o != nil {
		o.SendFileSignal(&linux.SignalInfo{Signo: int32(linux.SIGURG), Code: linux.SI_KERNEL})
	}
}
