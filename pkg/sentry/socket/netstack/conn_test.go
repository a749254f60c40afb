package netstack

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

func testConn(limit int) *conn {
	return newConn(&waiter.Queue{}, &waiter.Queue{}, limit, limit)
}

// TestConnStream sends a pattern through a connection with a small
// window, in random-sized writes and reads on two goroutines, and checks
// every byte arrives once and in order.
func TestConnStream(t *testing.T) {
	c := testConn(10000)
	const total = 3 << 20
	src := make([]byte, total)
	for i := range src {
		src[i] = byte(i * 7)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		r := rand.New(rand.NewPCG(1, 2))
		for off := 0; off < total; {
			n := min(1+r.IntN(70000), total-off)
			k, err := c.send(ctx, 0, vfs.BytesIOSequence(src[off:off+n]), 0, false, noDeadline)
			if err != nil {
				done <- err
				return
			}
			off += int(k)
		}
		c.mu.Lock()
		c.shutdownLocked(0, false, true)
		c.mu.Unlock()
		c.notifyBoth()
		done <- nil
	}()
	r := rand.New(rand.NewPCG(3, 4))
	var got []byte
	buf := make([]byte, 100000)
	for {
		n, err := c.recv(ctx, 1, vfs.BytesIOSequence(buf[:1+r.IntN(len(buf)-1)]), 0, false, noDeadline, 1)
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	if err := <-done; err != nil {
		t.Fatalf("send: %v", err)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("received %d bytes, differing from the %d sent", len(got), len(src))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if q := &c.side[1].rq; q.n != 0 || len(q.chunks) != 0 {
		t.Errorf("queue not empty after reading everything: n=%d chunks=%d", q.n, len(q.chunks))
	}
}

func TestConnPeekAndFlowControl(t *testing.T) {
	c := testConn(8)
	ctx := context.Background()
	n, err := c.send(ctx, 0, vfs.BytesIOSequence([]byte("0123456789")), 0, true, noDeadline)
	if n != 8 || err != nil {
		t.Fatalf("non-blocking send into an 8-byte window = %d, %v; want 8", n, err)
	}
	if _, err := c.send(ctx, 0, vfs.BytesIOSequence([]byte("x")), 0, true, noDeadline); err != linux.EAGAIN {
		t.Fatalf("send into a full window: %v, want EAGAIN", err)
	}
	buf := make([]byte, 4)
	if n, _ := c.recv(ctx, 1, vfs.BytesIOSequence(buf), socket.MSG_PEEK, true, noDeadline, 1); n != 4 || string(buf) != "0123" {
		t.Fatalf("peek = %d %q", n, buf[:n])
	}
	if n, _ := c.recv(ctx, 1, vfs.BytesIOSequence(buf), 0, true, noDeadline, 1); n != 4 || string(buf) != "0123" {
		t.Fatalf("read = %d %q", n, buf[:n])
	}
	c.mu.Lock()
	w := c.writableLocked(0)
	c.mu.Unlock()
	if !w {
		t.Errorf("half the window free, yet the sender is not writable")
	}
}

func TestConnCloseAndReset(t *testing.T) {
	ctx := context.Background()
	// A close with unread data resets the peer.
	c := testConn(100)
	c.send(ctx, 0, vfs.BytesIOSequence([]byte("abc")), 0, true, noDeadline)
	c.mu.Lock()
	c.closeLocked(1, false)
	c.mu.Unlock()
	buf := make([]byte, 8)
	if _, err := c.recv(ctx, 0, vfs.BytesIOSequence(buf), 0, true, noDeadline, 1); err != linux.ECONNRESET {
		t.Fatalf("recv after reset: %v, want ECONNRESET", err)
	}
	if n, err := c.recv(ctx, 0, vfs.BytesIOSequence(buf), 0, true, noDeadline, 1); n != 0 || err != nil {
		t.Fatalf("second recv after reset = %d, %v; want end of file", n, err)
	}
	if _, err := c.send(ctx, 0, vfs.BytesIOSequence([]byte("x")), 0, true, noDeadline); err != linux.EPIPE {
		t.Fatalf("send after reset: %v, want EPIPE", err)
	}
	// A clean close: EOF, then the first send is taken and answered by
	// a reset (EPIPE, as the FIN came first).
	c = testConn(100)
	c.mu.Lock()
	c.closeLocked(1, false)
	c.mu.Unlock()
	if n, err := c.recv(ctx, 0, vfs.BytesIOSequence(buf), 0, true, noDeadline, 1); n != 0 || err != nil {
		t.Fatalf("recv after close = %d, %v; want end of file", n, err)
	}
	if n, err := c.send(ctx, 0, vfs.BytesIOSequence([]byte("x")), 0, true, noDeadline); n != 1 || err != nil {
		t.Fatalf("first send to a closed peer = %d, %v; want 1", n, err)
	}
	if _, err := c.send(ctx, 0, vfs.BytesIOSequence([]byte("x")), 0, true, noDeadline); err != linux.EPIPE {
		t.Fatalf("second send to a closed peer: %v, want EPIPE", err)
	}
}
