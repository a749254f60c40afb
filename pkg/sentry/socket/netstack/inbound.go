package netstack

import (
	"bytes"
	"net/netip"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/waiter"
)

// This file is the packet stack's way in: connections and datagrams
// that arrive from outside the sandbox reach the same listeners and
// bound sockets that the loopback path serves. Addresses are in 4-byte
// form for IPv4.

// Listening reports whether a TCP socket listens for connections to
// local: the packet stack answers a SYN with a RST when it does not.
func (s *Stack) Listening(local netip.AddrPort) bool {
	l := s.lookupListener(unmapPort(local))
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state == tcpListening
}

// Accept hands a connection from remote to local, whose handshake the
// packet stack has completed, to the socket listening on local: it is
// queued for accept(2) like a loopback connection, and the returned
// FarEnd carries its bytes. It fails with ECONNREFUSED when nobody
// listens (any more), and with EAGAIN when the accept queue is full
// (Linux then drops the handshake's last ACK and the client retries).
func (s *Stack) Accept(local, remote netip.AddrPort) (*FarEnd, error) {
	local, remote = unmapPort(local), unmapPort(remote)
	l := s.lookupListener(local)
	if l == nil {
		return nil, linux.ECONNREFUSED
	}
	l.mu.Lock()
	if l.state != tcpListening {
		l.mu.Unlock()
		return nil, linux.ECONNREFUSED
	}
	if l.acceptFullLocked() {
		l.mu.Unlock()
		return nil, linux.EAGAIN
	}
	srv := newTCP(l.stack, l.vfsObj, l.family)
	srv.opts = l.opts
	srv.state = tcpConnected
	srv.local, srv.remote = local, remote
	srv.bind = &binding{addr: local.Addr(), v4: local.Addr().Is4(), v6: !local.Addr().Is4(), reuseAddr: l.opts.ReuseAddr, reusePort: l.opts.ReusePort, owner: srv}
	s.mu.Lock()
	s.tcp[local.Port()] = append(s.tcp[local.Port()], srv.bind)
	s.mu.Unlock()

	far, c := newFarConn(&srv.queue, srv.opts.window())
	c.side[1-farSide].urgentOwnerLocked(srv)
	srv.c, srv.side, srv.far = c, 1-farSide, far
	// An accepted socket inherits the listener's keep-alive options.
	srv.pushKeepaliveLocked()
	l.acceptQ = append(l.acceptQ, srv)
	l.mu.Unlock()
	l.queue.Notify(waiter.ReadableEvents)
	return far, nil
}

// DeliverUDP queues a datagram from remote on the socket bound to local
// (the most specific one, as for loopback traffic); ttl and tos are its
// IP header's TTL (hop limit) and TOS (traffic class), which control
// messages report. It returns false when no socket takes it, for the
// packet stack to answer with an ICMP port unreachable. payload is
// copied.
func (s *Stack) DeliverUDP(local, remote netip.AddrPort, payload []byte, ttl, tos uint8) bool {
	local, remote = unmapPort(local), unmapPort(remote)
	r := s.lookupUDP(local, remote)
	if r == nil {
		return false
	}
	r.deliver(datagram{from: remote, data: bytes.Clone(payload), at: s.arrivalAt(local.Addr(), remote.Addr(), 0, ttl, tos)})
	return true
}

// UDPUnreachable reports an ICMP port (or host) unreachable about a
// datagram sent from local to remote: a UDP socket connected to remote
// gets err (ECONNREFUSED, EHOSTUNREACH) as its pending error, as Linux
// reports it to connected sockets only (without IP_RECVERR). It returns
// whether a socket took the error.
func (s *Stack) UDPUnreachable(local, remote netip.AddrPort, err error) bool {
	local, remote = unmapPort(local), unmapPort(remote)
	s.mu.Lock()
	var e *udpEndpoint
	for _, b := range s.udp[local.Port()] {
		if b.hasPeer && b.peer == remote && b.matches(local.Addr()) != 0 {
			e = b.owner.(*udpEndpoint)
			break
		}
	}
	s.mu.Unlock()
	if e == nil {
		return false
	}
	e.rmu.Lock()
	e.err = err
	e.rmu.Unlock()
	e.queue.Notify(waiter.EventErr)
	return true
}

// unmapPort puts an IPv4 address in 4-byte form.
func unmapPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
