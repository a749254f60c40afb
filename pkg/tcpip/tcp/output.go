package tcp

import (
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// queue builds a segment and queues it for unlock to send.
func (c *conn) queue(sq seq, flags uint8, o *options, n int, fill func([]byte)) {
	win := c.windowToAdvertise(flags&flagSYN != 0)
	if flags&flagACK != 0 {
		c.lastAckSent = c.rcvNxt
		c.unacked = 0
		c.ackNow = false
		c.ackQueued = false
		c.delackAt = time.Time{}
	}
	if c.tsOK || (flags&flagSYN != 0 && o.ts) {
		o.ts = true
		o.tsVal = c.tsNow()
		o.tsEcr = c.tsRecent
	}
	var urg uint16
	if c.urgMode && sq.lt(c.sndUp) && flags&(flagSYN|flagRST) == 0 {
		// Urgent mode (RFC 9293 section 3.8.5): every segment before
		// the pointer carries it, ACKs and window probes too, so the
		// peer learns of urgent data its window keeps out. A pointer
		// beyond the field's reach is sent as far as it goes.
		flags |= flagURG
		urg = uint16(min(c.sndUp.sub(sq), 0xffff))
	}
	b := buildSegment(c.key.local, c.key.remote, sq, c.rcvNxt, flags, win, urg, o, n, fill)
	c.outq = append(c.outq, b)
}

// windowToAdvertise returns the window field for the next segment and
// records the right edge it announces. The window is what the App
// takes, rounded down to the scale: that can move the right edge left
// (RFC 9293 section 3.8.6.2.2 asks not to) when the App's buffer
// shrinks or is smaller than what the SYN-ACK offered before the App
// existed; bytes sent into the withdrawn part are dropped and resent,
// which beats accepting bytes nobody can hold.
func (c *conn) windowToAdvertise(syn bool) uint16 {
	w := initialWindow
	if c.app != nil {
		w = c.app.Window()
	}
	if syn {
		w = min(w, 65535)
		c.rcvRight = c.rcvNxt.add(w)
		return uint16(w)
	}
	w = min(w, 65535<<c.rcvShift)
	field := w >> c.rcvShift
	c.rcvRight = c.rcvNxt.add(field << c.rcvShift)
	return uint16(field)
}

// initialWindow is the receive window a listener's connection announces
// before it has an App: what a netstack socket's queue takes.
const initialWindow = 4 << 20

// sendSYN sends our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED).
func (c *conn) sendSYN() {
	o := options{mss: uint16(min(c.routeMSS, 65535)), wscale: -1}
	flags := uint8(flagSYN)
	active := c.state == stateSynSent
	if active {
		o.wscale = c.chooseShift()
		o.sackOK, o.ts = true, true
	} else {
		flags |= flagACK
		if c.wsOK {
			o.wscale = c.rcvShift
		}
		o.sackOK, o.ts = c.sackOK, c.tsOK
	}
	c.queue(c.iss, flags, &o, 0, nil)
	if c.retries == 0 {
		c.rttStart = time.Now()
	}
	c.sndNxt = c.iss.add(1)
	c.sndMax = seqMax(c.sndMax, c.sndNxt)
}

// chooseShift picks our window scale: enough for the App's largest
// window, at least Linux's usual 7.
func (c *conn) chooseShift() int {
	w := initialWindow
	if c.app != nil {
		w = max(c.app.Window(), w)
	}
	s := 7
	for s < maxWScale && w>>s > 65535 {
		s++
	}
	c.rcvShift = s
	return s
}

// emitACK sends a bare ACK now, with SACK blocks for what is out of
// order.
func (c *conn) emitACK() {
	c.emitACKSeq(c.sndNxt)
}

func (c *conn) emitACKSeq(sq seq) {
	o := options{wscale: -1}
	c.addSACK(&o)
	c.queue(sq, flagACK, &o, 0, nil)
}

// emitRST resets the connection with sequence number sq.
func (c *conn) emitRST(sq seq) {
	o := options{wscale: -1}
	c.queue(sq, flagRST|flagACK, &o, 0, nil)
	c.p.ctr.resetsSent.Add(1)
}

// addSACK puts the out-of-order blocks in o, the most recent first.
func (c *conn) addSACK(o *options) {
	if !c.sackOK || c.ooo.empty() {
		return
	}
	room := 4
	if c.tsOK {
		room = maxSACKBlocks
	}
	o.nsack = c.ooo.sackBlocks(o.sack[:room])
}

// dataEnd is the sequence number after the last byte the App has
// written so far.
func (c *conn) dataEnd() seq { return c.sndUna.add(c.appPending) }

// canSend reports whether the state lets data and FIN out.
func (c *conn) canSend() bool {
	switch c.state {
	case stateEstablished, stateCloseWait:
		return true
	case stateFinWait1, stateClosing, stateLastAck:
		// Only retransmissions, our FIN is out already.
		return true
	}
	return false
}

// output sends what the windows allow: lost segments first during
// recovery, then data not sent yet (or to be resent after a timeout),
// then our FIN.
func (c *conn) output() {
	if !c.canSend() || c.app == nil {
		return
	}
	swsHeld := false
	for i := 0; i < 1024; i++ {
		pipe := c.pipe()
		cwnd := c.cwnd()
		if c.inRecovery {
			if start, end, ok := c.nextLost(); ok && (c.retxFirst || pipe+c.mss <= cwnd) {
				c.retxFirst = false
				end = seqMin(end, start.add(c.mss))
				c.sendData(start, end.sub(start), true)
				c.highRxt = seqMax(c.highRxt, end)
				continue
			}
		}
		// Skip what the peer already has.
		if c.sndNxt.lt(c.sndMax) {
			if e, ok := c.sb.covering(c.sndNxt); ok {
				c.sndNxt = seqMin(e, c.sndMax)
				continue
			}
		}
		end := c.dataEnd()
		avail := end.sub(c.sndNxt)
		finToSend := c.appFin && (!c.finSent || c.sndNxt.leq(end))
		if avail <= 0 && !finToSend {
			break
		}
		room := c.sndUna.add(c.sndWnd).sub(c.sndNxt)
		n := min(avail, c.mss, max(room, 0))
		retx := c.sndNxt.lt(c.sndMax)
		if retx {
			// A resend covers at most what was sent before, up to the
			// next SACKed block.
			lim := c.sndMax
			if s, ok := c.sb.nextStart(c.sndNxt); ok {
				lim = seqMin(lim, s)
			}
			n = min(n, max(lim.sub(c.sndNxt), 0))
		}
		if pipe >= cwnd {
			break
		}
		if avail > 0 && n <= 0 {
			// Window full (zero-window probing takes over), or a
			// resend stopped at a SACKed block.
			break
		}
		if avail > 0 && n < c.mss && n < avail && !retx {
			// Sender silly-window avoidance (RFC 9293 section
			// 3.8.6.2.1): wait for room for a full segment unless it
			// is half the largest window the peer offered.
			if n < c.maxSndWnd/2 || cwnd-pipe < c.mss {
				swsHeld = n > 0 && n == room
				break
			}
		}
		fin := finToSend && c.sndNxt.add(n) == end
		c.sendSegment(c.sndNxt, n, fin, retx)
		c.sndNxt = c.sndNxt.add(n)
		if fin {
			c.sndNxt = c.sndNxt.add(1)
			c.finSentLocked()
		}
		c.sndMax = seqMax(c.sndMax, c.sndNxt)
		if n == 0 {
			break
		}
	}
	if c.sndUna != c.sndMax {
		c.persist = false
		if c.rtoAt.IsZero() {
			c.rtoAt = time.Now().Add(c.currentRTO())
		}
	} else if (swsHeld || c.sndUna.add(c.sndWnd).sub(c.sndNxt) <= 0) && c.dataEnd().gt(c.sndNxt) {
		// A zero window (or one too small to use) with data waiting:
		// the persist timer probes, or sends what fits (RFC 1122's
		// override timeout).
		if !c.persist || c.rtoAt.IsZero() {
			c.persist = true
			c.rtoAt = time.Now().Add(c.currentRTO())
		}
	}
}

// finSentLocked moves to the state after sending our FIN.
func (c *conn) finSentLocked() {
	if c.finSent {
		return
	}
	c.finSent = true
	switch c.state {
	case stateEstablished:
		c.state = stateFinWait1
	case stateCloseWait:
		c.state = stateLastAck
	}
}

// finSeq is the sequence number of our FIN (valid once finSent).
func (c *conn) finSeq() seq { return c.dataEnd() }

// sendData resends n bytes at start (loss recovery).
func (c *conn) sendData(start seq, n int, retx bool) {
	fin := c.finSent && start.add(n) == c.finSeq()
	c.sendSegment(start, n, fin, retx)
}

// sendSegment sends n bytes of the App's stream at sq, with FIN if fin.
func (c *conn) sendSegment(sq seq, n int, fin, retx bool) {
	flags := uint8(flagACK)
	if fin {
		flags |= flagFIN
	}
	if n > 0 && sq.add(n) == c.dataEnd() {
		flags |= flagPSH
	}
	o := options{wscale: -1}
	c.addSACK(&o)
	off := sq.sub(c.sndUna)
	app := c.app
	c.queue(sq, flags, &o, n, func(b []byte) {
		app.Peek(off, b)
	})
	if retx {
		c.p.ctr.retransmits.Add(1)
		if c.rttTiming && c.rttSeq.gt(sq) {
			// Karn: an ACK covering a resent byte times nothing.
			c.rttTiming = false
		}
	} else if !c.rttTiming && n > 0 {
		c.rttTiming = true
		c.rttSeq = sq.add(n)
		c.rttStart = time.Now()
	}
}

// maybeWindowUpdate sends an ACK when the App's reads opened the window
// enough to matter to the peer: at least two segments and at least
// double what it was told.
func (c *conn) maybeWindowUpdate() {
	if c.app == nil || !c.state.synchronized() || c.state == stateTimeWait || c.state == stateCloseWait || c.state == stateLastAck || c.state == stateClosing {
		return
	}
	cur := max(c.rcvRight.sub(c.rcvNxt), 0)
	w := c.app.Window()
	if w-cur >= 2*c.routeMSS && w >= 2*cur {
		c.emitACK()
	}
}

// currentRTO is the retransmission timeout with backoff.
func (c *conn) currentRTO() time.Duration {
	d := c.rto << c.backoff
	if d > c.p.cfg.maxRTO || d <= 0 {
		d = c.p.cfg.maxRTO
	}
	return d
}

// rtoExpired handles the retransmission (or persist) timer.
func (c *conn) rtoExpired() {
	switch c.state {
	case stateSynSent, stateSynRcvd:
		c.retries++
		limit := c.p.cfg.synRetries
		if c.state == stateSynRcvd {
			limit = c.p.cfg.synAckRetries
		}
		if c.retries > limit {
			c.connErr = linux.ETIMEDOUT
			c.finishLocked()
			return
		}
		c.backoff++
		c.p.ctr.timeouts.Add(1)
		c.p.ctr.retransmits.Add(1)
		c.sendSYN()
		c.rtoAt = time.Now().Add(c.currentRTO())
		return
	case stateClosed, stateTimeWait:
		return
	}
	if c.persist && c.sndUna == c.sndMax {
		// Zero-window probe: an ACK the peer must answer with its
		// window (Linux's probe carries an old sequence number).
		c.retries++
		if c.retries > c.p.cfg.retries && c.appClosed {
			c.failLocked(linux.ETIMEDOUT)
			return
		}
		if room := c.sndUna.add(c.sndWnd).sub(c.sndNxt); room > 0 {
			n := min(room, c.mss, c.dataEnd().sub(c.sndNxt))
			c.sendSegment(c.sndNxt, n, false, false)
			c.sndNxt = c.sndNxt.add(n)
			c.sndMax = seqMax(c.sndMax, c.sndNxt)
			c.persist = false
		} else {
			if c.urgMode && c.sndUp.gt(c.sndUna) && c.sndUp.leq(c.sndUna.add(0xffff)) {
				// The old sequence number below makes the peer drop
				// the probe unread: a probe at sndUna, which it
				// takes, tells it of the urgent pointer (as Linux's
				// tcp_write_wakeup does).
				c.emitACKSeq(c.sndUna)
			}
			c.emitACKSeq(c.sndUna.add(-1))
			c.backoff = min(c.backoff+1, 16)
		}
		c.rtoAt = time.Now().Add(c.currentRTO())
		return
	}
	if c.sndUna == c.sndMax {
		return
	}
	c.retries++
	if c.retries > c.p.cfg.retries {
		c.failLocked(linux.ETIMEDOUT)
		return
	}
	c.p.ctr.timeouts.Add(1)
	if c.backoff == 0 {
		c.cc.onTimeout(c.pipe(), c.mss)
	} else {
		c.cc.cwndSeg = 1
	}
	c.backoff = min(c.backoff+1, 16)
	c.inRecovery = false
	c.dupAcks = 0
	// Duplicate ACKs for what was sent before the timeout start no
	// fast retransmit (RFC 6582 section 4.2).
	c.recover = c.sndMax
	c.rttTiming = false
	// Go back to the first unacknowledged byte (RFC 6298 section 5);
	// the scoreboard skips what was SACKed.
	c.sndNxt = c.sndUna
	c.highRxt = c.sndUna
	c.rtoAt = time.Time{}
	c.output()
	// Armed again even when nothing could go (a zero window).
	c.rtoAt = time.Now().Add(c.currentRTO())
}

// keepaliveSettingsLocked reads the App's keep-alive settings and arms
// the timer.
func (c *conn) keepaliveSettingsLocked() {
	if c.app == nil || !c.state.synchronized() {
		return
	}
	idle, intvl, cnt := c.app.Keepalive()
	if idle == c.kaIdle && intvl == c.kaIntvl && cnt == c.kaCount {
		return
	}
	c.kaIdle, c.kaIntvl, c.kaCount = idle, intvl, cnt
	if idle <= 0 {
		c.kaAt = time.Time{}
		return
	}
	c.kaProbes = 0
	c.kaAt = c.lastRecv.Add(idle)
}

// keepaliveExpired sends a keep-alive probe when the connection has
// been idle long enough, or gives up on it.
func (c *conn) keepaliveExpired(now time.Time) {
	if c.kaIdle <= 0 || (c.state != stateEstablished && c.state != stateCloseWait) {
		return
	}
	if idle := now.Sub(c.lastRecv); idle < c.kaIdle && c.kaProbes == 0 {
		c.kaAt = c.lastRecv.Add(c.kaIdle)
		return
	}
	if c.sndUna != c.sndMax || c.dataEnd().gt(c.sndNxt) {
		// Data in flight: the retransmission timer watches the peer.
		c.kaAt = now.Add(c.kaIdle)
		return
	}
	if c.kaProbes >= c.kaCount {
		c.failLocked(linux.ETIMEDOUT)
		return
	}
	c.kaProbes++
	c.emitACKSeq(c.sndUna.add(-1))
	intvl := c.kaIntvl
	if intvl <= 0 {
		intvl = c.kaIdle
	}
	c.kaAt = now.Add(intvl)
}
