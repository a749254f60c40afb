package netstack

import (
	"encoding/binary"
	"net/netip"
	"time"

	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// The receive side of a UDP socket's ancillary data: the options that
// ask for control messages (socket(7)'s timestamps, ip(7)'s IP_PKTINFO,
// IP_RECVTTL and IP_RECVTOS, ipv6(7)'s IPV6_RECVPKTINFO,
// IPV6_RECVHOPLIMIT and IPV6_RECVTCLASS) and the messages recvmsg then
// returns, in the order udp_recvmsg and udpv6_recvmsg add them.

// Option names and control message types beyond abi.go's and
// icmp_opts.go's.
const (
	soTimestampNS    = 35 // SO_TIMESTAMPNS_OLD, also SCM_TIMESTAMPNS
	soTimestampNew   = 63 // SO_TIMESTAMP_NEW
	soTimestampNSNew = 64 // SO_TIMESTAMPNS_NEW

	ipPktInfo = 8  // IP_PKTINFO, also its control message
	ipRecvTOS = 13 // IP_RECVTOS; its control message is IP_TOS

	ipv62292PktInfo  = 2
	ipv6RecvPktInfo  = 49
	ipv6PktInfo      = 50 // IPV6_PKTINFO, the control message
	ipv6DontFrag     = 62
	ipv6RecvTClass   = 66
	sizeofInPktinfo  = 12 // struct in_pktinfo
	sizeofIn6Pktinfo = 20 // struct in6_pktinfo
)

// rxOpts are the options that ask for control messages on received
// datagrams. They are guarded by the owning endpoint's mu.
type rxOpts struct {
	// timestamp is SO_TIMESTAMP or SO_TIMESTAMPNS (tsNS); tsNew says
	// the option was set by its _NEW name, whose control message type
	// is that name too. Setting any of them replaces the others, as
	// sock_set_timestamp does.
	timestamp, tsNS, tsNew bool
	// IPPROTO_IP: IP_PKTINFO, IP_RECVTTL, IP_RECVTOS; on an AF_INET6
	// socket they apply to IPv4 datagrams.
	pktInfo, recvTTL, recvTOS bool
	// IPPROTO_IPV6: IPV6_RECVPKTINFO (also for IPv4 datagrams on an
	// AF_INET6 socket), IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS.
	pktInfo6, hopLimit, tclass bool
}

// arrival is what the network layer knew of a received datagram, which
// the control messages report.
type arrival struct {
	// dst is the IP header's destination (4-byte form for IPv4).
	dst netip.Addr
	// specDst is IPv4's ipi_spec_dst: the local address a reply would
	// come from.
	specDst netip.Addr
	// ifindex is the interface it came in on.
	ifindex int32
	// ttl is the TTL or hop limit, tos the TOS or traffic class.
	ttl, tos uint8
	// at is when it arrived, if the socket asked for timestamps then;
	// otherwise the receive takes the time, as Linux stamps a packet
	// late when timestamps were turned on after it arrived.
	at time.Time
}

// ipOptInt decodes an int IPPROTO_IP option as do_ip_setsockopt does:
// an int if there is room for one, else the one byte given, else 0.
func ipOptInt(val []byte) int32 {
	switch {
	case len(val) >= 4:
		return int32(binary.LittleEndian.Uint32(val))
	case len(val) >= 1:
		return int32(val[0])
	}
	return 0
}

// getSocket answers the timestamp options; ok is false for others.
func (o *rxOpts) getSocket(name int) (v []byte, ok bool) {
	switch name {
	case soTimestamp:
		return socket.Int32Bytes(socket.BoolInt(o.timestamp && !o.tsNS && !o.tsNew)), true
	case soTimestampNS:
		return socket.Int32Bytes(socket.BoolInt(o.tsNS && !o.tsNew)), true
	case soTimestampNew:
		// sk_getsockopt does not exclude nanoseconds here.
		return socket.Int32Bytes(socket.BoolInt(o.timestamp && o.tsNew)), true
	case soTimestampNSNew:
		return socket.Int32Bytes(socket.BoolInt(o.tsNS && o.tsNew)), true
	}
	return nil, false
}

// setSocket sets the timestamp options; ok is false for others.
func (o *rxOpts) setSocket(name int, val []byte) (ok bool, err error) {
	switch name {
	case soTimestamp, soTimestampNS, soTimestampNew, soTimestampNSNew:
	default:
		return false, nil
	}
	v, err := socket.IntOpt(val)
	if err != nil {
		return true, err
	}
	o.tsNew = name == soTimestampNew || name == soTimestampNSNew
	o.timestamp = v != 0
	o.tsNS = v != 0 && (name == soTimestampNS || name == soTimestampNSNew)
	return true, nil
}

// getIP answers the IPPROTO_IP and IPPROTO_IPV6 receive options of a
// socket of family; ok is false for others.
func (o *rxOpts) getIP(family, level, name int) (v []byte, ok bool) {
	var b bool
	switch {
	case level == ipprotoIP && name == ipPktInfo:
		b = o.pktInfo
	case level == ipprotoIP && name == ipRecvTTL:
		b = o.recvTTL
	case level == ipprotoIP && name == ipRecvTOS:
		b = o.recvTOS
	case level == ipprotoIPv6 && family == socket.AF_INET6 && name == ipv6RecvPktInfo:
		b = o.pktInfo6
	case level == ipprotoIPv6 && family == socket.AF_INET6 && name == ipv6RecvHopLimit:
		b = o.hopLimit
	case level == ipprotoIPv6 && family == socket.AF_INET6 && name == ipv6RecvTClass:
		b = o.tclass
	default:
		return nil, false
	}
	return socket.Int32Bytes(socket.BoolInt(b)), true
}

// setIP sets the IPPROTO_IP and IPPROTO_IPV6 receive options of a socket
// of family; ok is false for others. IPv4's take a short value (or
// none, which is 0), IPv6's need an int.
func (o *rxOpts) setIP(family, level, name int, val []byte) (ok bool, err error) {
	var p *bool
	switch {
	case level == ipprotoIP && name == ipPktInfo:
		p = &o.pktInfo
	case level == ipprotoIP && name == ipRecvTTL:
		p = &o.recvTTL
	case level == ipprotoIP && name == ipRecvTOS:
		p = &o.recvTOS
	case level == ipprotoIPv6 && family == socket.AF_INET6 && name == ipv6RecvPktInfo:
		p = &o.pktInfo6
	case level == ipprotoIPv6 && family == socket.AF_INET6 && name == ipv6RecvHopLimit:
		p = &o.hopLimit
	case level == ipprotoIPv6 && family == socket.AF_INET6 && name == ipv6RecvTClass:
		p = &o.tclass
	default:
		return false, nil
	}
	if level == ipprotoIP {
		*p = ipOptInt(val) != 0
		return true, nil
	}
	v, err := socket.IntOpt(val)
	if err != nil {
		return true, err
	}
	*p = v != 0
	return true, nil
}

// control lays out the control messages a receive of a datagram that
// arrived as a says, for a socket of family: the timestamp first
// (sock_recv_cmsgs), then IPV6_PKTINFO (ip6_datagram_recv_common_ctl,
// for IPv4 datagrams too), then for an IPv4 datagram IP_PKTINFO, IP_TTL
// and IP_TOS (ip_cmsg_recv_offset) and for an IPv6 one IPV6_HOPLIMIT and
// IPV6_TCLASS (ip6_datagram_recv_specific_ctl).
func (o *rxOpts) control(family int, a *arrival) []byte {
	var b []byte
	if o.timestamp {
		at := a.at
		if at.IsZero() {
			at = time.Now()
		}
		switch {
		case o.tsNS && o.tsNew:
			b = socket.AppendCmsg(b, socket.SOL_SOCKET, soTimestampNSNew, timespecAt(at))
		case o.tsNS:
			b = socket.AppendCmsg(b, socket.SOL_SOCKET, soTimestampNS, timespecAt(at))
		case o.tsNew:
			b = socket.AppendCmsg(b, socket.SOL_SOCKET, soTimestampNew, timevalAt(at))
		default:
			b = socket.AppendCmsg(b, socket.SOL_SOCKET, soTimestamp, timevalAt(at))
		}
	}
	v4 := a.dst.Is4()
	if family == socket.AF_INET6 && o.pktInfo6 {
		p := make([]byte, sizeofIn6Pktinfo)
		d := a.dst.As16() // an IPv4 destination becomes ::ffff:a.b.c.d
		copy(p, d[:])
		binary.LittleEndian.PutUint32(p[16:], uint32(a.ifindex))
		b = socket.AppendCmsg(b, ipprotoIPv6, ipv6PktInfo, p)
	}
	if v4 {
		if o.pktInfo {
			p := make([]byte, sizeofInPktinfo)
			binary.LittleEndian.PutUint32(p, uint32(a.ifindex))
			if a.specDst.Is4() {
				s := a.specDst.As4()
				copy(p[4:], s[:])
			}
			d := a.dst.As4()
			copy(p[8:], d[:])
			b = socket.AppendCmsg(b, ipprotoIP, ipPktInfo, p)
		}
		if o.recvTTL {
			b = socket.AppendCmsg(b, ipprotoIP, ipTTLCmsg, socket.Int32Bytes(int32(a.ttl)))
		}
		if o.recvTOS {
			b = socket.AppendCmsg(b, ipprotoIP, ipTOS, []byte{a.tos})
		}
		return b
	}
	if o.hopLimit {
		b = socket.AppendCmsg(b, ipprotoIPv6, ipv6HopLimitCmsg, socket.Int32Bytes(int32(a.ttl)))
	}
	if o.tclass {
		b = socket.AppendCmsg(b, ipprotoIPv6, ipv6TClass, socket.Int32Bytes(int32(a.tos)))
	}
	return b
}

// timespecAt is t as a struct timespec.
func timespecAt(t time.Time) []byte {
	ts := make([]byte, 16)
	binary.LittleEndian.PutUint64(ts, uint64(t.Unix()))
	binary.LittleEndian.PutUint64(ts[8:], uint64(t.Nanosecond()))
	return ts
}

// arrivalAt describes a datagram from src to dst, one of the sandbox's
// addresses, as the receiving socket sees it: the interface is oif if
// the sender chose one (ip_route_output keeps it as the route's input
// interface), else the one that holds dst (lo for 127.0.0.0/8 and ::1);
// ipi_spec_dst is dst itself, or for a broadcast the address the route
// back to src prefers (fib_compute_spec_dst).
func (s *Stack) arrivalAt(dst, src netip.Addr, oif int32, ttl, tos uint8) arrival {
	a := arrival{dst: dst, ttl: ttl, tos: tos, ifindex: oif}
	r := s.localRoute(dst)
	if a.ifindex == 0 && r != nil {
		a.ifindex = r.OIF
	}
	if dst.Is4() {
		a.specDst = dst
		if r == nil || r.Type != RTN_LOCAL {
			if back, _, err := s.sourceFor(src); err == nil {
				a.specDst = back
			}
		}
	}
	return a
}

// localRoute is the most specific local-table route that covers a (the
// address of one of the sandbox's interfaces, or a broadcast address),
// or nil.
func (s *Stack) localRoute(a netip.Addr) *Route {
	var best *Route
	for i := range s.routes {
		r := &s.routes[i]
		if r.Table == RT_TABLE_LOCAL && r.Dst.Contains(a) && (best == nil || r.Dst.Bits() > best.Dst.Bits()) {
			best = r
		}
	}
	return best
}

// interfaceByIndex returns the interface with index i, or nil.
func (s *Stack) interfaceByIndex(i int32) *Interface {
	for j := range s.ifaces {
		if s.ifaces[j].Index == i {
			return &s.ifaces[j]
		}
	}
	return nil
}
