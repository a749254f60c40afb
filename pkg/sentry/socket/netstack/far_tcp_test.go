package netstack

import (
	"bytes"
	"context"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/tcpip/tcp"
	"appkernel.dev/appkernel/pkg/waiter"
)

var _ tcp.App = (*FarEnd)(nil)

// testFar returns a connection whose side 1 is a FarEnd, with the
// socket's queue.
func testFar(limit int) (*FarEnd, *waiter.Queue) {
	sock := &waiter.Queue{}
	far := &FarEnd{}
	far.c = newConn(sock, &far.Queue, limit, limit)
	far.c.side[farSide].inline = true
	return far, sock
}

func sockSend(t *testing.T, f *FarEnd, b []byte) {
	t.Helper()
	if n, err := f.c.send(context.Background(), 1-farSide, vfs.BytesIOSequence(b), 0, true, noDeadline); err != nil || int(n) != len(b) {
		t.Fatalf("socket send: %d, %v", n, err)
	}
}

// TestFarEndPeekConsume checks that the stack sees what the socket
// sent at any offset until it consumes it, and that consuming frees the
// socket's send buffer.
func TestFarEndPeekConsume(t *testing.T) {
	f, _ := testFar(100000)
	var events int
	e := waiter.Entry{}
	e.Init(waiter.FuncListener(func(waiter.EventMask) { events++ }), waiter.AllEvents)
	f.EventRegister(&e)

	data := make([]byte, 90000)
	for i := range data {
		data[i] = byte(i * 13)
	}
	sockSend(t, f, data)
	if events == 0 {
		t.Fatal("the stack was not notified of the send")
	}
	pending, fin, closed, aborted := f.Status()
	if pending != len(data) || fin || closed || aborted {
		t.Fatalf("Status %d %v %v %v", pending, fin, closed, aborted)
	}
	buf := make([]byte, 70000)
	if n := f.Peek(1000, buf); n != 70000 || !bytes.Equal(buf, data[1000:71000]) {
		t.Fatalf("Peek at 1000: %d bytes", n)
	}
	if n := f.Peek(89000, buf); n != 1000 || !bytes.Equal(buf[:n], data[89000:]) {
		t.Fatalf("Peek at the tail: %d bytes", n)
	}
	// The send buffer is full until the stack consumes.
	if n, err := f.c.send(context.Background(), 1-farSide, vfs.BytesIOSequence(make([]byte, 20000)), 0, true, noDeadline); n != 10000 || err != nil {
		t.Fatalf("send into a nearly full buffer: %d, %v", n, err)
	}
	f.Consume(60000)
	if pending, _, _, _ := f.Status(); pending != 40000 {
		t.Fatalf("pending %d after Consume", pending)
	}
	if n := f.Peek(0, buf[:10]); n != 10 || !bytes.Equal(buf[:10], data[60000:60010]) {
		t.Fatal("Peek after Consume")
	}
	f.c.mu.Lock()
	f.c.shutdownLocked(1-farSide, false, true)
	f.c.mu.Unlock()
	if _, fin, _, _ := f.Status(); !fin {
		t.Fatal("shutdown(SHUT_WR) not reported")
	}
}

// TestFarEndFail checks the errors the socket sees.
func TestFarEndFail(t *testing.T) {
	for _, tc := range []struct {
		err, want error
	}{
		{linux.ECONNRESET, linux.ECONNRESET},
		{linux.ETIMEDOUT, linux.ETIMEDOUT},
	} {
		f, sock := testFar(1000)
		ch := make(chan struct{}, 1)
		e := waiter.Entry{}
		e.Init(waiter.FuncListener(func(waiter.EventMask) { ch <- struct{}{} }), waiter.AllEvents)
		sock.EventRegister(&e)
		f.Fail(tc.err)
		select {
		case <-ch:
		case <-time.After(time.Second):
			t.Fatal("socket not notified")
		}
		buf := make([]byte, 10)
		if _, err := f.c.recv(context.Background(), 1-farSide, vfs.BytesIOSequence(buf), 0, true, noDeadline, 1); err != tc.want {
			t.Errorf("Fail(%v): socket read %v", tc.err, err)
		}
		if _, _, _, aborted := f.Status(); !aborted {
			t.Error("Status does not report the reset")
		}
	}
}

// TestFarEndCloseWithUnread checks that the socket's close with unread
// data reads as an abort, and a clean close as closed.
func TestFarEndCloseWithUnread(t *testing.T) {
	f, _ := testFar(1000)
	if n := f.Write([]byte("unread")); n != 6 {
		t.Fatalf("Write %d", n)
	}
	f.c.mu.Lock()
	f.c.closeLocked(1-farSide, false)
	f.c.mu.Unlock()
	if _, _, closed, aborted := f.Status(); !closed || !aborted {
		t.Fatalf("closed %v aborted %v, want both", closed, aborted)
	}
	f, _ = testFar(1000)
	f.c.mu.Lock()
	f.c.closeLocked(1-farSide, false)
	f.c.mu.Unlock()
	if _, fin, closed, aborted := f.Status(); !closed || aborted || !fin {
		t.Fatalf("clean close: fin %v closed %v aborted %v", fin, closed, aborted)
	}
	// Data for the closed socket resets.
	f.Write([]byte("late"))
	if _, _, _, aborted := f.Status(); !aborted {
		t.Fatal("data after close did not reset")
	}
}

func TestFarEndKeepalive(t *testing.T) {
	f, _ := testFar(1000)
	if idle, _, _ := f.Keepalive(); idle != 0 {
		t.Fatal("keep-alive on by default")
	}
	f.SetKeepalive(true, 2*time.Hour, 75*time.Second, 9)
	if idle, intvl, cnt := f.Keepalive(); idle != 2*time.Hour || intvl != 75*time.Second || cnt != 9 {
		t.Fatalf("Keepalive %v %v %d", idle, intvl, cnt)
	}
}
