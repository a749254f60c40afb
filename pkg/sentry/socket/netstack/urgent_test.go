package netstack

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/tcpip/tcp"
	"appkernel.dev/appkernel/pkg/waiter"
)

// urgConn is a loopback connection whose side 1 counts its SIGURGs.
func urgConn(t *testing.T, limit int) (*conn, *atomic.Int32) {
	t.Helper()
	c := testConn(limit)
	var sigs atomic.Int32
	c.side[1].sigurg = func() { sigs.Add(1) }
	return c, &sigs
}

func mustSend(t *testing.T, c *conn, s int, b string, flags int) {
	t.Helper()
	if n, err := c.send(context.Background(), s, vfs.BytesIOSequence([]byte(b)), flags, true, noDeadline); n != int64(len(b)) || err != nil {
		t.Fatalf("send %q: %d, %v", b, n, err)
	}
}

// recvStr reads without waiting; peek adds MSG_PEEK.
func recvStr(c *conn, s int, flags int) (string, error) {
	buf := make([]byte, 64)
	n, err := c.recv(context.Background(), s, vfs.BytesIOSequence(buf), flags, true, noDeadline, 1)
	return string(buf[:n]), err
}

// recvOOB is recv(MSG_OOB) into a one-byte buffer.
func recvOOB(c *conn, s int, flags int) (byte, int, error) {
	var b [1]byte
	n, mflags, err := c.recvUrgent(context.Background(), s, vfs.BytesIOSequence(b[:]), flags)
	if n != 1 {
		return 0, mflags, err
	}
	return b[0], mflags, err
}

func wantRead(t *testing.T, c *conn, s int, flags int, want string) {
	t.Helper()
	if got, err := recvStr(c, s, flags); got != want || err != nil {
		t.Fatalf("read (flags %#x) = %q, %v; want %q", flags, got, err, want)
	}
}

func wantOOB(t *testing.T, c *conn, s int, flags int, want byte) {
	t.Helper()
	if b, mflags, err := recvOOB(c, s, flags); b != want || err != nil || mflags != socket.MSG_OOB {
		t.Fatalf("recv MSG_OOB (flags %#x) = %q, %#x, %v; want %q", flags, b, mflags, err, want)
	}
}

func wantOOBErr(t *testing.T, c *conn, s int, want error) {
	t.Helper()
	if b, _, err := recvOOB(c, s, 0); err != want {
		t.Fatalf("recv MSG_OOB = %q, %v; want %v", b, err, want)
	}
}

func atMark(c *conn, s int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.side[s].atMarkLocked()
}

func readiness(c *conn, s int) waiter.EventMask {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readinessLocked(s, 1)
}

// TestUrgentByte checks the out-of-band byte and the mark: reads stop
// before it and step over it, and it is taken once.
func TestUrgentByte(t *testing.T) {
	c, sigs := urgConn(t, 100)
	wantOOBErr(t, c, 1, linux.EINVAL)
	mustSend(t, c, 0, "abc", socket.MSG_OOB)
	mustSend(t, c, 0, "xyz", 0)
	if sigs.Load() != 1 {
		t.Errorf("%d SIGURGs, want 1", sigs.Load())
	}
	if r := readiness(c, 1); r&waiter.EventPri == 0 || r&waiter.EventIn == 0 {
		t.Errorf("readiness %#x, want POLLIN and POLLPRI", r)
	}
	c.mu.Lock()
	inq := c.side[1].inqLocked()
	c.mu.Unlock()
	if inq != 2 {
		t.Errorf("SIOCINQ %d, want the 2 bytes before the urgent one", inq)
	}
	wantOOB(t, c, 1, socket.MSG_PEEK, 'c')
	wantRead(t, c, 1, socket.MSG_PEEK, "ab")
	wantRead(t, c, 1, 0, "ab")
	if !atMark(c, 1) {
		t.Fatal("not at the mark after reading up to it")
	}
	// Past the mark, a peek steps over the byte and leaves it.
	wantRead(t, c, 1, socket.MSG_PEEK, "xyz")
	wantOOB(t, c, 1, 0, 'c')
	wantOOBErr(t, c, 1, linux.EINVAL)
	if r := readiness(c, 1); r&waiter.EventPri != 0 {
		t.Errorf("readiness %#x after taking the byte", r)
	}
	wantRead(t, c, 1, 0, "xyz")
	if atMark(c, 1) {
		t.Fatal("at the mark after reading past it")
	}
	// A zero-length urgent send marks nothing.
	if n, err := c.send(context.Background(), 0, vfs.BytesIOSequence(nil), socket.MSG_OOB, true, noDeadline); n != 0 || err != nil {
		t.Fatalf("empty urgent send: %d, %v", n, err)
	}
	wantOOBErr(t, c, 1, linux.EINVAL)
	if sigs.Load() != 1 {
		t.Errorf("%d SIGURGs, want 1", sigs.Load())
	}
}

// TestUrgentLostWhenPassed checks that reading past an urgent byte not
// taken loses it, and that the byte alone does not make the side
// readable.
func TestUrgentLostWhenPassed(t *testing.T) {
	c, _ := urgConn(t, 100)
	mustSend(t, c, 0, "Z", socket.MSG_OOB)
	if r := readiness(c, 1); r&waiter.EventIn != 0 || r&waiter.EventPri == 0 {
		t.Errorf("readiness %#x with only the urgent byte queued", r)
	}
	if got, err := recvStr(c, 1, 0); err != linux.EAGAIN {
		t.Fatalf("read = %q, %v; want EAGAIN", got, err)
	}
	wantOOBErr(t, c, 1, linux.EINVAL)
}

// TestUrgentReplaced checks that a newer urgent byte makes the older one
// normal data, or drops it when the reader is at it.
func TestUrgentReplaced(t *testing.T) {
	c, sigs := urgConn(t, 100)
	mustSend(t, c, 0, "xA", socket.MSG_OOB)
	mustSend(t, c, 0, "B", socket.MSG_OOB)
	wantOOB(t, c, 1, 0, 'B')
	wantRead(t, c, 1, 0, "xA")
	if got, err := recvStr(c, 1, 0); err != linux.EAGAIN {
		t.Fatalf("read = %q, %v; want EAGAIN", got, err)
	}
	if sigs.Load() != 2 {
		t.Errorf("%d SIGURGs, want 2", sigs.Load())
	}

	c, _ = urgConn(t, 100)
	mustSend(t, c, 0, "A", socket.MSG_OOB)
	mustSend(t, c, 0, "B", socket.MSG_OOB)
	wantOOB(t, c, 1, 0, 'B')
	if got, err := recvStr(c, 1, 0); err != linux.EAGAIN {
		t.Fatalf("read = %q, %v; want EAGAIN (A dropped, B taken)", got, err)
	}
}

// TestUrgentInline checks SO_OOBINLINE: the byte stays in the stream,
// the mark still stops reads.
func TestUrgentInline(t *testing.T) {
	c, _ := urgConn(t, 100)
	c.side[1].inline = true
	mustSend(t, c, 0, "abc", socket.MSG_OOB)
	mustSend(t, c, 0, "xyz", 0)
	wantOOBErr(t, c, 1, linux.EINVAL)
	if r := readiness(c, 1); r&waiter.EventPri == 0 {
		t.Errorf("readiness %#x: no POLLPRI with the mark ahead", r)
	}
	wantRead(t, c, 1, 0, "ab")
	if !atMark(c, 1) {
		t.Fatal("not at the mark")
	}
	wantRead(t, c, 1, 0, "cxyz")
	if r := readiness(c, 1); r&waiter.EventPri != 0 {
		t.Errorf("readiness %#x past the mark", r)
	}
}

// TestUrgentErrors checks recv(MSG_OOB) after the peer's FIN and reset.
func TestUrgentErrors(t *testing.T) {
	c, _ := urgConn(t, 100)
	mustSend(t, c, 0, "abc", socket.MSG_OOB)
	c.mu.Lock()
	c.closeLocked(0, false)
	c.mu.Unlock()
	wantOOB(t, c, 1, 0, 'c')

	c, _ = urgConn(t, 100)
	mustSend(t, c, 0, "abc", socket.MSG_OOB)
	c.mu.Lock()
	c.closeLocked(0, true)
	c.mu.Unlock()
	wantOOBErr(t, c, 1, linux.ENOTCONN)
	wantRead(t, c, 1, 0, "ab")
	if _, err := recvStr(c, 1, 0); err != linux.ECONNRESET {
		t.Fatalf("read after the mark: %v, want ECONNRESET", err)
	}
	wantOOBErr(t, c, 1, linux.EINVAL)
}

// waitUrg waits for side s's urgent state.
func waitUrg(t *testing.T, c *conn, s int, want urgState) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		st := c.side[s].urg.state
		c.mu.Unlock()
		if st == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("urgent state %d, want %d", st, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestUrgentAhead checks an urgent send that waits for room: the
// receiver learns of the pointer first (recv MSG_OOB is EAGAIN), its
// reads do not stop before the data is there, and the send's last byte
// is the urgent byte.
func TestUrgentAhead(t *testing.T) {
	c, sigs := urgConn(t, 8)
	src := []byte("0123456789abcdefghiU")
	done := make(chan error, 1)
	go func() {
		n, err := c.send(context.Background(), 0, vfs.BytesIOSequence(src), socket.MSG_OOB, false, noDeadline)
		if err == nil && n != int64(len(src)) {
			err = linux.EIO
		}
		done <- err
	}()
	waitUrg(t, c, 1, urgNotYet)
	if sigs.Load() != 1 {
		t.Errorf("%d SIGURGs, want 1", sigs.Load())
	}
	wantOOBErr(t, c, 1, linux.EAGAIN)
	if r := readiness(c, 1); r&waiter.EventPri != 0 {
		t.Errorf("readiness %#x before the byte", r)
	}
	var got []byte
	buf := make([]byte, 64)
	for !atMark(c, 1) {
		n, err := c.recv(context.Background(), 1, vfs.BytesIOSequence(buf), 0, false, noDeadline, 1)
		if err != nil || n == 0 {
			t.Fatalf("recv: %d, %v", n, err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != string(src[:len(src)-1]) {
		t.Fatalf("read %q up to the mark", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("send: %v", err)
	}
	wantOOB(t, c, 1, 0, 'U')
	if sigs.Load() != 1 {
		t.Errorf("%d SIGURGs, want 1", sigs.Load())
	}
}

// TestUrgentCutShort checks urgent sends that end early: the last byte
// sent is urgent; none sent, nothing is.
func TestUrgentCutShort(t *testing.T) {
	c, _ := urgConn(t, 8)
	dl := time.Now().Add(20 * time.Millisecond)
	n, err := c.send(context.Background(), 0, vfs.BytesIOSequence([]byte("0123456789")), socket.MSG_OOB, false, dl)
	if n != 8 || err != nil {
		t.Fatalf("send into 8 bytes of room: %d, %v", n, err)
	}
	wantOOB(t, c, 1, 0, '7')
	wantRead(t, c, 1, 0, "0123456")

	c, _ = urgConn(t, 8)
	mustSend(t, c, 0, "01234567", 0)
	dl = time.Now().Add(20 * time.Millisecond)
	if n, err := c.send(context.Background(), 0, vfs.BytesIOSequence([]byte("x")), socket.MSG_OOB, false, dl); n != 0 || err != linux.EAGAIN {
		t.Fatalf("send into a full queue: %d, %v; want EAGAIN", n, err)
	}
	wantOOBErr(t, c, 1, linux.EINVAL)

	// Non-blocking: the last byte that fits.
	c, _ = urgConn(t, 8)
	if n, err := c.send(context.Background(), 0, vfs.BytesIOSequence([]byte("0123456789")), socket.MSG_OOB, true, noDeadline); n != 8 || err != nil {
		t.Fatalf("non-blocking send: %d, %v", n, err)
	}
	wantOOB(t, c, 1, 0, '7')
}

// TestUrgentOverTCP checks urgent data between two sockets whose
// connection goes through two tcp.Protocols: the URG flag and pointer
// carry it, both ways.
func TestUrgentOverTCP(t *testing.T) {
	a := &farNet{addr: netip.MustParseAddr("10.1.0.1"), ch: make(chan [3][]byte, 4096)}
	b := &farNet{addr: netip.MustParseAddr("10.1.0.2"), ch: make(chan [3][]byte, 4096)}
	a.peer, b.peer = b, a
	ln := &farListener{accepted: make(chan *FarEnd, 1)}
	a.p, b.p = tcp.New(a, nil), tcp.New(b, ln)
	quit := make(chan struct{})
	defer close(quit)
	go a.run(quit)
	go b.run(quit)

	client, _ := newFarConn(&waiter.Queue{}, 1<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.p.Connect(ctx, netip.AddrPortFrom(a.addr, 33334), netip.AddrPortFrom(b.addr, 80), client); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	server := <-ln.accepted
	const sock = 1 - farSide
	for _, dir := range []struct {
		name     string
		from, to *conn
	}{{"client to server", client.c, server.c}, {"server to client", server.c, client.c}} {
		var sigs atomic.Int32
		dir.to.side[sock].sigurg = func() { sigs.Add(1) }
		mustSend(t, dir.from, sock, "hello!", socket.MSG_OOB)
		waitUrg(t, dir.to, sock, urgValid)
		if sigs.Load() != 1 {
			t.Errorf("%s: %d SIGURGs, want 1", dir.name, sigs.Load())
		}
		wantOOB(t, dir.to, sock, 0, '!')
		wantRead(t, dir.to, sock, 0, "hello")
		mustSend(t, dir.from, sock, "more", 0)
		buf := make([]byte, 8)
		n, err := dir.to.recv(ctx, sock, vfs.BytesIOSequence(buf), 0, false, noDeadline, 4)
		if string(buf[:n]) != "more" || err != nil {
			t.Fatalf("%s: read %q, %v", dir.name, buf[:n], err)
		}
		if sigs.Load() != 1 {
			t.Errorf("%s: %d SIGURGs after normal data, want 1", dir.name, sigs.Load())
		}
	}
}
