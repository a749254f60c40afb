package stack

import (
	"net/netip"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// This file is the stack's side of ICMP sockets (ping and raw sockets
// live above it, in the sandbox's socket layer): every ICMP message that
// arrives goes up to one receiver, and SendICMP sends a message the
// socket layer built. The stack keeps answering echo requests itself.

// ICMPPacket is an ICMP or ICMPv6 message that arrived for the
// interface. Its slices are valid only during the receiver's call.
type ICMPPacket struct {
	Src, Dst netip.Addr
	// Unicast says Dst is one of the interface's unicast addresses
	// (not a broadcast or multicast group).
	Unicast bool
	// TTL is the IPv4 TTL or the IPv6 hop limit; TOS the type of
	// service or the traffic class.
	TTL, TOS uint8
	// IPHeader is the IPv4 header, options included; nil for IPv6,
	// whose raw sockets never see the header.
	IPHeader []byte
	// Message is the ICMP message (header and body).
	Message []byte
	// ChecksumOK says the message's checksum is right. Raw sockets
	// get messages whatever their checksum, as on Linux.
	ChecksumOK bool
}

// ICMPReceiver takes every ICMP message that arrives, on the link's
// receive goroutine, after the stack has answered it (echo requests)
// or acted on it (errors, neighbor discovery).
type ICMPReceiver func(p *ICMPPacket)

// SetICMPReceiver installs the function that takes a copy of every ICMP
// message for the interface (nil removes it). It may be called at any
// time.
func (s *Stack) SetICMPReceiver(f ICMPReceiver) {
	if f == nil {
		s.icmpRecv.Store(nil)
		return
	}
	s.icmpRecv.Store(&f)
}

func (s *Stack) icmpReceiver() ICMPReceiver {
	if f := s.icmpRecv.Load(); f != nil {
		return *f
	}
	return nil
}

// passICMPv4 hands an arriving ICMP message to the receiver.
func (s *Stack) passICMPv4(ip header.IPv4, unicast bool) {
	f := s.icmpReceiver()
	if f == nil {
		return
	}
	m := ip.Payload()
	f(&ICMPPacket{
		Src: ip.Src(), Dst: ip.Dst(), Unicast: unicast,
		TTL: ip.TTL(), TOS: ip.TOS(),
		IPHeader:   ip[:ip.HeaderLength()],
		Message:    m,
		ChecksumOK: checksum.Checksum(m) == 0,
	})
}

// passICMPv6 hands an arriving ICMPv6 message (m, the payload after the
// extension headers) to the receiver.
func (s *Stack) passICMPv6(ip header.IPv6, m []byte, unicast bool) {
	f := s.icmpReceiver()
	if f == nil {
		return
	}
	src, dst := ip.Src(), ip.Dst()
	f(&ICMPPacket{
		Src: src, Dst: dst, Unicast: unicast,
		TTL: ip.HopLimit(), TOS: ip.TrafficClass(),
		Message:    m,
		ChecksumOK: checksum.Transport(src, dst, tcpip.ProtocolICMPv6, m) == 0,
	})
}

// SendICMP sends msg, a complete ICMP or ICMPv6 message whose checksum
// the caller has filled in, from src to dst. An unspecified (or
// invalid) src is replaced by the route's source; otherwise it must be
// one of the interface's addresses. ttl is the IPv4 TTL or IPv6 hop
// limit (0: the default) and tos the type of service or traffic class.
// IPv4 packets carry the don't-fragment bit when they fit the path MTU,
// as Linux sends them from sockets; larger ones are fragmented, and then
// go with the default TTL and TOS.
func (s *Stack) SendICMP(src, dst netip.Addr, msg []byte, ttl, tos uint8) error {
	dst = dst.Unmap().WithZone("")
	if !dst.IsValid() {
		return linux.EINVAL
	}
	rsrc, nextHop, err := s.lookup(dst)
	if err != nil {
		inc(&s.stats.IPNoRoute)
		return err
	}
	if !src.IsValid() || src.IsUnspecified() {
		src = rsrc
	} else if src = src.Unmap().WithZone(""); !s.isOurs(src) || src.Is4() != dst.Is4() {
		return linux.EADDRNOTAVAIL
	}
	proto := uint8(tcpip.ProtocolICMPv6)
	hl := header.IPv6Size
	if dst.Is4() {
		proto, hl = tcpip.ProtocolICMPv4, header.IPv4MinSize
	}
	if ttl == 0 {
		ttl = defaultTTL
	}
	inc(&s.stats.ICMPOut)
	if (ttl == defaultTTL && tos == 0) || hl+len(msg) > int(s.pathMTU(dst)) {
		return s.sendIP(src, dst, proto, nil, msg, true)
	}
	// One frame with the caller's TTL and TOS.
	inc(&s.stats.IPOut)
	pb := getPacketBuf(header.EthernetSize + hl + len(msg))
	b := pb.buf
	if dst.Is4() {
		header.EncodeEthernet(b, tcpip.LinkAddress{}, s.mac, header.EtherTypeIPv4)
		header.EncodeIPv4(b[header.EthernetSize:], header.IPv4Fields{
			TOS: tos, TotalLength: uint16(hl + len(msg)), ID: uint16(s.ipv4ID.Add(1)),
			DontFragment: true, TTL: ttl, Protocol: proto, Src: src, Dst: dst,
		})
	} else {
		header.EncodeEthernet(b, tcpip.LinkAddress{}, s.mac, header.EtherTypeIPv6)
		header.EncodeIPv6(b[header.EthernetSize:], header.IPv6Fields{
			TrafficClass: tos, PayloadLength: uint16(len(msg)), NextHeader: proto,
			HopLimit: ttl, Src: src, Dst: dst,
		})
	}
	copy(b[header.EthernetSize+hl:], msg)
	pb.frames = append(pb.frames, b)
	err = s.transmit(nextHop, pb.frames)
	putPacketBuf(pb)
	return err
}
