package tcp

import (
	"sync"
	"sync/atomic"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/waiter"
)

// state is a connection state of RFC 9293 section 3.3.2.
type state int

const (
	stateClosed state = iota
	stateSynSent
	stateSynRcvd
	stateEstablished
	stateFinWait1
	stateFinWait2
	stateCloseWait
	stateClosing
	stateLastAck
	stateTimeWait
)

var stateNames = [...]string{"CLOSED", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"}

func (s state) String() string { return stateNames[s] }

// synchronized reports whether both sides' sequence numbers are known.
func (s state) synchronized() bool { return s >= stateEstablished }

// conn is one connection (a TCB).
type conn struct {
	p   *Protocol
	key connKey // immutable

	// entry is registered on the App's queue; its callback sets
	// appEvent and runs the event if it gets mu without waiting.
	entry    waiter.Entry
	appEvent atomic.Bool
	// dead is set once the connection is closed, for the App's
	// notifications to stop early (the entry stays registered: the
	// App's queue dies with it).
	dead atomic.Bool

	// sendMu orders the transmission of batches of segments; it is
	// taken with mu held and held after mu is released.
	sendMu sync.Mutex

	// mu guards everything below.
	mu    sync.Mutex
	state state
	app   App // nil in SYN-RECEIVED
	// halfOpen: counted in the Protocol's SYN queue (p.mu guards it).
	halfOpen bool
	// done is closed when an active open ends, openErr its outcome;
	// connErr is why the connection ended.
	done    chan struct{}
	openErr error
	connErr error

	// App state, as of the last Status call.
	appPending  int  // bytes from sndUna on
	appFin      bool // the stream ends after appPending bytes
	appClosed   bool
	appFailed   bool // we called App.Fail
	appAborting bool // the App reset the connection
	// urgMode: the App has an urgent pointer, sndUp (just past the
	// urgent byte), not acknowledged when last read.
	urgMode bool
	sndUp   seq

	// Send sequence space (RFC 9293 section 3.3.1).
	iss, sndUna, sndNxt, sndMax seq
	sndWnd                      int // the peer's window, scaled
	maxSndWnd                   int
	sndWl1, sndWl2              seq
	sndShift                    int // the peer's window scale
	finSent                     bool

	// Receive sequence space.
	irs, rcvNxt seq
	rcvRight    seq // right edge of the window last advertised
	rcvShift    int // our window scale
	ooo         oooQueue
	// oooFin: the FIN came out of order, at oooFinSeq.
	oooFin    bool
	oooFinSeq seq

	// Negotiated options.
	wsOK, sackOK, tsOK bool
	tsRecent           uint32
	tsRecentAt         time.Time
	lastAckSent        seq
	tsOffset           uint32

	// Segment sizes: routeMSS is what our MTU allows (and what we
	// announce), peerMSS what the peer announced, mss what a data
	// segment carries (both, less the timestamp option).
	routeMSS, peerMSS, mss int
	isV6                   bool

	// Congestion control and loss recovery.
	cc         cubic
	dupAcks    int
	inRecovery bool
	recover    seq  // sndMax when recovery began
	highRxt    seq  // retransmitted up to here in this recovery
	retxFirst  bool // retransmit the first lost segment regardless of cwnd
	sb         scoreboard

	// Round-trip time (RFC 6298): one segment is timed at a time.
	srtt, rttvar, rto time.Duration
	rttTiming         bool
	rttSeq            seq
	rttStart          time.Time
	backoff           int // RTO doublings
	retries           int // consecutive expiries
	persist           bool

	// Delayed ACKs: bytes received since the last ACK.
	unacked   int
	ackNow    bool
	ackQueued bool

	// Timers: one time.Timer fires at the earliest deadline (zero:
	// off).
	timer                 *time.Timer
	timerAt               time.Time
	rtoAt, delackAt, kaAt time.Time
	closeAt               time.Time // TIME_WAIT and orphaned FIN-WAIT-2
	kaProbes              int
	lastRecv              time.Time
	kaIdle, kaIntvl       time.Duration
	kaCount               int

	// outq holds built segments until unlock sends them.
	outq [][]byte
}

func (p *Protocol) newConn(key connKey, mtu uint32) *conn {
	c := &conn{p: p, key: key}
	c.iss = randomISS()
	c.sndUna, c.sndNxt, c.sndMax, c.recover = c.iss, c.iss, c.iss, c.iss
	c.isV6 = key.local.Addr().Is6()
	c.routeMSS = mssFor(mtu, c.isV6)
	c.peerMSS = defaultMSS(c.isV6)
	c.mss = min(c.routeMSS, c.peerMSS)
	c.rto = p.cfg.initRTO
	c.tsOffset = uint32(randomISS())
	c.cc.init()
	c.entry.Init(waiter.FuncListener(func(waiter.EventMask) { c.notified() }), waiter.AllEvents)
	return c
}

// mssFor is the largest segment payload an MTU carries.
func mssFor(mtu uint32, v6 bool) int {
	h := 40
	if v6 {
		h = 60
	}
	return max(int(mtu)-h, 64)
}

// defaultMSS is what a peer that announces no MSS takes (RFC 9293
// section 3.7.1).
func defaultMSS(v6 bool) int {
	if v6 {
		return 1220
	}
	return 536
}

// notified is the App's queue's callback: it must not block.
func (c *conn) notified() {
	if c.dead.Load() {
		return
	}
	c.appEvent.Store(true)
	if c.mu.TryLock() {
		c.unlock()
	}
}

// unlock runs the work left for the lock holder (App events, timer
// arming), releases mu and sends the queued segments.
func (c *conn) unlock() {
	for {
		for c.appEvent.Swap(false) {
			c.appEventLocked()
		}
		c.armTimerLocked()
		out := c.outq
		c.outq = nil
		if len(out) > 0 {
			c.sendMu.Lock()
		}
		c.mu.Unlock()
		if len(out) > 0 {
			src, dst := c.key.local.Addr(), c.key.remote.Addr()
			for _, b := range out {
				c.p.net.SendTransport(src, dst, tcpip.ProtocolTCP, b)
			}
			c.sendMu.Unlock()
			c.p.ctr.segmentsOut.Add(uint64(len(out)))
		}
		// An App notification that found mu held left its flag for
		// us.
		if !c.appEvent.Load() || !c.mu.TryLock() {
			return
		}
	}
}

// appEventLocked reacts to the App: data to send, a shutdown, a close,
// a reset, a read that opened the window, new keep-alive settings.
func (c *conn) appEventLocked() {
	if c.app == nil || c.state == stateClosed || c.appFailed {
		return
	}
	c.refreshAppLocked()
	if c.state == stateClosed {
		return
	}
	c.output()
	c.maybeWindowUpdate()
	c.keepaliveSettingsLocked()
}

// refreshAppLocked reads the App's send-side state; an abort resets the
// connection.
func (c *conn) refreshAppLocked() {
	pending, fin, closed, aborted := c.app.Status()
	if aborted && !c.appFailed {
		c.appAborting = true
		if c.state.synchronized() || c.state == stateSynRcvd {
			c.emitRST(c.sndMax)
		}
		c.connErr = linux.ECONNRESET
		c.finishLocked()
		return
	}
	c.appPending, c.appFin = pending, fin
	if up, ok := c.app.SendUrgent(); ok {
		c.urgMode, c.sndUp = true, c.sndUna.add(up)
	} else {
		c.urgMode = false
	}
	if closed && !c.appClosed {
		c.appClosed = true
		if c.state == stateFinWait2 {
			c.closeAt = time.Now().Add(c.p.cfg.finTimeout)
		}
	}
}

// failLocked resets the connection with err: the App is told, the peer
// gets a RST.
func (c *conn) failLocked(err error) {
	if c.state.synchronized() && c.state != stateTimeWait {
		c.emitRST(c.sndMax)
	}
	c.failAppLocked(err)
	c.finishLocked()
}

// failAppLocked reports err to the App once.
func (c *conn) failAppLocked(err error) {
	if c.app != nil && !c.appFailed {
		c.appFailed = true
		c.app.Fail(err)
	}
}

// finishLocked moves the connection to CLOSED and forgets it.
func (c *conn) finishLocked() {
	if c.state == stateClosed {
		return
	}
	if c.connErr == nil {
		c.connErr = linux.ECONNABORTED
	}
	if c.done != nil {
		select {
		case <-c.done:
		default:
			c.openErr = c.connErr
			close(c.done)
		}
	}
	c.state = stateClosed
	c.dead.Store(true)
	if c.timer != nil {
		c.timer.Stop()
		c.timerAt = time.Time{}
	}
	c.rtoAt, c.delackAt, c.kaAt, c.closeAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	c.ooo = oooQueue{}
	c.sb = scoreboard{}
	c.p.remove(c)
}

// establishedLocked enters ESTABLISHED.
func (c *conn) establishedLocked() {
	c.state = stateEstablished
	c.lastRecv = time.Now()
	if c.done != nil {
		close(c.done)
	}
	c.keepaliveSettingsLocked()
}

// armTimerLocked points the timer at the earliest deadline. A timer set
// for later than needed is reset; one set earlier just fires and
// re-arms, so most packets do not touch the timer.
func (c *conn) armTimerLocked() {
	var next time.Time
	for _, t := range [...]time.Time{c.rtoAt, c.delackAt, c.kaAt, c.closeAt} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if next.IsZero() {
		return
	}
	if !c.timerAt.IsZero() && !c.timerAt.After(next) {
		return
	}
	c.timerAt = next
	d := time.Until(next)
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.timerFired)
	} else {
		c.timer.Reset(d)
	}
}

// timerFired runs the expired deadlines.
func (c *conn) timerFired() {
	c.mu.Lock()
	c.timerAt = time.Time{}
	now := time.Now()
	if c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	if !c.closeAt.IsZero() && !now.Before(c.closeAt) {
		c.closeAt = time.Time{}
		c.finishLocked()
		c.unlock()
		return
	}
	if !c.delackAt.IsZero() && !now.Before(c.delackAt) {
		c.delackAt = time.Time{}
		if c.unacked > 0 || c.ackQueued {
			c.emitACK()
		}
	}
	if !c.rtoAt.IsZero() && !now.Before(c.rtoAt) {
		c.rtoAt = time.Time{}
		c.rtoExpired()
	}
	if c.state != stateClosed && !c.kaAt.IsZero() && !now.Before(c.kaAt) {
		c.kaAt = time.Time{}
		c.keepaliveExpired(now)
	}
	c.unlock()
}

// tsNow is the timestamp clock: milliseconds, offset per connection.
func (c *conn) tsNow() uint32 {
	return uint32(time.Since(c.p.epoch)/time.Millisecond) + c.tsOffset
}
