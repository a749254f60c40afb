package netstack

import (
	"encoding/binary"
	"net/netip"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// The send side of a datagram socket's ancillary data: sendmsg's
// IPPROTO_IP and IPPROTO_IPV6 control messages, which override the
// socket's TTL (hop limit), TOS (traffic class), source address and
// outgoing interface for one datagram.

// sendCtl is what sendmsg's control messages change for one datagram.
type sendCtl struct {
	// ttl is the TTL or hop limit and tos the TOS or traffic class;
	// -1 leaves the socket's.
	ttl, tos int32
	// oif is the interface the datagram is to leave by; 0: the
	// route's.
	oif int32
	// setSrc says IP_PKTINFO's ipi_spec_dst or IPV6_PKTINFO's address
	// chose the source, src. For IPv4 an unspecified src (even on a
	// bound socket) is the route's choice; IPv6 ignores ::.
	setSrc bool
	src    netip.Addr
}

// parseSendControl decodes sendmsg's control messages for a datagram of
// a socket of family to an IPv4 (v4) or IPv6 destination, with Linux's
// checks and errors: ip_cmsg_send for IPv4 (IP_PKTINFO, IP_TTL, IP_TOS;
// an AF_INET6 socket sending to a v4-mapped address also takes
// IPV6_PKTINFO with a mapped address there) and ip6_datagram_send_ctl
// for IPv6 (IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS, IPV6_DONTFRAG and
// the RFC 2292 names). Other types at the level in use are EINVAL;
// messages at other levels are skipped. udp says udp_cmsg_send looks at
// IPPROTO_UDP messages first: UDP_SEGMENT is not supported, so they are
// all EINVAL.
func (s *Stack) parseSendControl(family int, v4, udp bool, msgs []socket.ControlMessage) (sendCtl, error) {
	c := sendCtl{ttl: -1, tos: -1}
	if udp {
		for _, m := range msgs {
			if m.Level == ipprotoUDP {
				return c, linux.EINVAL
			}
		}
	}
	for _, m := range msgs {
		var err error
		if v4 {
			err = c.parse4(family, m)
		} else {
			err = s.parse6(&c, m)
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// cmsgInt is a message's int value; ok is false unless the data is
// exactly an int.
func cmsgInt(m socket.ControlMessage) (int32, bool) {
	if len(m.Data) != 4 {
		return 0, false
	}
	return int32(binary.LittleEndian.Uint32(m.Data)), true
}

// parse4 is one message of ip_cmsg_send.
func (c *sendCtl) parse4(family int, m socket.ControlMessage) error {
	if m.Level == ipprotoIPv6 && family == socket.AF_INET6 && m.Type == ipv6PktInfo {
		if len(m.Data) < sizeofIn6Pktinfo {
			return linux.EINVAL
		}
		a := netip.AddrFrom16([16]byte(m.Data))
		if !a.Is4In6() {
			return linux.EINVAL
		}
		if ifx := int32(binary.LittleEndian.Uint32(m.Data[16:])); ifx != 0 {
			c.oif = ifx
		}
		c.setSrc, c.src = true, a.Unmap()
		return nil
	}
	if m.Level != ipprotoIP {
		return nil
	}
	switch m.Type {
	case ipPktInfo:
		if len(m.Data) != sizeofInPktinfo {
			return linux.EINVAL
		}
		if ifx := int32(binary.LittleEndian.Uint32(m.Data)); ifx != 0 {
			c.oif = ifx
		}
		c.setSrc, c.src = true, netip.AddrFrom4([4]byte(m.Data[4:8]))
	case ipTTL:
		v, ok := cmsgInt(m)
		if !ok || v < 1 || v > 255 {
			return linux.EINVAL
		}
		c.ttl = v
	case ipTOS:
		v, ok := cmsgInt(m)
		if len(m.Data) == 1 {
			v, ok = int32(m.Data[0]), true
		}
		if !ok || v < 0 || v > 255 {
			return linux.EINVAL
		}
		c.tos = v
	default:
		return linux.EINVAL
	}
	return nil
}

// parse6 is one message of ip6_datagram_send_ctl.
func (s *Stack) parse6(c *sendCtl, m socket.ControlMessage) error {
	if m.Level != ipprotoIPv6 {
		return nil
	}
	switch m.Type {
	case ipv6PktInfo, ipv62292PktInfo:
		if len(m.Data) < sizeofIn6Pktinfo {
			return linux.EINVAL
		}
		a := netip.AddrFrom16([16]byte(m.Data))
		if ifx := int32(binary.LittleEndian.Uint32(m.Data[16:])); ifx != 0 {
			if c.oif != 0 && ifx != c.oif {
				return linux.EINVAL
			}
			c.oif = ifx
		}
		if c.oif != 0 {
			if s.interfaceByIndex(c.oif) == nil {
				return linux.ENODEV
			}
		} else if a.IsLinkLocalUnicast() {
			return linux.EINVAL
		}
		if !a.IsUnspecified() {
			// An address of loopback or link scope must be on the
			// chosen interface; a wider one on any.
			oif := int32(0)
			if a.IsLoopback() || a.IsLinkLocalUnicast() {
				oif = c.oif
			}
			if !s.hasAddr(a, oif) {
				return linux.EINVAL
			}
			c.setSrc, c.src = true, a
		}
	case ipv6HopLimitCmsg, ipv62292HopLimit:
		v, ok := cmsgInt(m)
		if !ok || v < -1 || v > 255 {
			return linux.EINVAL
		}
		c.ttl = v
	case ipv6TClass:
		v, ok := cmsgInt(m)
		if !ok || v < -1 || v > 255 {
			return linux.EINVAL
		}
		// -1 is not "the socket's": Linux keeps it in the cork's u8,
		// so the datagram goes with traffic class 0xff.
		c.tos = v & 0xff
	case ipv6DontFrag:
		// Accepted and checked; the loopback path never fragments.
		if v, ok := cmsgInt(m); !ok || v < -1 || v > 1 {
			return linux.EINVAL
		}
	default:
		return linux.EINVAL
	}
	return nil
}

// hasAddr reports whether interface oif (0: any) holds address a.
func (s *Stack) hasAddr(a netip.Addr, oif int32) bool {
	for _, ifc := range s.ifaces {
		if oif != 0 && ifc.Index != oif {
			continue
		}
		for _, ia := range ifc.Addrs {
			if ia.Prefix.Addr() == a {
				return true
			}
		}
	}
	return false
}

// applyControl is the routing part of sendmsg's control messages for a
// datagram to dst (local: one of the sandbox's addresses): it returns
// the source address, given the route's choice routeSrc and the
// socket's bound address bound (unspecified if none); the interface the
// receiver is to see, or 0 for the one holding dst; and whether the
// datagram is lost, sent out an interface that dst is not on, as Linux
// sends it (an IPv4 destination of lo through the veth). The errors are
// ip_route_output's: ENETUNREACH for an IPv4 source that is not the
// sandbox's, EINVAL for a multicast or broadcast one or for a loopback
// source leaving by another interface, ENODEV for an interface that does
// not exist; IPv6 (whose source and interface parse6 checked) fails with
// ENETUNREACH when the interface is not the one dst is on. The External
// stack has one interface: a chosen interface only has to exist for
// destinations outside the sandbox.
func (s *Stack) applyControl(dst, routeSrc, bound netip.Addr, local bool, c *sendCtl) (src netip.Addr, oif int32, lost bool, err error) {
	src = routeSrc
	if !bound.IsUnspecified() {
		src = bound
	}
	if !dst.Is4() {
		if c.setSrc {
			src = c.src
		}
		if c.oif != 0 && local {
			if r := s.localRoute(dst); r == nil || r.OIF != c.oif {
				return src, 0, false, linux.ENETUNREACH
			}
		}
		return src, 0, false, nil
	}
	if c.setSrc {
		src = routeSrc
		if a := c.src; !a.IsUnspecified() {
			if a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || a.As4()[0] == 0 {
				return src, 0, false, linux.EINVAL
			}
			if r := s.localRoute(a); r == nil || r.Type != RTN_LOCAL {
				return src, 0, false, linux.ENETUNREACH
			}
			src = a
		}
	}
	if c.oif == 0 {
		return src, 0, false, nil
	}
	ifc := s.interfaceByIndex(c.oif)
	if ifc == nil {
		return src, 0, false, linux.ENODEV
	}
	if !local {
		return src, 0, false, nil
	}
	if r := s.localRoute(dst); ifc.Flags&IFF_LOOPBACK != 0 || r != nil && r.OIF == c.oif {
		return src, c.oif, false, nil
	}
	// Out of a non-loopback interface, an unspecified ipi_spec_dst is
	// that interface's address; a loopback one is EINVAL.
	if c.src.IsLoopback() {
		return src, 0, false, linux.EINVAL
	}
	return src, 0, true, nil
}

// hopsAndClass are the TTL and TOS (hop limit and traffic class for an
// IPv6 destination) of a datagram to dst: the control messages', else
// the socket's options. An AF_INET6 socket sends to a v4-mapped address
// with its IP_TTL and IP_TOS, as Linux does.
func (o *sockOpts) hopsAndClass(dst netip.Addr, c *sendCtl) (ttl, tos uint8) {
	t, q := o.ttl, o.tos
	if !dst.Is4() {
		t, q = o.hops, o.tclass
	}
	if c.ttl >= 0 {
		t = c.ttl
	}
	if c.tos >= 0 {
		q = c.tos
	}
	if t < 0 {
		t = defaultTTL
	}
	return uint8(t), uint8(q)
}
