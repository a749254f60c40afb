package stack

import (
	"net/netip"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// receiveIPv6 validates an IPv6 packet, walks its extension headers,
// reassembles fragments and hands the payload to its protocol.
func (s *Stack) receiveIPv6(eth header.Ethernet, b []byte) {
	st := s.stats
	inc(&st.IPv6In)
	ip := header.IPv6(b)
	if !ip.IsValid() {
		inc(&st.IPHeaderErrors)
		return
	}
	ip = ip[:header.IPv6Size+int(ip.PayloadLength())]
	src, dst := ip.Src(), ip.Dst()
	if src.IsMulticast() || src.IsLoopback() {
		inc(&st.IPHeaderErrors)
		return
	}
	unicast := s.isOurs(dst)
	if !unicast && !(dst.IsMulticast() && s.acceptsMulticast6(dst)) {
		inc(&st.IPNotForUs)
		return
	}
	rest := ip[header.IPv6Size:]
	res, ptr, code, e := header.WalkIPv6Extensions(rest, ip.NextHeader(), true)
	if e != header.ExtOK {
		s.extError(ip, e, ptr, code, unicast, header.IPv6Size)
		return
	}
	if res.Proto == header.IPv6Fragment {
		inc(&st.FragmentsIn)
		fh := header.IPv6FragmentHeader(rest[res.Offset:])
		data := rest[res.Offset+header.IPv6FragmentSize:]
		next := fh.NextHeader()
		if fh.Offset() != 0 || fh.More() {
			// The reassembled packet is the fixed header and the
			// fragmentable part, whose first header the offset-0
			// fragment names.
			var fixed [header.IPv6Size]byte
			copy(fixed[:], ip)
			fixed[6] = next
			key := fragKey{src: src, dst: dst, id: fh.ID()}
			pkt := s.reassemble(key, fixed[:], fh.Offset(), fh.More(), data)
			if pkt == nil {
				return
			}
			next = pkt[6]
			pl := len(pkt) - header.IPv6Size
			pkt[4], pkt[5] = byte(pl>>8), byte(pl)
			ip = header.IPv6(pkt)
			data = ip[header.IPv6Size:]
		}
		// else an atomic fragment (RFC 6946): no reassembly.
		base := len(ip) - len(data)
		res, ptr, code, e = header.WalkIPv6Extensions(data, next, false)
		if e != header.ExtOK {
			s.extError(ip, e, ptr, code, unicast, base)
			return
		}
		res.Offset += base
		if res.ProtoOffset >= 0 {
			res.ProtoOffset += base
		}
		if res.Proto == header.IPv6Fragment {
			// A fragment header inside a fragment.
			inc(&st.IPHeaderErrors)
			return
		}
	} else {
		res.Offset += header.IPv6Size
		if res.ProtoOffset >= 0 {
			res.ProtoOffset += header.IPv6Size
		}
	}
	if res.ProtoOffset < 0 {
		res.ProtoOffset = 6
	}
	s.deliverIPv6(eth, ip, res, unicast)
}

// extError counts a refused extension header chain and answers it with
// a parameter problem when RFC 8200 asks for one. base is where the
// walked bytes start in ip.
func (s *Stack) extError(ip header.IPv6, e header.IPv6ExtError, ptr int, code uint8, unicast bool, base int) {
	if e == header.ExtNoNextHeader {
		return
	}
	inc(&s.stats.IPHeaderErrors)
	if e != header.ExtParamProblem || !unicast {
		return
	}
	p := uint32(6)
	if ptr >= 0 {
		p = uint32(base + ptr)
	}
	s.sendICMPv6Error(ip, header.ICMPv6ParamProblem, code, p, false)
}

// deliverIPv6 dispatches a whole packet by its upper-layer protocol.
func (s *Stack) deliverIPv6(eth header.Ethernet, ip header.IPv6, res header.IPv6ExtResult, unicast bool) {
	payload := ip[res.Offset:]
	switch res.Proto {
	case tcpip.ProtocolICMPv6:
		s.receiveICMPv6(eth, ip, payload, unicast)
	case tcpip.ProtocolUDP:
		s.receiveUDP(ip.Src(), ip.Dst(), payload, ip, unicast, ip.HopLimit(), ip.TrafficClass())
	default:
		t := s.transports[res.Proto]
		if t == nil {
			inc(&s.stats.IPUnknownProtocol)
			if unicast {
				s.sendICMPv6Error(ip, header.ICMPv6ParamProblem, header.ICMPv6UnknownNextHdr, uint32(res.ProtoOffset), false)
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

// sendIPv6 builds and transmits an IPv6 packet carrying hdr+payload,
// with fragment headers when it exceeds the path MTU.
func (s *Stack) sendIPv6(src, dst, nextHop netip.Addr, proto uint8, hdr, payload []byte) error {
	const hl = header.EthernetSize + header.IPv6Size
	n := len(hdr) + len(payload)
	if n > 65535 {
		return linux.EMSGSIZE
	}
	mtu := int(s.pathMTU(dst))
	f := header.IPv6Fields{HopLimit: defaultTTL, Src: src, Dst: dst}
	if header.IPv6Size+n <= mtu {
		pb := getPacketBuf(hl + n)
		b := pb.buf
		header.EncodeEthernet(b, tcpip.LinkAddress{}, s.mac, header.EtherTypeIPv6)
		f.PayloadLength = uint16(n)
		f.NextHeader = proto
		header.EncodeIPv6(b[header.EthernetSize:], f)
		copyRange(b[hl:], hdr, payload, 0)
		pb.frames = append(pb.frames, b)
		err := s.transmit(nextHop, pb.frames)
		putPacketBuf(pb)
		return err
	}
	const fhl = hl + header.IPv6FragmentSize
	per := (mtu - header.IPv6Size - header.IPv6FragmentSize) &^ 7
	count := (n + per - 1) / per
	id := s.ipv6FragID.Add(1)
	pb := getPacketBuf(count*fhl + n)
	pos := 0
	f.NextHeader = header.IPv6Fragment
	for off := 0; off < n; off += per {
		l := min(per, n-off)
		b := pb.buf[pos : pos+fhl+l]
		pos += fhl + l
		header.EncodeEthernet(b, tcpip.LinkAddress{}, s.mac, header.EtherTypeIPv6)
		f.PayloadLength = uint16(header.IPv6FragmentSize + l)
		header.EncodeIPv6(b[header.EthernetSize:], f)
		header.EncodeIPv6Fragment(b[hl:], proto, off, off+l < n, id)
		copyRange(b[fhl:], hdr, payload, off)
		pb.frames = append(pb.frames, b)
	}
	inc(&s.stats.Fragmented)
	add(&s.stats.FragmentsOut, count)
	err := s.transmit(nextHop, pb.frames)
	putPacketBuf(pb)
	return err
}
