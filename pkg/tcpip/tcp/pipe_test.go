package tcp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/waiter"
)

// pipeEnd is one side of an in-memory network joining two Protocols:
// it implements tcpip.NetworkSender and delivers to the other side's
// Protocol from a goroutine, dropping, duplicating and reordering as
// told.
type pipeEnd struct {
	addr netip.Addr
	mtu  uint32
	peer *pipeEnd
	p    *Protocol

	mu sync.Mutex
	// Impairments, in [0, 1); guarded by mu.
	loss, dup, reorder float64
	// drop, if set, decides about each packet (after the others).
	drop func(s *segment) bool
	rng  *rand.Rand
	held *packet // a packet delayed for reordering
	sent int

	ch   chan packet
	quit chan struct{}
	wg   sync.WaitGroup
}

type packet struct {
	src, dst netip.Addr
	b        []byte
}

// newPipe joins two protocols built with cfg on 10.0.0.1 and 10.0.0.2.
func newPipe(t *testing.T, lnA, lnB Listener, tweak func(c *config)) (a, b *pipeEnd) {
	a = &pipeEnd{addr: netip.MustParseAddr("10.0.0.1"), mtu: 1500, rng: rand.New(rand.NewPCG(1, 2))}
	b = &pipeEnd{addr: netip.MustParseAddr("10.0.0.2"), mtu: 1500, rng: rand.New(rand.NewPCG(3, 4))}
	a.peer, b.peer = b, a
	a.p, b.p = New(a, lnA), New(b, lnB)
	for _, e := range []*pipeEnd{a, b} {
		e.p.cfg.initRTO = 100 * time.Millisecond
		e.p.cfg.minRTO = 20 * time.Millisecond
		if tweak != nil {
			tweak(&e.p.cfg)
		}
		e.ch = make(chan packet, 1<<14)
		e.quit = make(chan struct{})
		e.wg.Add(1)
		go e.deliver()
	}
	t.Cleanup(func() {
		for _, e := range []*pipeEnd{a, b} {
			close(e.quit)
			e.wg.Wait()
			e.p.Close()
		}
	})
	return a, b
}

func (e *pipeEnd) setImpair(loss, dup, reorder float64) {
	e.mu.Lock()
	e.loss, e.dup, e.reorder = loss, dup, reorder
	e.mu.Unlock()
}

func (e *pipeEnd) setDrop(f func(s *segment) bool) {
	e.mu.Lock()
	e.drop = f
	e.mu.Unlock()
}

// deliver hands the peer's packets to this end's protocol.
func (e *pipeEnd) deliver() {
	defer e.wg.Done()
	for {
		select {
		case pk := <-e.ch:
			e.p.HandlePacket(pk.src, pk.dst, pk.b)
		case <-e.quit:
			return
		}
	}
}

// Route implements tcpip.NetworkSender.
func (e *pipeEnd) Route(dst netip.Addr) (netip.Addr, uint32, error) {
	if dst != e.peer.addr {
		return netip.Addr{}, 0, linux.ENETUNREACH
	}
	return e.addr, e.mtu, nil
}

// SendTransport implements tcpip.NetworkSender.
func (e *pipeEnd) SendTransport(src, dst netip.Addr, proto uint8, payload []byte) error {
	if proto != tcpip.ProtocolTCP || dst != e.peer.addr {
		return linux.ENETUNREACH
	}
	pk := packet{src, dst, append([]byte(nil), payload...)}
	e.mu.Lock()
	e.sent++
	var out []packet
	if s, ok := parseSegment(pk.b); ok && e.drop != nil && e.drop(&s) {
		e.mu.Unlock()
		return nil
	}
	switch r := e.rng.Float64(); {
	case r < e.loss:
	case r < e.loss+e.dup:
		out = append(out, pk, pk)
	case r < e.loss+e.dup+e.reorder && e.held == nil:
		e.held = &pk
	default:
		out = append(out, pk)
	}
	if e.held != nil && (len(out) > 0 || e.rng.Float64() < 0.1) {
		out = append(out, *e.held)
		e.held = nil
	}
	e.mu.Unlock()
	for _, pk := range out {
		select {
		case e.peer.ch <- pk:
		default: // a full queue drops, as a link would
		}
	}
	return nil
}

// fakeApp is an App with plain byte slices for queues.
type fakeApp struct {
	mu   sync.Mutex
	cond *sync.Cond
	q    waiter.Queue

	// Send side.
	out      []byte // pending: written, not consumed
	sndLimit int
	finished bool
	closed   bool
	aborted  bool
	consumed int

	// Receive side.
	in       []byte
	rcvLimit int
	gotFin   bool
	err      error
	received int

	kaIdle, kaIntvl time.Duration
	kaCount         int

	// Urgent data: sndUp is the stream position (counted from the
	// first byte written) just past the urgent byte, 0 for none;
	// rcvUrg are the positions of the urgent bytes announced.
	sndUp  int
	rcvUrg []int
}

func newFakeApp(limit int) *fakeApp {
	a := &fakeApp{sndLimit: limit, rcvLimit: limit}
	a.cond = sync.NewCond(&a.mu)
	return a
}

func (a *fakeApp) Status() (int, bool, bool, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.out), a.finished, a.closed, a.aborted
}

func (a *fakeApp) Peek(off int, p []byte) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if off >= len(a.out) {
		return 0
	}
	return copy(p, a.out[off:])
}

func (a *fakeApp) Consume(n int) {
	a.mu.Lock()
	a.out = a.out[n:]
	a.consumed += n
	a.cond.Broadcast()
	a.mu.Unlock()
}

func (a *fakeApp) Write(p []byte) int {
	a.mu.Lock()
	if a.closed {
		// Like the netstack's conn: bytes for a closed socket reset
		// the connection, and its stack hears of it.
		a.aborted = true
		a.mu.Unlock()
		a.q.Notify(waiter.AllEvents)
		return len(p)
	}
	defer a.mu.Unlock()
	n := min(len(p), a.rcvLimit-len(a.in))
	a.in = append(a.in, p[:n]...)
	a.received += n
	a.cond.Broadcast()
	return n
}

func (a *fakeApp) Window() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return max(a.rcvLimit-len(a.in), 0)
}

func (a *fakeApp) CloseWrite() {
	a.mu.Lock()
	a.gotFin = true
	a.cond.Broadcast()
	a.mu.Unlock()
}

func (a *fakeApp) Fail(err error) {
	a.mu.Lock()
	a.err = err
	a.aborted = true
	a.cond.Broadcast()
	a.mu.Unlock()
}

func (a *fakeApp) Keepalive() (time.Duration, time.Duration, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.kaIdle, a.kaIntvl, a.kaCount
}

func (a *fakeApp) SendUrgent() (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sndUp <= a.consumed {
		return 0, false
	}
	return a.sndUp - a.consumed, true
}

func (a *fakeApp) RecvUrgent(off int) {
	a.mu.Lock()
	a.rcvUrg = append(a.rcvUrg, a.received+off)
	a.cond.Broadcast()
	a.mu.Unlock()
}

func (a *fakeApp) EventRegister(e *waiter.Entry) { a.q.EventRegister(e) }

// urgentAt makes the byte at stream position pos (counted from the
// first byte written) urgent, as a send with MSG_OOB ending there.
func (a *fakeApp) urgentAt(pos int) {
	a.mu.Lock()
	a.sndUp = pos + 1
	a.mu.Unlock()
	a.q.Notify(waiter.ReadableEvents)
}

// urgents returns the urgent positions announced so far.
func (a *fakeApp) urgents() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.rcvUrg...)
}

// write queues as much of p as the send limit takes.
func (a *fakeApp) write(p []byte) int {
	a.mu.Lock()
	n := min(len(p), a.sndLimit-len(a.out))
	a.out = append(a.out, p[:n]...)
	a.mu.Unlock()
	if n > 0 {
		a.q.Notify(waiter.ReadableEvents)
	}
	return n
}

// writeAll writes p, waiting for room.
func (a *fakeApp) writeAll(p []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for len(p) > 0 {
		n := a.write(p)
		p = p[n:]
		if n == 0 {
			if !a.waitFor(func() bool { return len(a.out) < a.sndLimit || a.err != nil }, time.Until(deadline)) {
				return fmt.Errorf("writeAll: stuck with %d bytes left", len(p))
			}
			if a.err != nil {
				return fmt.Errorf("writeAll: %v", a.err)
			}
		}
	}
	return nil
}

func (a *fakeApp) mustWrite(t *testing.T, p []byte, timeout time.Duration) {
	t.Helper()
	if err := a.writeAll(p, timeout); err != nil {
		t.Fatal(err)
	}
}

func (a *fakeApp) mustRead(t *testing.T, want int, timeout time.Duration) []byte {
	t.Helper()
	b, err := a.readAll(want, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// read takes up to n received bytes.
func (a *fakeApp) read(n int) []byte {
	a.mu.Lock()
	n = min(n, len(a.in))
	b := append([]byte(nil), a.in[:n]...)
	a.in = a.in[n:]
	a.mu.Unlock()
	if n > 0 {
		a.q.Notify(waiter.WritableEvents)
	}
	return b
}

// readAll reads until want bytes or EOF.
func (a *fakeApp) readAll(want int, timeout time.Duration) ([]byte, error) {
	var got []byte
	deadline := time.Now().Add(timeout)
	for len(got) < want {
		if !a.waitFor(func() bool { return len(a.in) > 0 || a.gotFin || a.err != nil }, time.Until(deadline)) {
			return got, fmt.Errorf("readAll: got %d of %d bytes before timeout", len(got), want)
		}
		b := a.read(1 << 20)
		got = append(got, b...)
		if len(b) == 0 {
			break
		}
	}
	return got, nil
}

func (a *fakeApp) shutdownWrite() {
	a.mu.Lock()
	a.finished = true
	a.mu.Unlock()
	a.q.Notify(waiter.EventHUp)
}

// close closes the socket: a reset if data is left unread, or if abort.
func (a *fakeApp) close(abort bool) {
	a.mu.Lock()
	a.closed = true
	a.finished = true
	if abort || len(a.in) > 0 {
		a.aborted = true
	}
	a.in = nil
	a.mu.Unlock()
	a.q.Notify(waiter.AllEvents)
}

// waitFor waits for cond (evaluated with a.mu held).
func (a *fakeApp) waitFor(cond func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	t := time.AfterFunc(timeout, func() {
		a.mu.Lock()
		a.cond.Broadcast()
		a.mu.Unlock()
	})
	defer t.Stop()
	a.mu.Lock()
	defer a.mu.Unlock()
	for !cond() {
		if !time.Now().Before(deadline) {
			return false
		}
		a.cond.Wait()
	}
	return true
}

// testListener accepts into a channel of fakeApps.
type testListener struct {
	port     uint16
	limit    int
	accepted chan *fakeApp
	refuse   bool
}

func newTestListener(port uint16, limit int) *testListener {
	return &testListener{port: port, limit: limit, accepted: make(chan *fakeApp, 16)}
}

func (l *testListener) Listening(local netip.AddrPort) bool { return local.Port() == l.port }

func (l *testListener) Accept(local, remote netip.AddrPort) (App, error) {
	if l.refuse {
		return nil, linux.ECONNREFUSED
	}
	a := newFakeApp(l.limit)
	l.accepted <- a
	return a, nil
}

func (l *testListener) next(t *testing.T) *fakeApp {
	select {
	case a := <-l.accepted:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

// waitUntil polls f.
func waitUntil(t *testing.T, what string, timeout time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// connState returns the state of the connection local->remote in p.
func connState(p *Protocol, local, remote netip.AddrPort) (state, *conn) {
	c := p.lookup(connKey{local, remote})
	if c == nil {
		return stateClosed, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c
}
