package tcp

import (
	"net/netip"
	"time"

	"appkernel.dev/appkernel/pkg/waiter"
)

// App is the application side of one connection: for the sandbox, the
// far end (*netstack.FarEnd) of a socket's byte stream. TCP reads what
// the application wrote straight out of the application's send queue,
// so that queue is both the retransmission buffer and the socket's send
// buffer (SO_SNDBUF backpressure), and writes what arrives in order
// straight into the application's receive queue.
//
// TCP calls every method with its connection's lock held. Methods must
// not block, and must not call back into the Protocol; the entry given
// to EventRegister is notified from any goroutine and is safe to call
// with the application's own locks held (it never blocks).
type App interface {
	// Status reports the application's send side: pending is how many
	// bytes it has written that TCP has not consumed (the stream from
	// the oldest unacknowledged byte on); finished means it shut down
	// writing, so the stream ends after those bytes (TCP sends FIN);
	// closed means the socket is gone (data arriving from now on is
	// answered with a RST, as Linux does for an orphaned socket);
	// aborted means the application reset the connection (close with
	// unread data, SO_LINGER 0, connect(AF_UNSPEC)): TCP sends RST.
	Status() (pending int, finished, closed, aborted bool)
	// Peek copies the bytes at offset off of the pending stream into p
	// and returns how many it copied.
	Peek(off int, p []byte) int
	// Consume drops the first n pending bytes: the peer acknowledged
	// them.
	Consume(n int)
	// Write delivers bytes received in order and returns how many the
	// application took (at most Window).
	Write(p []byte) int
	// Window is how many more received bytes the application takes.
	Window() int
	// CloseWrite is the peer's FIN: the application reads end of file
	// after what it has.
	CloseWrite()
	// Fail ends the connection with err, which the application's next
	// call reports: ECONNRESET for a RST, ETIMEDOUT when
	// retransmissions or keep-alive probes go unanswered.
	Fail(err error)
	// Keepalive returns the keep-alive settings (SO_KEEPALIVE,
	// TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT): idle 0 turns probing
	// off. TCP reads them whenever it (re)arms the keep-alive timer and
	// whenever the application's queue is notified, so an application
	// changing them notifies its queue.
	Keepalive() (idle, interval time.Duration, count int)
	// SendUrgent returns the application's urgent pointer (a send with
	// MSG_OOB): up is the offset, in the pending stream, just past the
	// urgent byte (the byte may be beyond the pending bytes, still to
	// be written); ok is false when there is none or the peer
	// acknowledged it. TCP reads it with Status.
	SendUrgent() (up int, ok bool)
	// RecvUrgent is the peer's urgent pointer: the urgent byte is off
	// (>= 0) bytes after the next byte Write delivers. A pointer at
	// bytes delivered already is a repeat, which TCP does not pass on.
	RecvUrgent(off int)
	// EventRegister registers e on the queue the application notifies
	// when it writes, reads (opening the receive window), shuts down,
	// closes, or changes keep-alive settings.
	EventRegister(e *waiter.Entry)
}

// Listener is what the protocol asks about connections that arrive.
type Listener interface {
	// Listening reports whether a socket listens on local; a SYN to a
	// port nobody listens on is answered with RST.
	Listening(local netip.AddrPort) bool
	// Accept hands over a connection whose handshake completed. An
	// EAGAIN error (accept queue full) drops the final ACK, so the
	// peer's retransmission retries, as Linux does; any other error
	// resets the connection.
	Accept(local, remote netip.AddrPort) (App, error)
}
