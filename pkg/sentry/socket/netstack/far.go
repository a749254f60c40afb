package netstack

import (
	"context"

	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// FarEnd is the remote side of a TCP connection that leaves the
// sandbox, as the External stack drives it: it takes the bytes the
// sandbox's socket sends and delivers the bytes the network brings,
// through the same queues a loopback peer uses.
type FarEnd struct {
	c *conn
	// Queue is notified when the socket sends, reads (making window) or
	// shuts down, for the stack to react.
	Queue waiter.Queue
	// ka is the keep-alive configuration (far_tcp.go).
	ka keepalive
}

// farSide is the conn side of the remote end.
const farSide = 1

// newFarConn makes the connection of a socket (its waiter queue q and
// receive window limit) with a remote end outside the sandbox. The far
// side reads everything inline: its queue is TCP's send buffer, urgent
// byte included.
func newFarConn(q *waiter.Queue, limit int) (*FarEnd, *conn) {
	far := &FarEnd{}
	c := newConn(q, &far.Queue, limit, tcpAutoWindow)
	c.side[farSide].inline = true
	far.c = c
	return far, c
}

// Read takes up to len(p) bytes the sandbox's socket sent. A stack uses
// either Read or Peek and Consume (far_tcp.go), not both.
func (f *FarEnd) Read(p []byte) int {
	n, _ := f.c.recv(context.Background(), farSide, vfs.BytesIOSequence(p), 0, true, noDeadline, 1)
	return int(n)
}

// Write delivers bytes from the network to the socket and returns how
// many fit in its receive window.
func (f *FarEnd) Write(p []byte) int {
	n, _ := f.c.send(context.Background(), farSide, vfs.BytesIOSequence(p), 0, true, noDeadline)
	return int(n)
}

// Window is how many more bytes the socket's receive queue takes.
func (f *FarEnd) Window() int {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	s := &f.c.side[1-farSide]
	return max(s.limit-s.rq.n, 0)
}

// CloseWrite is the remote's FIN. Only the socket is notified: the
// stack that calls this knows already.
func (f *FarEnd) CloseWrite() {
	f.c.mu.Lock()
	f.c.shutdownLocked(farSide, false, true)
	f.c.mu.Unlock()
	f.c.side[1-farSide].queue.Notify(waiter.AllEvents)
}

// Reset is the remote's RST.
func (f *FarEnd) Reset() {
	f.c.mu.Lock()
	f.c.resetLocked(farSide)
	f.c.side[farSide].closed = true
	f.c.mu.Unlock()
	f.c.notifyBoth()
}
