package stack

import (
	"net/netip"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// ICMP error quotes are limited so the error fits the minimum MTU:
// 576 bytes for IPv4 (RFC 1812 4.3.2.3), 1280 for IPv6 (RFC 4443 2.4).
const (
	icmpv4QuoteMax = 576 - header.IPv4MinSize - header.ICMPHeaderSize
	icmpv6QuoteMax = header.IPv6MinMTU - header.IPv6Size - header.ICMPHeaderSize
)

// receiveICMPv4 answers echo requests and passes errors about our
// packets to their transport.
func (s *Stack) receiveICMPv4(ip header.IPv4, unicast bool) {
	st := s.stats
	inc(&st.ICMPIn)
	m := header.ICMP(ip.Payload())
	if len(m) < header.ICMPHeaderSize {
		inc(&st.ICMPMalformed)
		return
	}
	defer s.passICMPv4(ip, unicast) // ICMP sockets: icmp_sockets.go
	if checksum.Checksum(m) != 0 {
		inc(&st.ICMPChecksumErrors)
		return
	}
	inc(&st.IPDelivered)
	switch m.Type() {
	case header.ICMPv4EchoRequest:
		inc(&st.EchoRequestsIn)
		if !unicast {
			// icmp_echo_ignore_broadcasts, Linux's default.
			return
		}
		var h [header.ICMPHeaderSize]byte
		copy(h[:], m)
		h[0], h[2], h[3] = header.ICMPv4EchoReply, 0, 0
		c := ^checksum.Add(checksum.Add(0, h[:]), m.Rest())
		h[2], h[3] = byte(c>>8), byte(c)
		inc(&st.ICMPOut)
		_ = s.sendIP(ip.Dst(), ip.Src(), tcpip.ProtocolICMPv4, h[:], m.Rest(), false)
	case header.ICMPv4DstUnreachable:
		kind, mtu := tcpip.ControlHostUnreachable, uint32(0)
		switch m.Code() {
		case header.ICMPv4PortUnreachable:
			kind = tcpip.ControlPortUnreachable
		case header.ICMPv4FragNeeded:
			kind, mtu = tcpip.ControlPacketTooBig, uint32(m.MTU4())
		}
		s.controlFromICMP(m.Rest(), kind, mtu)
	case header.ICMPv4TimeExceeded:
		s.controlFromICMP(m.Rest(), tcpip.ControlTimeExceeded, 0)
	}
}

// receiveICMPv6 handles echo requests, neighbor discovery and errors.
func (s *Stack) receiveICMPv6(eth header.Ethernet, ip header.IPv6, b []byte, unicast bool) {
	st := s.stats
	inc(&st.ICMPIn)
	m := header.ICMP(b)
	if len(m) < header.ICMPHeaderSize {
		inc(&st.ICMPMalformed)
		return
	}
	src, dst := ip.Src(), ip.Dst()
	defer s.passICMPv6(ip, m, unicast) // ICMP sockets: icmp_sockets.go
	if checksum.Transport(src, dst, tcpip.ProtocolICMPv6, m) != 0 {
		inc(&st.ICMPChecksumErrors)
		return
	}
	inc(&st.IPDelivered)
	switch m.Type() {
	case header.ICMPv6EchoRequest:
		inc(&st.EchoRequestsIn)
		from := dst
		if !unicast {
			// Echo to a group we are in (ping ff02::1): Linux
			// answers from a unicast address of ours.
			if from = s.pickSource(src); !from.IsValid() {
				return
			}
		}
		var h [header.ICMPHeaderSize]byte
		copy(h[:], m)
		h[0], h[2], h[3] = header.ICMPv6EchoReply, 0, 0
		c := transportChecksum(from, src, tcpip.ProtocolICMPv6, h[:], m.Rest())
		h[2], h[3] = byte(c>>8), byte(c)
		inc(&st.ICMPOut)
		_ = s.sendIP(from, src, tcpip.ProtocolICMPv6, h[:], m.Rest(), false)
	case header.ICMPv6NeighborSolicit, header.ICMPv6NeighborAdvert:
		s.receiveNDP(eth, ip, m)
	case header.ICMPv6DstUnreachable:
		kind := tcpip.ControlHostUnreachable
		if m.Code() == header.ICMPv6PortUnreachable {
			kind = tcpip.ControlPortUnreachable
		}
		s.controlFromICMP(m.Rest(), kind, 0)
	case header.ICMPv6PacketTooBig:
		s.controlFromICMP(m.Rest(), tcpip.ControlPacketTooBig, m.MTU6())
	case header.ICMPv6TimeExceeded:
		s.controlFromICMP(m.Rest(), tcpip.ControlTimeExceeded, 0)
	}
}

// controlFromICMP passes an ICMP error on to the sender of the quoted
// packet.
func (s *Stack) controlFromICMP(quoted []byte, kind tcpip.ControlKind, mtu uint32) {
	inc(&s.stats.ICMPErrorsIn)
	s.controlOwnPacket(quoted, kind, mtu)
}

// controlOwnPacket tells the protocol that sent pkt (an IP packet of
// ours, perhaps truncated as an ICMP quote) that it failed. Packet too
// big also lowers the path MTU to the packet's destination.
func (s *Stack) controlOwnPacket(pkt []byte, kind tcpip.ControlKind, mtu uint32) {
	if len(pkt) == 0 {
		return
	}
	var src, dst netip.Addr
	var proto uint8
	var th []byte
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < header.IPv4MinSize {
			return
		}
		ip := header.IPv4(pkt)
		hl := ip.HeaderLength()
		if hl < header.IPv4MinSize || hl > len(pkt) || ip.FragmentOffset() != 0 {
			return
		}
		src, dst, proto, th = ip.Src(), ip.Dst(), ip.Protocol(), pkt[hl:]
	case 6:
		if len(pkt) < header.IPv6Size {
			return
		}
		ip := header.IPv6(pkt)
		rest := pkt[header.IPv6Size:]
		res, _, _, e := header.WalkIPv6Extensions(rest, ip.NextHeader(), true)
		if e != header.ExtOK {
			return
		}
		if res.Proto == header.IPv6Fragment {
			fh := header.IPv6FragmentHeader(rest[res.Offset:])
			if fh.Offset() != 0 {
				return
			}
			rest = rest[res.Offset+header.IPv6FragmentSize:]
			if res, _, _, e = header.WalkIPv6Extensions(rest, fh.NextHeader(), false); e != header.ExtOK {
				return
			}
		}
		src, dst, proto, th = ip.Src(), ip.Dst(), res.Proto, rest[res.Offset:]
	default:
		return
	}
	if !s.isOurs(src) {
		// Not a packet we sent: a forged or misdirected error.
		return
	}
	if kind == tcpip.ControlPacketTooBig {
		if mtu == 0 {
			// A pre-RFC 1191 router: assume the smallest MTU.
			mtu = minPMTU(dst.Is6())
		}
		mtu = max(mtu, minPMTU(dst.Is6()))
		if mtu < s.mtu {
			mtu = s.pmtu.lower(dst, mtu)
		} else {
			mtu = s.mtu
		}
	}
	if proto == tcpip.ProtocolUDP {
		f := s.udpCtl.Load()
		if f == nil || len(th) < 4 {
			return
		}
		u := header.UDP(th)
		(*f)(netip.AddrPortFrom(src, u.SrcPort()), netip.AddrPortFrom(dst, u.DstPort()), kind, mtu)
		return
	}
	if t := s.transports[proto]; t != nil {
		t.HandleControl(src, dst, kind, mtu, th)
	}
}

// sendICMPv4Error answers the packet ip (one addressed to one of our
// unicast addresses) with an ICMP error, unless RFC 1122 3.2.2 forbids
// it or the rate limit says no.
func (s *Stack) sendICMPv4Error(ip header.IPv4, typ, code uint8, rest uint32) {
	src := ip.Src()
	if src.IsUnspecified() || src.IsMulticast() || s.isBroadcast4(src) || ip.FragmentOffset() != 0 {
		return
	}
	hl := ip.HeaderLength()
	if ip.Protocol() == tcpip.ProtocolICMPv4 && (len(ip) <= hl || header.IsICMPv4Error(ip[hl])) {
		return
	}
	if !s.icmpRL.allow(time.Now()) {
		inc(&s.stats.ICMPRateLimited)
		return
	}
	quote := ip[:min(len(ip), icmpv4QuoteMax)]
	var h [header.ICMPHeaderSize]byte
	header.EncodeICMP(h[:], typ, code, rest)
	c := ^checksum.Add(checksum.Add(0, h[:]), quote)
	h[2], h[3] = byte(c>>8), byte(c)
	inc(&s.stats.ICMPOut)
	_ = s.sendIP(ip.Dst(), src, tcpip.ProtocolICMPv4, h[:], quote, false)
}

// sendICMPv6Error answers ip with an ICMPv6 error, unless RFC 4443
// 2.4(e) forbids it or the rate limit says no. isError says ip itself
// carries an ICMPv6 error.
func (s *Stack) sendICMPv6Error(ip header.IPv6, typ, code uint8, rest uint32, isError bool) {
	src, dst := ip.Src(), ip.Dst()
	if src.IsUnspecified() || src.IsMulticast() || isError {
		return
	}
	from := dst
	if !s.isOurs(from) {
		if from = s.pickSource(src); !from.IsValid() {
			return
		}
	}
	if !s.icmpRL.allow(time.Now()) {
		inc(&s.stats.ICMPRateLimited)
		return
	}
	quote := ip[:min(len(ip), icmpv6QuoteMax)]
	var h [header.ICMPHeaderSize]byte
	header.EncodeICMP(h[:], typ, code, rest)
	c := transportChecksum(from, src, tcpip.ProtocolICMPv6, h[:], quote)
	h[2], h[3] = byte(c>>8), byte(c)
	inc(&s.stats.ICMPOut)
	_ = s.sendIP(from, src, tcpip.ProtocolICMPv6, h[:], quote, false)
}

// rateLimiter is a token bucket over the ICMP errors the stack sends,
// like Linux's icmp_msgs_per_sec and icmp_msgs_burst.
type rateLimiter struct {
	// mu guards the bucket.
	mu     sync.Mutex
	tokens float64
	rate   float64 // tokens per second
	burst  float64
	last   time.Time
}

func (r *rateLimiter) init(rate, burst int, now time.Time) {
	r.rate, r.burst, r.tokens, r.last = float64(rate), float64(burst), float64(burst), now
}

func (r *rateLimiter) allow(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens = min(r.burst, r.tokens+now.Sub(r.last).Seconds()*r.rate)
	r.last = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}
