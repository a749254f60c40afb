// Package stack is the network layer of the sandbox's packet stack: one
// network interface over a tcpip.LinkEndpoint, with ARP and IPv6
// neighbor discovery, IPv4 and IPv6 input and output (fragmentation and
// reassembly included), routing, ICMP for both families, and UDP.
// Transport protocols (TCP) plug in through tcpip.TransportDispatcher
// and send through the tcpip.NetworkSender that *Stack implements.
//
// Receive processing runs on the link endpoint's goroutine, one batch
// of frames at a time, without per-packet goroutines; timers exist only
// per neighbor being resolved and per datagram being reassembled.
//
// Locking: configuration (addresses, routes, registered transports) is
// fixed once Start runs and read without locks. The neighbor cache,
// the reassembly table, the path MTU cache and the ICMP rate limiter
// each have their own mutex, and none is held while calling the link
// or a transport.
package stack

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// Route is one entry of the routing table.
type Route struct {
	Dst netip.Prefix
	// Gateway is the next hop; the invalid Addr means Dst is on-link.
	Gateway netip.Addr
}

// Config describes the interface a Stack runs.
type Config struct {
	Link tcpip.LinkEndpoint
	// Addrs are the interface's addresses with their prefix lengths;
	// each prefix is also an on-link route. The EUI-64 link-local
	// address derived from the link's MAC is always added.
	Addrs []netip.Prefix
	// Routes are the further routes (default routes included).
	Routes []Route
}

// Default protocol timing, as Linux's defaults.
const (
	defaultTTL            = 64
	defaultReachableTime  = 30 * time.Second // base_reachable_time
	defaultRetransTime    = time.Second      // retrans_time
	defaultSolicitations  = 3                // mcast_solicit / ucast_solicit
	defaultReassemblyTime = 30 * time.Second // ipfrag_time
	defaultFragMemory     = 4 << 20          // ipfrag_high_thresh
	defaultPMTUExpiry     = 10 * time.Minute // mtu_expires
	// maxNeighborQueue bounds the packets waiting for one neighbor.
	maxNeighborQueue = 64
)

// Stack is one network interface and the protocols above it.
type Stack struct {
	link tcpip.LinkEndpoint
	mac  tcpip.LinkAddress
	mtu  uint32

	// addrs are the interface addresses, the EUI-64 link-local one
	// included; routes is the routing table, longest prefix first.
	// Both are fixed by New.
	addrs  []netip.Prefix
	routes []routeEntry

	// transports is indexed by IP protocol number; written only
	// before Start.
	transports [256]tcpip.TransportDispatcher

	udpRecv  atomic.Pointer[UDPReceiver]
	udpCtl   atomic.Pointer[UDPControl]
	icmpRecv atomic.Pointer[ICMPReceiver]

	neigh  neighborCache
	frag   reassembler
	pmtu   pmtuCache
	icmpRL rateLimiter

	ipv4ID     atomic.Uint32
	ipv6FragID atomic.Uint32

	stats *Stats

	// Timing knobs; tests shorten them before Start.
	reachableTime  time.Duration
	retransTime    time.Duration
	solicitations  int
	reassemblyTime time.Duration

	started atomic.Bool
	closed  atomic.Bool
}

// UDPReceiver takes a datagram for local from remote, with its IP
// header's TTL (hop limit) and TOS (traffic class); false means no
// socket wants it, and the stack answers with ICMP port unreachable.
type UDPReceiver func(local, remote netip.AddrPort, payload []byte, ttl, tos uint8) bool

// UDPControl takes an ICMP error (or a neighbor resolution failure)
// about a datagram sent from local to remote.
type UDPControl func(local, remote netip.AddrPort, kind tcpip.ControlKind, mtu uint32)

// New builds a stack on cfg; nothing moves until Start.
func New(cfg Config) (*Stack, error) {
	if cfg.Link == nil {
		return nil, errors.New("stack: no link endpoint")
	}
	mtu := cfg.Link.MTU()
	if mtu < 68 {
		return nil, fmt.Errorf("stack: link MTU %d is too small", mtu)
	}
	s := &Stack{
		link:           cfg.Link,
		mac:            cfg.Link.LinkAddress(),
		mtu:            mtu,
		stats:          new(Stats),
		reachableTime:  defaultReachableTime,
		retransTime:    defaultRetransTime,
		solicitations:  defaultSolicitations,
		reassemblyTime: defaultReassemblyTime,
	}
	s.neigh.m = make(map[netip.Addr]*neighbor)
	s.frag.init(defaultFragMemory)
	s.pmtu.m = make(map[netip.Addr]pmtuEntry)
	s.icmpRL.init(1000, 50, time.Now())
	s.ipv4ID.Store(rand.Uint32())
	s.ipv6FragID.Store(rand.Uint32())

	seen := map[netip.Addr]bool{}
	for _, p := range cfg.Addrs {
		a := p.Addr()
		if !p.IsValid() || a.Zone() != "" || a.Is4In6() || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() {
			return nil, fmt.Errorf("stack: bad interface address %v", p)
		}
		if !seen[a] {
			seen[a] = true
			s.addrs = append(s.addrs, p)
		}
	}
	ll := header.LinkLocalEUI64(s.mac)
	if !seen[ll] {
		s.addrs = append(s.addrs, netip.PrefixFrom(ll, 64))
	}
	if err := s.buildRoutes(cfg.Routes); err != nil {
		return nil, err
	}
	return s, nil
}

// RegisterTransport makes d receive packets of IP protocol proto and
// the ICMP errors about packets it sent. Call it before Start. ICMP is
// the stack's own; UDP is too, through SetUDPReceiver.
func (s *Stack) RegisterTransport(proto uint8, d tcpip.TransportDispatcher) {
	if s.started.Load() {
		panic("stack: RegisterTransport after Start")
	}
	switch proto {
	case tcpip.ProtocolICMPv4, tcpip.ProtocolICMPv6, tcpip.ProtocolUDP:
		panic(fmt.Sprintf("stack: protocol %d is handled by the stack", proto))
	}
	s.transports[proto] = d
}

// SetUDPReceiver installs the function that takes every UDP datagram
// addressed to the stack; it runs on the link's receive goroutine and
// payload is only valid during the call. It may be called at any time.
func (s *Stack) SetUDPReceiver(f func(local, remote netip.AddrPort, payload []byte, ttl, tos uint8) bool) {
	if f == nil {
		s.udpRecv.Store(nil)
		return
	}
	r := UDPReceiver(f)
	s.udpRecv.Store(&r)
}

// SetUDPControl installs the function that takes ICMP errors about
// datagrams SendUDP sent (for ECONNREFUSED and friends on connected
// UDP sockets). It may be called at any time.
func (s *Stack) SetUDPControl(f func(local, remote netip.AddrPort, kind tcpip.ControlKind, mtu uint32)) {
	if f == nil {
		s.udpCtl.Store(nil)
		return
	}
	c := UDPControl(f)
	s.udpCtl.Store(&c)
}

// Start attaches the stack to its link, which starts delivering frames.
func (s *Stack) Start() {
	if s.started.Swap(true) {
		return
	}
	s.link.Attach(s)
}

// Close closes the link and cancels the stack's timers; queued packets
// are dropped.
func (s *Stack) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.link.Close()
	s.neigh.closeAll()
	s.frag.closeAll()
}

// Stats returns a snapshot of the counters.
func (s *Stack) Stats() Stats { return s.stats.snapshot() }

// LinkAddress returns the interface's MAC address.
func (s *Stack) LinkAddress() tcpip.LinkAddress { return s.mac }

// Addresses returns the interface's addresses, the EUI-64 link-local
// address included.
func (s *Stack) Addresses() []netip.Prefix { return append([]netip.Prefix(nil), s.addrs...) }

// DeliverFrames implements tcpip.FrameDispatcher.
func (s *Stack) DeliverFrames(frames [][]byte) {
	if s.closed.Load() {
		return
	}
	st := s.stats
	for _, f := range frames {
		inc(&st.FramesIn)
		add(&st.BytesIn, len(f))
		if len(f) < header.EthernetSize {
			inc(&st.FramesDropped)
			continue
		}
		eth := header.Ethernet(f)
		if d := eth.Dst(); d != s.mac && !header.IsMulticastMAC(d) {
			inc(&st.FramesDropped)
			continue
		}
		switch eth.Type() {
		case header.EtherTypeIPv4:
			s.receiveIPv4(eth, eth.Payload())
		case header.EtherTypeIPv6:
			s.receiveIPv6(eth, eth.Payload())
		case header.EtherTypeARP:
			s.receiveARP(eth.Payload())
		default:
			inc(&st.FramesDropped)
		}
	}
}

// isOurs reports whether a is one of the interface's unicast
// addresses.
func (s *Stack) isOurs(a netip.Addr) bool {
	for _, p := range s.addrs {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// isBroadcast4 reports whether a is the limited broadcast address or
// the directed broadcast address of one of our IPv4 subnets.
func (s *Stack) isBroadcast4(a netip.Addr) bool {
	if a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	for _, p := range s.addrs {
		if p.Addr().Is4() && p.Bits() < 31 && p.Contains(a) && lastAddr(p) == a {
			return true
		}
	}
	return false
}

// lastAddr is the highest address of p (its broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// acceptsMulticast6 reports whether a is a group the interface is in:
// all-nodes and the solicited-node group of each of its addresses.
func (s *Stack) acceptsMulticast6(a netip.Addr) bool {
	if a == header.IPv6AllNodes {
		return true
	}
	if !header.IsSolicitedNodeMulticast(a) {
		return false
	}
	g := a.As16()
	for _, p := range s.addrs {
		if b := p.Addr().As16(); p.Addr().Is6() && b[13] == g[13] && b[14] == g[14] && b[15] == g[15] {
			return true
		}
	}
	return false
}
