package netstack

import (
	"net/netip"

	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/waiter"
)

// Release implements vfs.FileDescriptionImpl: a listener resets the
// connections it never handed out; a connection ends with a FIN, or a
// reset if unread data is left or SO_LINGER is on with a zero timeout.
// The port is given back at once (there is no TIME_WAIT).
func (e *tcpEndpoint) Release(context.Context) {
	e.file.Store(nil)
	e.mu.Lock()
	var refuse []*tcpEndpoint
	var c *conn
	switch e.state {
	case tcpListening:
		refuse = e.stopListeningLocked()
	case tcpSynSent:
		e.leaveSynQLocked()
	case tcpConnected:
		c = e.c
		c.mu.Lock()
		c.closeLocked(e.side, e.opts.Linger && e.opts.LingerSecs == 0)
		c.mu.Unlock()
	}
	e.state = tcpInit
	if e.bind != nil {
		e.stack.release(true, e.local.Port(), e.bind)
		e.bind = nil
	}
	e.mu.Unlock()
	e.refuseAll(refuse)
	if c != nil {
		c.notifyBoth()
	}
}

// Shutdown implements socket.Socket.
func (e *tcpEndpoint) Shutdown(how int) error {
	if how < socket.SHUT_RD || how > socket.SHUT_RDWR {
		return linux.EINVAL
	}
	rd := how != socket.SHUT_WR
	wr := how != socket.SHUT_RD
	e.mu.Lock()
	switch e.state {
	case tcpListening:
		// inet_shutdown closes a listener for SHUT_RD and ignores
		// SHUT_WR.
		if !rd {
			e.mu.Unlock()
			return nil
		}
		refuse := e.stopListeningLocked()
		e.mu.Unlock()
		e.refuseAll(refuse)
		e.queue.Notify(waiter.AllEvents)
		return nil
	case tcpConnected:
		c := e.c
		c.mu.Lock()
		c.shutdownLocked(e.side, rd, wr)
		c.mu.Unlock()
		e.mu.Unlock()
		c.notifyBoth()
		return nil
	}
	e.rdShut = e.rdShut || rd
	e.wrShut = e.wrShut || wr
	e.mu.Unlock()
	e.queue.Notify(waiter.AllEvents)
	return linux.ENOTCONN
}

// SockName implements socket.Socket.
func (e *tcpEndpoint) SockName() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.bind == nil && e.state != tcpConnected {
		return formatSockaddr(e.family, netip.AddrPortFrom(anyAddr(e.family), 0))
	}
	return formatSockaddr(e.family, e.local)
}

// PeerName implements socket.Socket.
func (e *tcpEndpoint) PeerName() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != tcpConnected {
		return nil, linux.ENOTCONN
	}
	c := e.c
	c.mu.Lock()
	gone := c.side[e.side].reset
	c.mu.Unlock()
	if gone {
		return nil, linux.ENOTCONN
	}
	return formatSockaddr(e.family, e.remote), nil
}

// Readiness implements waiter.Waitable, after tcp_poll.
func (e *tcpEndpoint) Readiness(mask waiter.EventMask) waiter.EventMask {
	e.mu.Lock()
	var r waiter.EventMask
	switch e.state {
	case tcpListening:
		if len(e.acceptQ) > 0 {
			r = waiter.ReadableEvents
		}
	case tcpSynSent:
	case tcpConnected:
		c, s, lowat := e.c, e.side, int(e.opts.RcvLowat)
		e.mu.Unlock()
		c.mu.Lock()
		r = c.readinessLocked(s, lowat)
		c.mu.Unlock()
		return r & (mask | waiter.EventErr | waiter.EventHUp)
	default:
		// A socket that is not connected is "hung up"; one whose
		// connect failed also has both directions shut down.
		r = waiter.EventHUp | waiter.WritableEvents
		if e.failed || e.rdShut {
			r |= waiter.ReadableEvents | waiter.EventRdHUp
		}
		if e.err != nil {
			r |= waiter.EventErr
		}
	}
	e.mu.Unlock()
	return r & (mask | waiter.EventErr | waiter.EventHUp)
}

// EventRegister implements waiter.Waitable.
func (e *tcpEndpoint) EventRegister(w *waiter.Entry) error {
	e.queue.EventRegister(w)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (e *tcpEndpoint) EventUnregister(w *waiter.Entry) { e.queue.EventUnregister(w) }

var _ socket.Socket = (*tcpEndpoint)(nil)
