package tcp

import (
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip"
)

// pawsIdle is how long tsRecent stays valid (RFC 7323 section 5.5).
const pawsIdle = 24 * 24 * time.Hour

// negotiate takes the options of the peer's SYN (or SYN-ACK).
func (c *conn) negotiate(s *segment) {
	if s.opts.mss != 0 {
		c.peerMSS = int(s.opts.mss)
	}
	active := c.state == stateSynSent
	c.wsOK = s.opts.wscale >= 0
	if c.wsOK {
		c.sndShift = s.opts.wscale
		if !active {
			c.chooseShift()
		}
	} else {
		c.sndShift, c.rcvShift = 0, 0
	}
	c.sackOK = s.opts.sackOK
	c.tsOK = s.opts.ts
	if c.tsOK {
		c.tsRecent = s.opts.tsVal
		c.tsRecentAt = time.Now()
	}
	c.updateMSS()
	c.sndWnd = int(s.window)
	c.maxSndWnd = c.sndWnd
	c.sndWl1 = s.seq
}

// updateMSS recomputes the data segment size.
func (c *conn) updateMSS() {
	m := min(c.routeMSS, c.peerMSS)
	if c.tsOK {
		m -= 12
	}
	c.mss = max(m, 48)
}

// newSYNOK reports whether a SYN may end this TIME_WAIT (RFC 6191): its
// timestamp or its sequence number is above the old connection's.
func (c *conn) newSYNOK(s *segment) bool {
	if c.tsOK && s.opts.ts {
		return int32(s.opts.tsVal-c.tsRecent) > 0
	}
	return s.seq.gt(c.rcvNxt)
}

// input processes a segment for this connection (RFC 9293 section
// 3.10.7.4).
func (c *conn) input(s *segment) {
	now := time.Now()
	if c.state == stateSynSent {
		c.inputSynSent(s, now)
		return
	}
	if c.state == stateSynRcvd && s.has(flagSYN) && !s.has(flagACK) && s.seq == c.irs {
		// The peer did not get our SYN-ACK.
		c.sendSYN()
		return
	}

	// PAWS (RFC 7323 section 5.3).
	if c.tsOK && s.opts.ts && !s.has(flagRST) && int32(s.opts.tsVal-c.tsRecent) < 0 && now.Sub(c.tsRecentAt) < pawsIdle {
		c.emitACK()
		return
	}

	// Acceptability.
	wnd := max(c.rcvRight.sub(c.rcvNxt), 0)
	segLen := s.seqLen()
	var ok bool
	switch {
	case segLen == 0 && wnd == 0:
		ok = s.seq == c.rcvNxt
	case segLen == 0:
		ok = s.seq.inWindow(c.rcvNxt, wnd)
	case wnd == 0:
		ok = false
	default:
		ok = s.seq.inWindow(c.rcvNxt, wnd) || s.seq.add(segLen-1).inWindow(c.rcvNxt, wnd)
	}
	if !ok && wnd == 0 && s.seq == c.rcvNxt {
		// A window probe: its ACK and window still count.
		s.payload = nil
		s.flags &^= flagFIN
		ok = true
	}
	if !ok {
		if !s.has(flagRST) {
			c.emitACK()
		}
		return
	}

	// RST (RFC 5961 section 3): exactly at rcvNxt resets, anywhere
	// else in the window draws a challenge ACK.
	if s.has(flagRST) {
		if s.seq != c.rcvNxt {
			c.emitACK()
			return
		}
		switch c.state {
		case stateSynRcvd, stateTimeWait:
		default:
			c.connErr = linux.ECONNRESET
			c.failAppLocked(linux.ECONNRESET)
		}
		c.finishLocked()
		return
	}
	// A SYN in a synchronized state (RFC 5961 section 4).
	if s.has(flagSYN) {
		c.emitACK()
		return
	}
	if !s.has(flagACK) {
		return
	}

	// Any acceptable segment shows the peer is alive; the keep-alive
	// timer finds the new idle time when it fires.
	c.lastRecv = now
	c.kaProbes = 0

	// Timestamps (RFC 7323 section 4.3).
	if c.tsOK && s.opts.ts && s.seq.leq(c.lastAckSent) {
		c.tsRecent = s.opts.tsVal
		c.tsRecentAt = now
	}

	if c.state == stateSynRcvd {
		if !s.ack.gt(c.sndUna) || s.ack.gt(c.sndMax) {
			c.emitBareRST(s.ack)
			return
		}
		if !c.acceptLocked(s) {
			return
		}
	}

	if s.ack.gt(c.sndMax) {
		c.emitACK()
		return
	}
	if s.ack.geq(c.sndUna) {
		c.processAck(s, now)
		if c.state == stateClosed {
			return
		}
	}

	switch c.state {
	case stateEstablished, stateFinWait1, stateFinWait2:
		if s.has(flagURG) {
			c.processUrgent(s)
		}
		c.processData(s, now)
	case stateTimeWait:
		if s.has(flagFIN) {
			c.ackNow = true
			c.closeAt = now.Add(c.p.cfg.timeWait)
		}
	}
	if c.state == stateClosed {
		return
	}
	c.output()
	c.sendAckIfDue(now)
}

// sendAckIfDue sends the ACK the received data calls for, now or on the
// delayed-ACK timer.
func (c *conn) sendAckIfDue(now time.Time) {
	if c.state == stateClosed {
		return
	}
	if c.ackNow || c.unacked >= 2*c.mss {
		c.emitACK()
		return
	}
	if (c.unacked > 0 || c.ackQueued) && c.delackAt.IsZero() {
		c.delackAt = now.Add(c.p.cfg.delAck)
	}
}

// inputSynSent handles a segment in SYN-SENT (RFC 9293 section
// 3.10.7.3).
func (c *conn) inputSynSent(s *segment, now time.Time) {
	if s.has(flagACK) && (s.ack.leq(c.iss) || s.ack.gt(c.sndMax)) {
		if !s.has(flagRST) {
			c.emitBareRST(s.ack)
		}
		return
	}
	if s.has(flagRST) {
		if s.has(flagACK) {
			c.connErr = linux.ECONNREFUSED
			c.finishLocked()
		}
		return
	}
	if !s.has(flagSYN) {
		return
	}
	c.irs = s.seq
	c.rcvNxt = s.seq.add(1)
	c.rcvRight = c.rcvNxt
	c.negotiate(s)
	if !s.has(flagACK) {
		// Simultaneous open.
		c.state = stateSynRcvd
		c.sendSYN()
		return
	}
	c.sndUna = s.ack
	c.sndWl1, c.sndWl2 = s.seq, s.ack
	if c.retries == 0 {
		c.rttSample(now.Sub(c.rttStart))
	}
	c.rttTiming = false
	c.rtoAt = time.Time{}
	c.backoff, c.retries = 0, 0
	c.establishedLocked()
	c.emitACK()
	c.appEvent.Store(true)
}

// acceptLocked completes a passive open: the Listener takes the
// connection. It reports whether the segment goes on being processed.
func (c *conn) acceptLocked(s *segment) bool {
	app, err := c.p.ln.Accept(c.key.local, c.key.remote)
	if err == linux.EAGAIN {
		// The accept queue is full: as if the ACK were lost.
		return false
	}
	if err != nil || app == nil {
		c.emitBareRST(s.ack)
		c.finishLocked()
		return false
	}
	c.app = app
	c.p.mu.Lock()
	if c.halfOpen {
		c.halfOpen = false
		c.p.halfOpen--
	}
	c.p.mu.Unlock()
	if c.retries == 0 {
		c.rttSample(time.Since(c.rttStart))
	}
	c.rttTiming = false
	c.sndUna = c.iss.add(1)
	c.sndWl1, c.sndWl2 = s.seq, s.ack
	c.sndWnd = int(s.window) << c.sndShift
	c.maxSndWnd = c.sndWnd
	c.rtoAt = time.Time{}
	c.backoff, c.retries = 0, 0
	c.establishedLocked()
	app.EventRegister(&c.entry)
	c.appEvent.Store(true)
	return true
}

// emitBareRST sends <SEQ=sq><CTL=RST>, the answer to an unacceptable
// ACK.
func (c *conn) emitBareRST(sq seq) {
	o := options{wscale: -1}
	c.queue(sq, flagRST, &o, 0, nil)
	c.p.ctr.resetsSent.Add(1)
}

// rttSample feeds a round-trip measurement to the RTO (RFC 6298
// section 2).
func (c *conn) rttSample(r time.Duration) {
	if r <= 0 {
		r = time.Microsecond
	}
	if c.srtt == 0 {
		c.srtt, c.rttvar = r, r/2
	} else {
		d := c.srtt - r
		if d < 0 {
			d = -d
		}
		c.rttvar = (3*c.rttvar + d) / 4
		c.srtt = (7*c.srtt + r) / 8
	}
	c.rto = c.srtt + max(time.Millisecond, 4*c.rttvar)
	c.rto = min(max(c.rto, c.p.cfg.minRTO), c.p.cfg.maxRTO)
}

// processAck handles an acceptable ACK at or above sndUna.
func (c *conn) processAck(s *segment, now time.Time) {
	acked := s.ack.sub(c.sndUna)
	wnd := int(s.window) << c.sndShift
	windowChanged := false
	if c.sndWl1.lt(s.seq) || (c.sndWl1 == s.seq && c.sndWl2.leq(s.ack)) {
		windowChanged = wnd != c.sndWnd
		c.sndWnd = wnd
		c.maxSndWnd = max(c.maxSndWnd, wnd)
		c.sndWl1, c.sndWl2 = s.seq, s.ack
		if wnd > 0 && c.persist {
			c.persist = false
			c.backoff, c.retries = 0, 0
			if c.sndUna == c.sndMax {
				c.rtoAt = time.Time{}
			}
		}
	}
	newSACK := false
	if c.sackOK {
		before := c.sb.sacked
		for i := 0; i < s.opts.nsack; i++ {
			b := s.opts.sack[i]
			if b.end.gt(s.ack) && b.start.lt(b.end) {
				c.sb.add(b, s.ack, c.sndMax)
			}
		}
		newSACK = c.sb.sacked != before
	}

	if acked > 0 {
		flight := c.pipe()
		dataAcked := acked
		finAcked := false
		if c.finSent && s.ack == c.finSeq().add(1) {
			dataAcked--
			finAcked = true
		}
		dataAcked = min(dataAcked, c.appPending)
		if dataAcked > 0 {
			c.app.Consume(dataAcked)
			c.appPending -= dataAcked
		}
		c.sndUna = s.ack
		if c.sndNxt.lt(c.sndUna) {
			c.sndNxt = c.sndUna
		}
		if c.highRxt.lt(c.sndUna) {
			c.highRxt = c.sndUna
		}
		c.sb.trim(c.sndUna)
		if c.rttTiming && s.ack.geq(c.rttSeq) {
			c.rttSample(now.Sub(c.rttStart))
			c.rttTiming = false
		}
		c.backoff, c.retries = 0, 0
		if c.inRecovery {
			if s.ack.geq(c.recover) {
				c.inRecovery = false
			} else if !c.sackOK || len(c.sb.blocks) == 0 {
				// NewReno's partial ACK: the next hole goes now.
				c.retxFirst = true
			}
		} else if c.cwndLimited(flight) {
			c.cc.onAck(dataAcked, c.mss, c.srtt, now)
		}
		c.dupAcks = 0
		if c.sndUna == c.sndMax {
			c.rtoAt = time.Time{}
		} else {
			c.rtoAt = now.Add(c.currentRTO())
		}
		if finAcked {
			switch c.state {
			case stateFinWait1:
				c.state = stateFinWait2
				if c.appClosed {
					c.closeAt = now.Add(c.p.cfg.finTimeout)
				}
			case stateClosing:
				c.enterTimeWait(now)
			case stateLastAck:
				c.finishLocked()
				return
			}
		}
	} else if len(s.payload) == 0 && !s.has(flagFIN) && c.sndUna != c.sndMax && (!windowChanged || newSACK) {
		c.dupAcks++
	}

	if !c.inRecovery && c.sndUna != c.sndMax && c.sndUna.geq(c.recover) &&
		(c.dupAcks >= dupThresh || (c.sackOK && c.isLost(c.sndUna))) {
		c.inRecovery = true
		c.recover = c.sndMax
		c.highRxt = c.sndUna
		c.retxFirst = true
		c.cc.onLoss()
		c.p.ctr.fastRecoveries.Add(1)
	}
}

// enterTimeWait moves to TIME-WAIT for the configured time.
func (c *conn) enterTimeWait(now time.Time) {
	c.state = stateTimeWait
	c.rtoAt, c.kaAt, c.delackAt = time.Time{}, time.Time{}, time.Time{}
	c.closeAt = now.Add(c.p.cfg.timeWait)
}

// processUrgent passes the segment's urgent pointer to the App before
// its data, as Linux's tcp_check_urg: the urgent byte is the one before
// the pointer (the BSD reading Linux keeps unless tcp_stdurg is set),
// and a pointer at bytes received already is a repeat.
func (c *conn) processUrgent(s *segment) {
	ptr := s.seq.add(int(s.urgPtr))
	if s.urgPtr > 0 {
		ptr = ptr.add(-1)
	}
	if off := ptr.sub(c.rcvNxt); off >= 0 && c.app != nil {
		c.app.RecvUrgent(off)
	}
}

// processData takes the segment's data and FIN (RFC 9293 section
// 3.10.7.4, seventh and eighth steps).
func (c *conn) processData(s *segment, now time.Time) {
	sq, data, fin := s.seq, s.payload, s.has(flagFIN)
	if len(data) == 0 && !fin {
		return
	}
	if sq.lt(c.rcvNxt) {
		d := c.rcvNxt.sub(sq)
		if d >= len(data) {
			if !(fin && d == len(data)) {
				// All old: a duplicate, which the peer must learn
				// we have.
				c.ackNow = true
				return
			}
			data = nil
		} else {
			data = data[d:]
		}
		sq = c.rcvNxt
	}
	if right := seqMax(c.rcvRight, c.rcvNxt); sq.add(len(data)).gt(right) {
		data = data[:max(right.sub(sq), 0)]
		fin = false
	}
	if sq != c.rcvNxt {
		// Out of order: hold it, and tell the peer at once (the
		// duplicate ACK with SACK blocks drives its recovery).
		if len(data) > 0 {
			c.ooo.insert(sq, data)
		}
		if fin {
			c.oooFin, c.oooFinSeq = true, sq.add(len(data))
		}
		c.ackNow = true
		return
	}
	hadOOO := !c.ooo.empty()
	if len(data) > 0 {
		n := c.app.Write(data)
		c.rcvNxt = c.rcvNxt.add(n)
		c.unacked += n
		if n < len(data) {
			fin = false
		}
	}
	for hadOOO {
		d, ok := c.ooo.pop(c.rcvNxt)
		if !ok {
			break
		}
		n := c.app.Write(d)
		c.rcvNxt = c.rcvNxt.add(n)
		if n < len(d) {
			break
		}
	}
	if hadOOO {
		c.ackNow = true
	}
	if fin && c.rcvNxt == sq.add(len(data)) || c.oooFin && c.rcvNxt == c.oooFinSeq {
		c.oooFin = false
		c.rcvNxt = c.rcvNxt.add(1)
		c.ackNow = true
		c.app.CloseWrite()
		switch c.state {
		case stateEstablished:
			c.state = stateCloseWait
		case stateFinWait1:
			c.state = stateClosing
		case stateFinWait2:
			c.enterTimeWait(now)
		}
	}
}

// control handles an ICMP error about a segment we sent with sequence
// number sq (RFC 5927: only for data in flight).
func (c *conn) control(kind tcpip.ControlKind, mtu uint32, sq seq) {
	if c.state == stateClosed || sq.lt(c.sndUna) || sq.gt(c.sndMax) {
		return
	}
	switch kind {
	case tcpip.ControlPacketTooBig:
		m := mssFor(mtu, c.isV6)
		if mtu == 0 || m >= c.routeMSS {
			return
		}
		c.routeMSS = m
		c.updateMSS()
		// Resend what was in flight in smaller segments; not a
		// congestion signal.
		if c.sndNxt != c.sndUna && c.state.synchronized() {
			c.sndNxt = c.sndUna
			c.output()
		}
	case tcpip.ControlHostUnreachable, tcpip.ControlPortUnreachable:
		if c.state != stateSynSent {
			// A soft error for a synchronized connection.
			return
		}
		c.connErr = linux.EHOSTUNREACH
		if kind == tcpip.ControlPortUnreachable {
			c.connErr = linux.ECONNREFUSED
		}
		c.finishLocked()
	}
}
