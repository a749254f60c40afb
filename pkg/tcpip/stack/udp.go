package stack

import (
	"net/netip"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// SendUDP sends one datagram from local to remote. An unspecified (or
// invalid) local address is replaced by the route's source address;
// datagrams larger than the path MTU are fragmented.
func (s *Stack) SendUDP(local, remote netip.AddrPort, payload []byte) error {
	dst := remote.Addr().Unmap().WithZone("")
	if !dst.IsValid() || remote.Port() == 0 {
		return linux.EINVAL
	}
	src := local.Addr().Unmap().WithZone("")
	if !src.IsValid() || src.IsUnspecified() {
		var err error
		if src, _, err = s.lookup(dst); err != nil {
			inc(&s.stats.IPNoRoute)
			return err
		}
	}
	n := header.UDPSize + len(payload)
	if n > 65535 {
		return linux.EMSGSIZE
	}
	var h [header.UDPSize]byte
	header.EncodeUDP(h[:], local.Port(), remote.Port(), uint16(n), 0)
	c := transportChecksum(src, dst, tcpip.ProtocolUDP, h[:], payload)
	if c == 0 {
		// Zero means "no checksum"; its one's-complement twin is sent.
		c = 0xffff
	}
	h[6], h[7] = byte(c>>8), byte(c)
	inc(&s.stats.UDPOut)
	return s.sendIP(src, dst, tcpip.ProtocolUDP, h[:], payload, false)
}

// receiveUDP checks a datagram and hands it to the UDP receiver; ip is
// the whole IP packet, quoted by a port unreachable error, and ttl and
// tos its header's TTL (hop limit) and TOS (traffic class).
func (s *Stack) receiveUDP(src, dst netip.Addr, b []byte, ip []byte, unicast bool, ttl, tos uint8) {
	st := s.stats
	inc(&st.UDPIn)
	if len(b) < header.UDPSize {
		inc(&st.UDPMalformed)
		return
	}
	u := header.UDP(b)
	ul := int(u.Length())
	if ul < header.UDPSize || ul > len(b) {
		inc(&st.UDPMalformed)
		return
	}
	u = u[:ul]
	if u.Checksum() == 0 {
		if dst.Is6() {
			// RFC 8200 8.1: mandatory over IPv6.
			inc(&st.UDPChecksumErrors)
			return
		}
	} else if checksum.Transport(src, dst, tcpip.ProtocolUDP, u) != 0 {
		inc(&st.UDPChecksumErrors)
		return
	}
	if f := s.udpRecv.Load(); f != nil && (*f)(netip.AddrPortFrom(dst, u.DstPort()), netip.AddrPortFrom(src, u.SrcPort()), u[header.UDPSize:], ttl, tos) {
		inc(&st.IPDelivered)
		return
	}
	inc(&st.UDPNoPort)
	if !unicast {
		return
	}
	if dst.Is4() {
		s.sendICMPv4Error(header.IPv4(ip), header.ICMPv4DstUnreachable, header.ICMPv4PortUnreachable, 0)
	} else {
		s.sendICMPv6Error(header.IPv6(ip), header.ICMPv6DstUnreachable, header.ICMPv6PortUnreachable, 0, false)
	}
}
