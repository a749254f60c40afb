package netstack

import (
	"net/netip"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// binding is one socket's hold on a port: the address it is bound to
// (unspecified for "any") and which IP versions it takes traffic for.
type binding struct {
	addr   netip.Addr
	v4, v6 bool
	// reuseAddr and reusePort are SO_REUSEADDR and SO_REUSEPORT at the
	// time of binding; listening marks a TCP listener. All are guarded
	// by Stack.mu once the binding is in a table.
	reuseAddr, reusePort bool
	listening            bool
	// peer is a connected UDP socket's peer, the only source it takes
	// datagrams from (hasPeer); guarded by Stack.mu.
	peer    netip.AddrPort
	hasPeer bool
	// owner is the *tcpEndpoint or *udpEndpoint holding the port.
	owner any
}

// portTable maps a port to the sockets bound to it.
type portTable map[uint16][]*binding

// overlaps reports whether a and b would receive some of the same
// traffic: a common IP version and the same address, or a wildcard.
func (a *binding) overlaps(b *binding) bool {
	if !(a.v4 && b.v4 || a.v6 && b.v6) {
		return false
	}
	return a.addr.IsUnspecified() || b.addr.IsUnspecified() || a.addr == b.addr
}

// conflicts is Linux's inet_csk_bind_conflict and udp_lib_lport_inuse:
// a new binding may not overlap an existing one (old) unless both set
// SO_REUSEPORT, or both set SO_REUSEADDR and, for TCP, old is not
// listening.
func (a *binding) conflicts(old *binding, tcp bool) bool {
	if !a.overlaps(old) {
		return false
	}
	if a.reusePort && old.reusePort {
		return false
	}
	if a.reuseAddr && old.reuseAddr && (!tcp || !old.listening) {
		return false
	}
	return true
}

// inUse reports whether b may not take port in t.
func (t portTable) inUse(port uint16, b *binding, tcp bool) bool {
	for _, o := range t[port] {
		if o != b && b.conflicts(o, tcp) {
			return true
		}
	}
	return false
}

func (t portTable) remove(port uint16, b *binding) {
	l := t[port]
	for i, o := range l {
		if o == b {
			l = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(t, port)
	} else {
		t[port] = l
	}
}

// table returns the port table of a protocol.
func (s *Stack) table(tcp bool) portTable {
	if tcp {
		return s.tcp
	}
	return s.udp
}

// reserve binds b to port, choosing an ephemeral port for 0. errFull is
// what running out of ephemeral ports returns: EADDRINUSE for bind,
// EADDRNOTAVAIL for the implicit bind of connect and send.
func (s *Stack) reserve(tcp bool, port uint16, b *binding, errFull error) (uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.table(tcp)
	if port != 0 {
		if t.inUse(port, b, tcp) {
			return 0, linux.EADDRINUSE
		}
		t[port] = append(t[port], b)
		return port, nil
	}
	// Prefer a port nobody holds, then any port b may share.
	n := ephemeralLast - ephemeralFirst + 1
	start := randomEphemeral() - ephemeralFirst
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < n; i++ {
			p := uint16(ephemeralFirst + (start+i)%n)
			if pass == 0 && len(t[p]) != 0 || pass == 1 && t.inUse(p, b, tcp) {
				continue
			}
			t[p] = append(t[p], b)
			return p, nil
		}
	}
	return 0, errFull
}

// release gives up b's hold on port.
func (s *Stack) release(tcp bool, port uint16, b *binding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.table(tcp).remove(port, b)
}

// setListening marks a TCP binding as a listener, failing with
// EADDRINUSE if that makes it conflict (two SO_REUSEADDR sockets on one
// port may not both listen).
func (s *Stack) setListening(port uint16, b *binding) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b.listening = true
	if s.tcp.inUse(port, b, true) {
		b.listening = false
		return linux.EADDRINUSE
	}
	return nil
}

// matches reports whether b takes traffic for dst (a local address in
// 4-byte form for IPv4), and how specifically: 2 for its own address,
// 1 for a wildcard, 0 for no match.
func (b *binding) matches(dst netip.Addr) int {
	if dst.Is4() && !b.v4 || !dst.Is4() && !b.v6 {
		return 0
	}
	if b.addr.IsUnspecified() {
		return 1
	}
	if b.addr == dst {
		return 2
	}
	return 0
}

// lookupListener returns the TCP listener for connections to dst, or
// nil: a listener bound to dst's address wins over a wildcard one.
func (s *Stack) lookupListener(dst netip.AddrPort) *tcpEndpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *binding
	score := 0
	for _, b := range s.tcp[dst.Port()] {
		if !b.listening {
			continue
		}
		if m := b.matches(dst.Addr()); m > score {
			best, score = b, m
		}
	}
	if best == nil {
		return nil
	}
	return best.owner.(*tcpEndpoint)
}

// setPeer records a UDP socket's connected peer for lookups.
func (s *Stack) setPeer(b *binding, peer netip.AddrPort, has bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b.peer, b.hasPeer = peer, has
}

// setReuse updates a binding's SO_REUSEADDR and SO_REUSEPORT, which
// Linux reads from the socket whenever it checks for conflicts.
func (s *Stack) setReuse(b *binding, o *sockOpts) {
	if b == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b.reuseAddr, b.reusePort = o.ReuseAddr, o.ReusePort
}
