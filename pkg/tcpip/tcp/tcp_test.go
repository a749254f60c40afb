package tcp

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

const testPort = 8080

func pattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// dial connects a's protocol to b's listener and returns both Apps.
func dial(t *testing.T, a, b *pipeEnd, ln *testListener, port uint16, limit int) (*fakeApp, *fakeApp, netip.AddrPort, netip.AddrPort) {
	t.Helper()
	local := netip.AddrPortFrom(a.addr, port)
	remote := netip.AddrPortFrom(b.addr, testPort)
	client := newFakeApp(limit)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.p.Connect(ctx, local, remote, client); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	server := ln.next(t)
	return client, server, local, remote
}

func TestHandshakeOptions(t *testing.T) {
	ln := newTestListener(testPort, 1<<20)
	a, b := newPipe(t, nil, ln, nil)
	_, _, local, remote := dial(t, a, b, ln, 40000, 1<<20)
	st, c := connState(a.p, local, remote)
	if st != stateEstablished {
		t.Fatalf("client state %v", st)
	}
	waitUntil(t, "server established", time.Second, func() bool {
		st, _ := connState(b.p, remote, local)
		return st == stateEstablished
	})
	_, s := connState(b.p, remote, local)
	for _, x := range []*conn{c, s} {
		x.mu.Lock()
		if !x.tsOK || !x.sackOK || !x.wsOK {
			t.Errorf("options not negotiated: ts %v sack %v ws %v", x.tsOK, x.sackOK, x.wsOK)
		}
		if x.mss != 1460-12 {
			t.Errorf("mss %d, want %d", x.mss, 1460-12)
		}
		if x.rcvShift != 7 || x.sndShift != 7 {
			t.Errorf("window scales %d/%d, want 7", x.rcvShift, x.sndShift)
		}
		x.mu.Unlock()
	}
}

func TestSmallMTUAndNoOptionsPeerMSS(t *testing.T) {
	ln := newTestListener(testPort, 1<<20)
	a, b := newPipe(t, nil, ln, nil)
	b.mtu = 1000
	_, _, local, remote := dial(t, a, b, ln, 40001, 1<<20)
	_, c := connState(a.p, local, remote)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mss != 960-12 {
		t.Errorf("client mss %d, want the peer's 960 less timestamps", c.mss)
	}
}

// transfer sends n bytes each way over a pipe with the given
// impairments and checks they arrive intact.
func transfer(t *testing.T, n int, loss, reorder, dup float64) {
	ln := newTestListener(testPort, 4<<20)
	a, b := newPipe(t, nil, ln, nil)
	client, server, local, remote := dial(t, a, b, ln, 40002, 4<<20)
	a.setImpair(loss, dup, reorder)
	b.setImpair(loss, dup, reorder)

	up, down := pattern(n, 1), pattern(n, 2)
	start := time.Now()
	done := make(chan []byte, 2)
	errs := make(chan error, 4)
	go func() { b, err := server.readAll(n, 60*time.Second); errs <- err; done <- b }()
	go func() { b, err := client.readAll(n, 60*time.Second); errs <- err; done <- b }()
	go func() { errs <- server.writeAll(down, 60*time.Second) }()
	errs <- client.writeAll(up, 60*time.Second)
	r1, r2 := <-done, <-done
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	elapsed := time.Since(start)
	if !(bytes.Equal(r1, up) && bytes.Equal(r2, down) || bytes.Equal(r1, down) && bytes.Equal(r2, up)) {
		t.Fatalf("data corrupted: got %d and %d bytes", len(r1), len(r2))
	}
	sa, sb := a.p.Stats(), b.p.Stats()
	t.Logf("%d MB each way, loss %.0f%% reorder %.0f%% dup %.0f%%: %v, %.1f MB/s per direction; retransmits %d+%d, fast recoveries %d+%d, timeouts %d+%d, segments %d+%d",
		n>>20, loss*100, reorder*100, dup*100, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds()/1e6,
		sa.Retransmits, sb.Retransmits, sa.FastRecoveries, sb.FastRecoveries, sa.Timeouts, sb.Timeouts, sa.SegmentsOut, sb.SegmentsOut)
	if loss > 0 && sa.Retransmits+sb.Retransmits == 0 {
		t.Errorf("no retransmissions with %.0f%% loss", loss*100)
	}
	if loss > 0 && sa.FastRecoveries+sb.FastRecoveries == 0 {
		t.Errorf("no fast recovery with %.0f%% loss", loss*100)
	}
	client.close(false)
	server.close(false)
	_ = local
	_ = remote
}

func TestTransferClean(t *testing.T) { transfer(t, 10<<20, 0, 0, 0) }
func TestTransferLoss1(t *testing.T) { transfer(t, 10<<20, 0.01, 0.02, 0.005) }
func TestTransferLoss5(t *testing.T) { transfer(t, 10<<20, 0.05, 0.03, 0.01) }

func TestConnectRefused(t *testing.T) {
	a, b := newPipe(t, nil, nil, nil)
	err := a.p.Connect(context.Background(), netip.AddrPortFrom(a.addr, 40003), netip.AddrPortFrom(b.addr, 9), newFakeApp(1<<16))
	if err != linux.ECONNREFUSED {
		t.Fatalf("Connect to a closed port: %v, want ECONNREFUSED", err)
	}
	if b.p.Stats().ResetsSent == 0 {
		t.Error("no RST sent")
	}
}

func TestConnectTimeout(t *testing.T) {
	ln := newTestListener(testPort, 1<<16)
	a, b := newPipe(t, nil, ln, func(c *config) {
		c.initRTO = 10 * time.Millisecond
		c.synRetries = 3
	})
	a.setDrop(func(*segment) bool { return true })
	start := time.Now()
	err := a.p.Connect(context.Background(), netip.AddrPortFrom(a.addr, 40004), netip.AddrPortFrom(b.addr, testPort), newFakeApp(1<<16))
	if err != linux.ETIMEDOUT {
		t.Fatalf("Connect with every SYN lost: %v, want ETIMEDOUT", err)
	}
	// 10+20+40+80 ms of backoff.
	if d := time.Since(start); d < 140*time.Millisecond {
		t.Errorf("gave up after %v, before the retries' backoff", d)
	}
	if s := a.p.Stats(); s.Timeouts != 3 {
		t.Errorf("%d SYN retransmissions, want 3", s.Timeouts)
	}
}

func TestConnectCancelled(t *testing.T) {
	a, b := newPipe(t, nil, newTestListener(testPort, 1<<16), nil)
	a.setDrop(func(*segment) bool { return true })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := a.p.Connect(ctx, netip.AddrPortFrom(a.addr, 40005), netip.AddrPortFrom(b.addr, testPort), newFakeApp(1<<16))
	if err != context.DeadlineExceeded {
		t.Fatalf("Connect: %v, want the context's error", err)
	}
	if st, _ := connState(a.p, netip.AddrPortFrom(a.addr, 40005), netip.AddrPortFrom(b.addr, testPort)); st != stateClosed {
		t.Errorf("connection left in %v", st)
	}
}

func TestListenerRefuses(t *testing.T) {
	ln := newTestListener(testPort, 1<<16)
	ln.refuse = true
	a, b := newPipe(t, nil, ln, nil)
	client := newFakeApp(1 << 16)
	// The handshake completes on the client side; the server's RST
	// on the final ACK then resets it.
	if err := a.p.Connect(context.Background(), netip.AddrPortFrom(a.addr, 40006), netip.AddrPortFrom(b.addr, testPort), client); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if !client.waitFor(func() bool { return client.err != nil }, 2*time.Second) || client.err != linux.ECONNRESET {
		t.Fatalf("client error %v, want ECONNRESET", client.err)
	}
}

func TestHalfCloseAndTimeWait(t *testing.T) {
	ln := newTestListener(testPort, 1<<16)
	a, b := newPipe(t, nil, ln, func(c *config) { c.timeWait = 200 * time.Millisecond })
	client, server, local, remote := dial(t, a, b, ln, 40007, 1<<16)

	client.write([]byte("request"))
	client.shutdownWrite()
	if got := server.mustRead(t, 100, 2*time.Second); string(got) != "request" {
		t.Fatalf("server read %q", got)
	}
	if !server.gotFin {
		t.Fatal("server did not see the FIN")
	}
	waitUntil(t, "FIN-WAIT-2 / CLOSE-WAIT", time.Second, func() bool {
		s1, _ := connState(a.p, local, remote)
		s2, _ := connState(b.p, remote, local)
		return s1 == stateFinWait2 && s2 == stateCloseWait
	})
	// The half-closed client still receives.
	reply := pattern(200000, 5)
	go server.writeAll(reply, 2*time.Second)
	if got := client.mustRead(t, len(reply), 2*time.Second); !bytes.Equal(got, reply) {
		t.Fatalf("client read %d bytes, want %d", len(got), len(reply))
	}
	server.close(false)
	client.waitFor(func() bool { return client.gotFin }, 2*time.Second)
	if !client.gotFin {
		t.Fatal("client did not see the FIN")
	}
	waitUntil(t, "TIME-WAIT and CLOSED", time.Second, func() bool {
		s1, _ := connState(a.p, local, remote)
		s2, _ := connState(b.p, remote, local)
		return s1 == stateTimeWait && s2 == stateClosed
	})
	// A SYN for the same pair while TIME_WAIT lasts: Linux's client
	// reuses it.
	client2 := newFakeApp(1 << 16)
	if err := a.p.Connect(context.Background(), local, remote, client2); err != nil {
		t.Fatalf("Connect over TIME-WAIT: %v", err)
	}
	server2 := ln.next(t)
	client2.write([]byte("again"))
	if got := server2.mustRead(t, 5, time.Second); string(got) != "again" {
		t.Fatalf("second connection read %q", got)
	}
	client2.close(false)
	server2.close(false)
	waitUntil(t, "TIME-WAIT to end", 2*time.Second, func() bool {
		s1, _ := connState(a.p, local, remote)
		return s1 == stateClosed
	})
}

func TestServerTimeWaitReusedBySYN(t *testing.T) {
	ln := newTestListener(testPort, 1<<16)
	a, b := newPipe(t, nil, ln, nil)
	client, server, local, remote := dial(t, a, b, ln, 40008, 1<<16)
	server.close(false) // the server closes first: it keeps TIME-WAIT
	client.waitFor(func() bool { return client.gotFin }, time.Second)
	client.close(false)
	waitUntil(t, "server TIME-WAIT", time.Second, func() bool {
		s, _ := connState(b.p, remote, local)
		c, _ := connState(a.p, local, remote)
		return s == stateTimeWait && c == stateClosed
	})
	client2 := newFakeApp(1 << 16)
	if err := a.p.Connect(context.Background(), local, remote, client2); err != nil {
		t.Fatalf("Connect to a pair in TIME-WAIT: %v", err)
	}
	ln.next(t)
}

func TestZeroWindow(t *testing.T) {
	ln := newTestListener(testPort, 20000)
	a, b := newPipe(t, nil, ln, nil)
	client, server, local, remote := dial(t, a, b, ln, 40009, 1<<20)
	data := pattern(300000, 7)
	go client.writeAll(data, 10*time.Second)
	// The server does not read: its window closes and the client's
	// persist timer probes.
	waitUntil(t, "zero window", 2*time.Second, func() bool {
		_, c := connState(a.p, local, remote)
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sndWnd == 0 && c.persist
	})
	time.Sleep(150 * time.Millisecond)
	if n := server.Window(); n >= 128 {
		t.Fatalf("server window %d, more than the window scale's unit", n)
	}
	got := server.mustRead(t, len(data), 10*time.Second)
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, want %d intact", len(got), len(data))
	}
	_ = remote
}

func TestZeroWindowLostUpdate(t *testing.T) {
	// The window update after the reader drains is lost: the persist
	// probes must find the open window.
	ln := newTestListener(testPort, 20000)
	a, b := newPipe(t, nil, ln, nil)
	client, server, local, remote := dial(t, a, b, ln, 40010, 1<<20)
	client.write(pattern(60000, 8))
	waitUntil(t, "zero window", 2*time.Second, func() bool {
		_, c := connState(a.p, local, remote)
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sndWnd == 0 && c.persist
	})
	b.setDrop(func(s *segment) bool { return len(s.payload) == 0 && s.window > 0 })
	first := server.read(1 << 20)
	time.Sleep(50 * time.Millisecond)
	b.setDrop(nil)
	got := server.mustRead(t, 60000-len(first), 5*time.Second)
	if len(first)+len(got) != 60000 {
		t.Fatalf("read %d+%d bytes", len(first), len(got))
	}
}

func TestKeepalive(t *testing.T) {
	ln := newTestListener(testPort, 1<<16)
	a, b := newPipe(t, nil, ln, nil)
	client, _, _, _ := dial(t, a, b, ln, 40011, 1<<16)
	client.mu.Lock()
	client.kaIdle, client.kaIntvl, client.kaCount = 30*time.Millisecond, 10*time.Millisecond, 3
	client.mu.Unlock()
	client.q.Notify(0x1)
	// Answered probes keep the connection up.
	before := a.p.Stats().SegmentsOut
	time.Sleep(200 * time.Millisecond)
	if client.err != nil {
		t.Fatalf("connection failed while the peer answers: %v", client.err)
	}
	if n := a.p.Stats().SegmentsOut - before; n < 3 {
		t.Fatalf("%d keep-alive probes in 200ms with a 30ms idle time", n)
	}
	// A silent peer: the probes give up.
	b.setDrop(func(*segment) bool { return true })
	if !client.waitFor(func() bool { return client.err != nil }, 2*time.Second) || client.err != linux.ETIMEDOUT {
		t.Fatalf("error %v, want ETIMEDOUT", client.err)
	}
}

func TestRetransmissionsGiveUp(t *testing.T) {
	ln := newTestListener(testPort, 1<<16)
	a, b := newPipe(t, nil, ln, func(c *config) { c.retries = 4 })
	client, server, _, _ := dial(t, a, b, ln, 40012, 1<<16)
	a.setDrop(func(*segment) bool { return true })
	client.write([]byte("lost"))
	if !client.waitFor(func() bool { return client.err != nil }, 5*time.Second) || client.err != linux.ETIMEDOUT {
		t.Fatalf("error %v, want ETIMEDOUT", client.err)
	}
	_ = server
}

func TestResetOnCloseWithUnreadData(t *testing.T) {
	ln := newTestListener(testPort, 1<<16)
	a, b := newPipe(t, nil, ln, nil)
	client, server, _, _ := dial(t, a, b, ln, 40013, 1<<16)
	client.write([]byte("unread"))
	server.waitFor(func() bool { return len(server.in) == 6 }, time.Second)
	server.close(false)
	if !client.waitFor(func() bool { return client.err != nil }, 2*time.Second) || client.err != linux.ECONNRESET {
		t.Fatalf("client error %v, want ECONNRESET", client.err)
	}
}

func TestDataAfterCloseResets(t *testing.T) {
	ln := newTestListener(testPort, 1<<16)
	a, b := newPipe(t, nil, ln, nil)
	client, server, _, _ := dial(t, a, b, ln, 40014, 1<<16)
	server.close(false) // clean close: FIN
	client.waitFor(func() bool { return client.gotFin }, time.Second)
	client.write([]byte("too late"))
	if !client.waitFor(func() bool { return client.err != nil }, 2*time.Second) || client.err != linux.ECONNRESET {
		t.Fatalf("client error %v, want ECONNRESET", client.err)
	}
}

func TestRSTValidation(t *testing.T) {
	ln := newTestListener(testPort, 1<<16)
	a, b := newPipe(t, nil, ln, nil)
	client, _, local, remote := dial(t, a, b, ln, 40015, 1<<16)
	_, c := connState(a.p, local, remote)
	c.mu.Lock()
	nxt := c.rcvNxt
	c.mu.Unlock()
	// A RST in the window but not at rcvNxt draws a challenge ACK.
	rst := func(sq seq) []byte {
		o := options{wscale: -1}
		return buildSegment(remote, local, sq, 0, flagRST, 0, 0, &o, 0, nil)
	}
	a.p.HandlePacket(b.addr, a.addr, rst(nxt.add(100)))
	if st, _ := connState(a.p, local, remote); st != stateEstablished {
		t.Fatalf("an inexact RST moved the connection to %v", st)
	}
	a.p.HandlePacket(b.addr, a.addr, rst(nxt))
	if st, _ := connState(a.p, local, remote); st != stateClosed {
		t.Fatalf("an exact RST left the connection in %v", st)
	}
	if client.err != linux.ECONNRESET {
		t.Fatalf("client error %v", client.err)
	}
	// A bad checksum is dropped.
	b2 := rst(nxt)
	b2[16] ^= 0xff
	before := a.p.Stats().BadChecksums
	a.p.HandlePacket(b.addr, a.addr, b2)
	if a.p.Stats().BadChecksums != before+1 {
		t.Error("bad checksum not counted")
	}
}

func TestPacketTooBig(t *testing.T) {
	ln := newTestListener(testPort, 4<<20)
	a, b := newPipe(t, nil, ln, nil)
	client, server, local, remote := dial(t, a, b, ln, 40016, 4<<20)
	// Drop big segments, as a path with MTU 1000 would, and report it.
	a.setDrop(func(s *segment) bool {
		if len(s.payload) > 1000-52 {
			var q [8]byte
			q[0], q[1] = byte(local.Port()>>8), byte(local.Port())
			q[2], q[3] = byte(remote.Port()>>8), byte(remote.Port())
			sq := uint32(s.seq)
			q[4], q[5], q[6], q[7] = byte(sq>>24), byte(sq>>16), byte(sq>>8), byte(sq)
			go a.p.HandleControl(a.addr, b.addr, 3, 1000, q[:])
			return true
		}
		return false
	})
	data := pattern(500000, 9)
	client.mustWrite(t, data, 5*time.Second)
	if got := server.mustRead(t, len(data), 5*time.Second); !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes", len(got))
	}
	_, c := connState(a.p, local, remote)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mss != 960-12 {
		t.Errorf("mss %d after PMTU update", c.mss)
	}
}
