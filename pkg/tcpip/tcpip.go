// Package tcpip holds the contracts between the layers of the sandbox's
// packet-level TCP/IP stack, which carries --network=sandbox traffic to
// and from destinations outside the sandbox:
//
//   - a link endpoint (link/packet: an AF_PACKET socket on the veth the
//     engine created) moves Ethernet frames;
//   - the network layer (stack: Ethernet, ARP, IPv4, IPv6 with neighbor
//     discovery, ICMP, fragmentation and reassembly, routing, UDP) turns
//     frames into transport packets and back;
//   - transport protocols (tcp) run above the network layer through
//     NetworkSender and TransportDispatcher.
//
// Traffic between two sockets of the sandbox never reaches this stack:
// pkg/sentry/socket/netstack delivers it on its loopback fast path.
// Errors crossing these interfaces are Linux errno values
// (pkg/abi/linux.Errno).
package tcpip

import "net/netip"

// IP protocol numbers carried in the IPv4 protocol and IPv6 next-header
// fields.
const (
	ProtocolICMPv4 = 1
	ProtocolTCP    = 6
	ProtocolUDP    = 17
	ProtocolICMPv6 = 58
)

// LinkAddress is an Ethernet (MAC) address.
type LinkAddress [6]byte

// LinkEndpoint moves Ethernet frames between the stack and the network.
type LinkEndpoint interface {
	// MTU is the largest IP packet (without the Ethernet header) the
	// link carries.
	MTU() uint32
	// LinkAddress is the endpoint's own MAC address.
	LinkAddress() LinkAddress
	// WriteFrames sends whole Ethernet frames, in order. The endpoint
	// does not keep the slices after it returns.
	WriteFrames(frames [][]byte) error
	// Attach starts delivering received frames to d, from the
	// endpoint's own goroutine. Each batch is only valid during the
	// DeliverFrames call.
	Attach(d FrameDispatcher)
	// Close stops delivery and releases the endpoint.
	Close()
}

// FrameDispatcher receives the frames a LinkEndpoint reads.
type FrameDispatcher interface {
	DeliverFrames(frames [][]byte)
}

// NetworkSender is how a transport protocol sends packets.
type NetworkSender interface {
	// Route returns the source address the stack uses for dst and the
	// path MTU towards it, or ENETUNREACH (EHOSTUNREACH when a
	// neighbor cannot be resolved is reported asynchronously, through
	// TransportDispatcher.HandleControl).
	Route(dst netip.Addr) (src netip.Addr, mtu uint32, err error)
	// SendTransport wraps payload (the transport header and data, with
	// the transport checksum already filled in) in an IP header for
	// proto and sends it, resolving the next hop's link address first
	// if needed. TCP keeps its segments within the MTU; anything larger
	// is fragmented.
	SendTransport(src, dst netip.Addr, proto uint8, payload []byte) error
}

// ControlKind is the meaning of an ICMP error that quotes a packet a
// transport protocol sent.
type ControlKind int

// ICMP errors the network layer passes up.
const (
	// ControlPortUnreachable is ICMP port unreachable (ECONNREFUSED).
	ControlPortUnreachable ControlKind = iota + 1
	// ControlHostUnreachable covers host, net and admin unreachable,
	// and neighbor resolution failures (EHOSTUNREACH/ENETUNREACH).
	ControlHostUnreachable
	// ControlPacketTooBig carries a new path MTU in HandleControl's mtu.
	ControlPacketTooBig
	// ControlTimeExceeded is a TTL or reassembly timeout.
	ControlTimeExceeded
)

// TransportDispatcher is a transport protocol as the network layer sees
// it: one is registered per IP protocol number.
type TransportDispatcher interface {
	// HandlePacket is called with a transport packet (header and
	// payload) addressed to one of the stack's addresses, after the IP
	// header has been checked and removed. payload is only valid
	// during the call; the transport checksum is not yet verified.
	HandlePacket(src, dst netip.Addr, payload []byte)
	// HandleControl reports an ICMP error about a packet this protocol
	// sent from local to remote; quoted is the start of the transport
	// header of that packet, as the ICMP message quoted it.
	HandleControl(local, remote netip.Addr, kind ControlKind, mtu uint32, quoted []byte)
}
