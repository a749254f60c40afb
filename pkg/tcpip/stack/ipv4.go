package stack

import (
	"net/netip"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// allHosts4 is 224.0.0.1, the one IPv4 group every host is in.
var allHosts4 = netip.AddrFrom4([4]byte{224, 0, 0, 1})

// receiveIPv4 validates an IPv4 packet, reassembles fragments and
// hands the payload to its protocol.
func (s *Stack) receiveIPv4(eth header.Ethernet, b []byte) {
	st := s.stats
	inc(&st.IPv4In)
	ip := header.IPv4(b)
	if !ip.IsValid() {
		inc(&st.IPHeaderErrors)
		return
	}
	if !ip.ChecksumValid() {
		inc(&st.IPv4ChecksumErrors)
		return
	}
	ip = ip[:ip.TotalLength()]
	src, dst := ip.Src(), ip.Dst()
	if src.IsMulticast() || src.IsLoopback() || s.isBroadcast4(src) {
		// Martian source.
		inc(&st.IPHeaderErrors)
		return
	}
	unicast := s.isOurs(dst)
	if !unicast && dst != allHosts4 && !s.isBroadcast4(dst) {
		inc(&st.IPNotForUs)
		return
	}
	if ip.IsFragment() {
		inc(&st.FragmentsIn)
		key := fragKey{src: src, dst: dst, id: uint32(ip.ID()), proto: ip.Protocol()}
		hl := ip.HeaderLength()
		pkt := s.reassemble(key, ip[:hl], ip.FragmentOffset(), ip.MoreFragments(), ip[hl:])
		if pkt == nil {
			return
		}
		// Make the header describe the whole datagram, for the
		// ICMP errors that may quote it.
		pkt[6], pkt[7] = 0, 0
		pkt[2], pkt[3] = byte(len(pkt)>>8), byte(len(pkt))
		pkt[10], pkt[11] = 0, 0
		c := checksum.Checksum(pkt[:hl])
		pkt[10], pkt[11] = byte(c>>8), byte(c)
		ip = header.IPv4(pkt)
	}
	s.deliverIPv4(ip, unicast)
}

// deliverIPv4 dispatches a whole datagram by protocol.
func (s *Stack) deliverIPv4(ip header.IPv4, unicast bool) {
	payload := ip.Payload()
	switch p := ip.Protocol(); p {
	case tcpip.ProtocolICMPv4:
		s.receiveICMPv4(ip, unicast)
	case tcpip.ProtocolUDP:
		s.receiveUDP(ip.Src(), ip.Dst(), payload, ip, unicast, ip.TTL(), ip.TOS())
	default:
		t := s.transports[p]
		if t == nil {
			inc(&s.stats.IPUnknownProtocol)
			if unicast {
				s.sendICMPv4Error(ip, header.ICMPv4DstUnreachable, header.ICMPv4ProtoUnreachable, 0)
			}
			return
		}
		if !unicast {
			return
		}
		inc(&s.stats.IPDelivered)
		t.HandlePacket(ip.Src(), ip.Dst(), payload)
	}
}

// sendIPv4 builds and transmits an IPv4 packet carrying hdr+payload,
// fragmenting it to the path MTU.
func (s *Stack) sendIPv4(src, dst, nextHop netip.Addr, proto uint8, hdr, payload []byte, df bool) error {
	const hl = header.EthernetSize + header.IPv4MinSize
	n := len(hdr) + len(payload)
	if n > header.IPv4MaxTotalLength-header.IPv4MinSize {
		return linux.EMSGSIZE
	}
	mtu := int(s.pathMTU(dst))
	f := header.IPv4Fields{
		ID:       uint16(s.ipv4ID.Add(1)),
		TTL:      defaultTTL,
		Protocol: proto,
		Src:      src,
		Dst:      dst,
	}
	if header.IPv4MinSize+n <= mtu {
		pb := getPacketBuf(hl + n)
		b := pb.buf
		header.EncodeEthernet(b, tcpip.LinkAddress{}, s.mac, header.EtherTypeIPv4)
		f.TotalLength = uint16(header.IPv4MinSize + n)
		f.DontFragment = df
		header.EncodeIPv4(b[header.EthernetSize:], f)
		copyRange(b[hl:], hdr, payload, 0)
		pb.frames = append(pb.frames, b)
		err := s.transmit(nextHop, pb.frames)
		putPacketBuf(pb)
		return err
	}
	per := (mtu - header.IPv4MinSize) &^ 7
	count := (n + per - 1) / per
	pb := getPacketBuf(count*hl + n)
	pos := 0
	for off := 0; off < n; off += per {
		l := min(per, n-off)
		b := pb.buf[pos : pos+hl+l]
		pos += hl + l
		header.EncodeEthernet(b, tcpip.LinkAddress{}, s.mac, header.EtherTypeIPv4)
		f.TotalLength = uint16(header.IPv4MinSize + l)
		f.FragmentOffset = off
		f.MoreFragments = off+l < n
		header.EncodeIPv4(b[header.EthernetSize:], f)
		copyRange(b[hl:], hdr, payload, off)
		pb.frames = append(pb.frames, b)
	}
	inc(&s.stats.Fragmented)
	add(&s.stats.FragmentsOut, count)
	err := s.transmit(nextHop, pb.frames)
	putPacketBuf(pb)
	return err
}

// copyRange fills dst from the concatenation of a and b, starting at
// offset off.
func copyRange(dst, a, b []byte, off int) {
	if off < len(a) {
		n := copy(dst, a[off:])
		dst = dst[n:]
		off = 0
	} else {
		off -= len(a)
	}
	copy(dst, b[off:])
}
