// Package tcp is the TCP of the sandbox's packet stack (RFC 9293): it
// carries the connections between the sandbox's sockets and hosts
// outside the sandbox, above the network layer's tcpip.NetworkSender
// and as its tcpip.TransportDispatcher for protocol 6.
//
// It implements the connection state machine with active and passive
// open, half-close, TIME_WAIT and RST handling (RFC 5961 challenge
// ACKs), window scaling, timestamps and PAWS (RFC 7323), SACK (RFC
// 2018) with RFC 6675 loss recovery (NewReno, RFC 6582, without SACK),
// RFC 6298 retransmission timers, CUBIC congestion control (RFC 9438),
// delayed ACKs, zero-window probing, keep-alives, path MTU updates and
// the urgent pointer (URG, read the BSD way as Linux does).
//
// Each connection's bytes live in its App (the socket's queues): TCP
// keeps only out-of-order received data. Received segments are
// processed on the caller's goroutine (the link's), application events
// on the application's goroutine, timers on time.AfterFunc's: no
// goroutine is woken per packet.
//
// Lock order: a connection's mu, then its sendMu (held while its
// segments go to the NetworkSender, to keep them in order), then the
// Protocol's mu. The App's methods are called with mu held; the App's
// notifications only try mu (TryLock) and leave a flag for the holder
// otherwise, so the App may notify with its own locks held.
package tcp

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip"
)

// config holds the protocol's tunables; tests shorten the timers.
type config struct {
	initRTO, minRTO, maxRTO time.Duration
	delAck                  time.Duration
	timeWait                time.Duration
	finTimeout              time.Duration
	synRetries              int // tcp_syn_retries
	synAckRetries           int // tcp_synack_retries
	retries                 int // tcp_retries2
	maxSynBacklog           int
}

func defaultConfig() config {
	return config{
		initRTO:       time.Second,
		minRTO:        200 * time.Millisecond,
		maxRTO:        120 * time.Second,
		delAck:        40 * time.Millisecond,
		timeWait:      60 * time.Second,
		finTimeout:    60 * time.Second,
		synRetries:    6,
		synAckRetries: 5,
		retries:       15,
		maxSynBacklog: 1024,
	}
}

// connKey names a connection by its two ends (IPv4 addresses in 4-byte
// form).
type connKey struct {
	local, remote netip.AddrPort
}

// Protocol is TCP over one network layer.
type Protocol struct {
	net tcpip.NetworkSender
	ln  Listener
	cfg config
	// epoch is the origin of the timestamp clock.
	epoch time.Time

	// mu guards the fields below.
	mu    sync.Mutex
	conns map[connKey]*conn
	// halfOpen counts connections in SYN-RECEIVED (the SYN queue).
	halfOpen int
	closed   bool

	ctr counters
}

// counters are the Stats, updated without a lock.
type counters struct {
	segmentsIn, segmentsOut, retransmits, fastRecoveries, timeouts, badChecksums, resetsSent atomic.Uint64
}

// Stats are counters for tests and diagnostics; read with Stats().
type Stats struct {
	SegmentsIn, SegmentsOut uint64
	Retransmits             uint64 // segments sent again
	FastRecoveries          uint64
	Timeouts                uint64 // retransmission timer expiries
	BadChecksums            uint64
	ResetsSent              uint64
}

// New returns TCP over net; ln learns of connections that arrive (nil:
// every SYN is refused).
func New(net tcpip.NetworkSender, ln Listener) *Protocol {
	return &Protocol{
		net:   net,
		ln:    ln,
		cfg:   defaultConfig(),
		epoch: time.Now(),
		conns: make(map[connKey]*conn),
	}
}

// Stats returns a snapshot of the counters.
func (p *Protocol) Stats() Stats {
	return Stats{
		SegmentsIn:     p.ctr.segmentsIn.Load(),
		SegmentsOut:    p.ctr.segmentsOut.Load(),
		Retransmits:    p.ctr.retransmits.Load(),
		FastRecoveries: p.ctr.fastRecoveries.Load(),
		Timeouts:       p.ctr.timeouts.Load(),
		BadChecksums:   p.ctr.badChecksums.Load(),
		ResetsSent:     p.ctr.resetsSent.Load(),
	}
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Connect opens a connection from local to remote whose bytes app
// carries, and returns once it is established or has failed:
// ECONNREFUSED (RST), ETIMEDOUT (no answer to the SYNs), EHOSTUNREACH
// or ENETUNREACH, EADDRINUSE (the pair is in use), or ctx's error. An
// unspecified local address is replaced by the route's source.
func (p *Protocol) Connect(ctx context.Context, local, remote netip.AddrPort, app App) error {
	local, remote = unmap(local), unmap(remote)
	src, mtu, err := p.net.Route(remote.Addr())
	if err != nil {
		return err
	}
	if !local.Addr().IsValid() || local.Addr().IsUnspecified() {
		local = netip.AddrPortFrom(src, local.Port())
	}
	if local.Port() == 0 || remote.Port() == 0 {
		return linux.EINVAL
	}
	c := p.newConn(connKey{local, remote}, mtu)
	c.app = app
	c.state = stateSynSent
	c.done = make(chan struct{})
	if err := p.insert(c); err != nil {
		return err
	}
	app.EventRegister(&c.entry)
	c.mu.Lock()
	c.sendSYN()
	c.rtoAt = time.Now().Add(c.rto)
	c.unlock()

	select {
	case <-c.done:
	case <-ctx.Done():
		c.mu.Lock()
		if c.state == stateSynSent {
			c.connErr = ctx.Err()
			c.finishLocked()
		}
		c.unlock()
		<-c.done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.openErr
}

// insert adds c to the table; a connection in TIME_WAIT with the same
// ends gives way, as Linux reuses it for an outgoing connection.
func (p *Protocol) insert(c *conn) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return linux.ENETDOWN
	}
	old := p.conns[c.key]
	if old == nil {
		p.conns[c.key] = c
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	old.mu.Lock()
	if old.state != stateTimeWait && old.state != stateClosed {
		old.unlock()
		return linux.EADDRINUSE
	}
	// Start the new connection above the old one's sequence space.
	c.iss = old.sndMax.add(1 << 17)
	c.sndUna, c.sndNxt, c.sndMax, c.recover = c.iss, c.iss, c.iss, c.iss
	old.finishLocked()
	old.unlock()
	return p.insert(c)
}

// remove takes c out of the table.
func (p *Protocol) remove(c *conn) {
	p.mu.Lock()
	if p.conns[c.key] == c {
		delete(p.conns, c.key)
	}
	if c.halfOpen {
		c.halfOpen = false
		p.halfOpen--
	}
	p.mu.Unlock()
}

func (p *Protocol) lookup(k connKey) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns[k]
}

// Close aborts every connection (the applications see ECONNABORTED)
// and stops the protocol.
func (p *Protocol) Close() {
	p.mu.Lock()
	p.closed = true
	all := make([]*conn, 0, len(p.conns))
	for _, c := range p.conns {
		all = append(all, c)
	}
	p.mu.Unlock()
	for _, c := range all {
		c.mu.Lock()
		if c.state != stateClosed {
			c.connErr = linux.ECONNABORTED
			c.failLocked(linux.ECONNABORTED)
		}
		c.unlock()
	}
}

// HandlePacket implements tcpip.TransportDispatcher.
func (p *Protocol) HandlePacket(src, dst netip.Addr, payload []byte) {
	src, dst = src.Unmap(), dst.Unmap()
	if !checksumOK(src, dst, payload) {
		p.ctr.badChecksums.Add(1)
		return
	}
	s, ok := parseSegment(payload)
	if !ok {
		return
	}
	p.ctr.segmentsIn.Add(1)
	key := connKey{netip.AddrPortFrom(dst, s.dstPort), netip.AddrPortFrom(src, s.srcPort)}
	if c := p.lookup(key); c != nil {
		c.mu.Lock()
		if c.state == stateTimeWait && s.has(flagSYN) && !s.has(flagACK|flagRST) && c.newSYNOK(&s) {
			// A new incarnation of the connection (RFC 9293 section
			// 3.6.1, RFC 6191): the TIME_WAIT gives way.
			isn := c.sndMax.add(1 << 17)
			c.finishLocked()
			c.unlock()
			p.listen(key, &s, isn, true)
			return
		}
		if c.state != stateClosed {
			c.input(&s)
			c.unlock()
			return
		}
		c.unlock()
	}
	if s.has(flagRST) {
		return
	}
	if s.has(flagSYN) && !s.has(flagACK) {
		p.listen(key, &s, 0, false)
		return
	}
	p.sendReset(key, &s)
}

// listen answers a SYN that matches no connection.
func (p *Protocol) listen(key connKey, s *segment, isn seq, haveISN bool) {
	if p.ln == nil || !p.ln.Listening(key.local) {
		p.sendReset(key, s)
		return
	}
	if key.remote.Addr().IsMulticast() || key.remote.Addr().IsUnspecified() {
		return
	}
	_, mtu, err := p.net.Route(key.remote.Addr())
	if err != nil {
		return
	}
	c := p.newConn(key, mtu)
	if haveISN {
		c.iss = isn
		c.sndUna, c.sndNxt, c.sndMax, c.recover = isn, isn, isn, isn
	}
	p.mu.Lock()
	if p.closed || p.halfOpen >= p.cfg.maxSynBacklog || p.conns[key] != nil {
		// The SYN queue is full: drop the SYN, the peer retries.
		p.mu.Unlock()
		return
	}
	p.halfOpen++
	c.halfOpen = true
	p.conns[key] = c
	p.mu.Unlock()

	c.mu.Lock()
	c.state = stateSynRcvd
	c.irs = s.seq
	c.rcvNxt = s.seq.add(1)
	c.rcvRight = c.rcvNxt
	c.negotiate(s)
	c.sendSYN()
	c.rtoAt = time.Now().Add(c.rto)
	c.unlock()
}

// sendReset answers a segment no connection takes (RFC 9293 section
// 3.10.7.1).
func (p *Protocol) sendReset(key connKey, s *segment) {
	if s.has(flagRST) {
		return
	}
	var sq, ack seq
	flags := uint8(flagRST)
	if s.has(flagACK) {
		sq = s.ack
	} else {
		ack = s.seq.add(s.seqLen())
		flags |= flagACK
	}
	var o options
	o.wscale = -1
	b := buildSegment(key.local, key.remote, sq, ack, flags, 0, 0, &o, 0, nil)
	p.ctr.resetsSent.Add(1)
	p.ctr.segmentsOut.Add(1)
	p.net.SendTransport(key.local.Addr(), key.remote.Addr(), tcpip.ProtocolTCP, b)
}

// HandleControl implements tcpip.TransportDispatcher.
func (p *Protocol) HandleControl(local, remote netip.Addr, kind tcpip.ControlKind, mtu uint32, quoted []byte) {
	if len(quoted) < 8 {
		return
	}
	sport := binary.BigEndian.Uint16(quoted[0:])
	dport := binary.BigEndian.Uint16(quoted[2:])
	sq := seq(binary.BigEndian.Uint32(quoted[4:]))
	key := connKey{netip.AddrPortFrom(local.Unmap(), sport), netip.AddrPortFrom(remote.Unmap(), dport)}
	c := p.lookup(key)
	if c == nil {
		return
	}
	c.mu.Lock()
	c.control(kind, mtu, sq)
	c.unlock()
}

// randomISS picks an initial sequence number. RFC 6528 derives it from
// a clock and a keyed hash; a random number serves the same purpose
// (unpredictable, and TIME_WAIT reuse picks its own above the old one).
func randomISS() seq { return seq(rand.Uint32()) }
