package netstack

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Ephemeral ports, as net.ipv4.ip_local_port_range defaults to.
const (
	ephemeralFirst = 32768
	ephemeralLast  = 60999
)

// External carries traffic to destinations outside the sandbox. A
// packet-level TCP/IP stack implements it; the endpoints call it only
// for addresses that are not the sandbox's own, and keep handling
// loopback traffic themselves.
type External interface {
	// Route returns the source address for dst, or ENETUNREACH.
	Route(dst netip.Addr) (netip.Addr, error)
	// ConnectTCP opens a connection from local to remote. The stack
	// moves the connection's bytes through far; it returns once the
	// connection is established or has failed (ECONNREFUSED,
	// ETIMEDOUT, ...).
	ConnectTCP(ctx context.Context, local, remote netip.AddrPort, far *FarEnd) error
	// SendUDP sends one datagram.
	SendUDP(local, remote netip.AddrPort, payload []byte) error
}

// Stack is one sandbox's network: its interfaces and routes, and the
// ports its TCP and UDP sockets hold.
type Stack struct {
	ifaces []Interface
	routes []Route
	// External, if set, reaches non-local destinations; set it before
	// the first socket is made.
	External External

	// mu guards the port tables.
	mu  sync.Mutex
	tcp portTable
	udp portTable

	// icmpTab holds the ICMP sockets (icmp_input.go); it has its own
	// lock.
	icmpTab *icmpTable
}

// NewStack returns a stack with the loopback interface only, which is
// all --network=none and the loopback part of --network=sandbox have.
func NewStack() *Stack {
	return &Stack{
		ifaces:  []Interface{loopbackInterface()},
		routes:  loopbackRoutes(),
		tcp:     portTable{},
		udp:     portTable{},
		icmpTab: newICMPTable(),
	}
}

// Interfaces returns the interface table; callers must not modify it.
func (s *Stack) Interfaces() []Interface { return s.ifaces }

// Routes returns the routing table; callers must not modify it.
func (s *Stack) Routes() []Route { return s.routes }

// interfaceByName returns the named interface, or nil.
func (s *Stack) interfaceByName(name string) *Interface {
	for i := range s.ifaces {
		if s.ifaces[i].Name == name {
			return &s.ifaces[i]
		}
	}
	return nil
}

// isLocal reports whether a (4-byte form for IPv4) is one of the
// sandbox's own addresses, which the loopback path delivers: everything
// a local-table route of type RTN_LOCAL covers.
func (s *Stack) isLocal(a netip.Addr) bool {
	for _, r := range s.routes {
		if r.Type == RTN_LOCAL && r.Dst.Contains(a) {
			return true
		}
	}
	return false
}

// localDestination maps the unspecified destination to the loopback
// address, as Linux does for connect and sendto (0.0.0.0 and :: mean
// "this host").
func localDestination(a netip.Addr) netip.Addr {
	if a.IsUnspecified() {
		if a.Is4() {
			return netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		return netip.IPv6Loopback()
	}
	return a
}

// sourceFor picks the source address of traffic to dst: the preferred
// source of the local route, the destination itself for ::1, or what
// the external stack says.
func (s *Stack) sourceFor(dst netip.Addr) (netip.Addr, bool, error) {
	if s.isLocal(dst) {
		for _, r := range s.routes {
			if r.Type == RTN_LOCAL && r.Dst.Contains(dst) && r.PrefSrc.IsValid() {
				return r.PrefSrc, true, nil
			}
		}
		return dst, true, nil
	}
	if s.External != nil {
		src, err := s.External.Route(dst)
		return src, false, err
	}
	return netip.Addr{}, false, linux.ENETUNREACH
}

// canBind reports whether a socket may bind address a: the unspecified
// address or one of the sandbox's own (EADDRNOTAVAIL otherwise).
func (s *Stack) canBind(a netip.Addr) bool {
	if a.IsUnspecified() || s.isLocal(a) {
		return true
	}
	for _, ifc := range s.ifaces {
		for _, ia := range ifc.Addrs {
			if ia.Prefix.Addr() == a {
				return true
			}
		}
	}
	return false
}

// randomEphemeral returns where a search for a free ephemeral port
// starts, so that ports are hard to predict, as on Linux.
func randomEphemeral() int {
	return ephemeralFirst + rand.IntN(ephemeralLast-ephemeralFirst+1)
}
