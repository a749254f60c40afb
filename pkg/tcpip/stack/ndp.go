package stack

import (
	"net/netip"

	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// ndpSize is a neighbor solicitation or advertisement with one
// link-layer address option, in an IPv6 packet, in a frame.
const ndpSize = header.EthernetSize + header.IPv6Size + header.NDPNSSize + header.NDPLinkLayerOptionSize

// receiveNDP handles neighbor solicitations and advertisements (RFC
// 4861 sections 7.1 and 7.2); m has passed the ICMPv6 checksum.
func (s *Stack) receiveNDP(eth header.Ethernet, ip header.IPv6, m header.ICMP) {
	if ip.HopLimit() != 255 || m.Code() != 0 || len(m) < header.NDPNSSize {
		inc(&s.stats.ICMPMalformed)
		return
	}
	inc(&s.stats.NDIn)
	target := header.NDPTarget(m)
	if target.IsMulticast() {
		inc(&s.stats.ICMPMalformed)
		return
	}
	opts := m[header.NDPNSSize:]
	src := ip.Src()
	switch m.Type() {
	case header.ICMPv6NeighborSolicit:
		slla, found, ok := header.NDPLinkLayerOption(opts, header.NDPOptSourceLinkLayer)
		if !ok || (src.IsUnspecified() && (found || !header.IsSolicitedNodeMulticast(ip.Dst()))) {
			inc(&s.stats.ICMPMalformed)
			return
		}
		if !s.isOurs(target) {
			return
		}
		if src.IsUnspecified() {
			// Someone's duplicate address detection: defend the
			// address to all nodes, without the solicited flag.
			s.sendNA(target, header.IPv6AllNodes, header.EthernetMulticast6(header.IPv6AllNodes.As16()), header.NDPFlagOverride)
			return
		}
		if found {
			s.learn(src, slla, false, true)
		} else {
			slla = eth.Src()
		}
		s.sendNA(target, src, slla, header.NDPFlagSolicited|header.NDPFlagOverride)
	case header.ICMPv6NeighborAdvert:
		flags := header.NDPFlags(m)
		if ip.Dst().IsMulticast() && flags&header.NDPFlagSolicited != 0 {
			inc(&s.stats.ICMPMalformed)
			return
		}
		tlla, found, ok := header.NDPLinkLayerOption(opts, header.NDPOptTargetLinkLayer)
		if !ok {
			inc(&s.stats.ICMPMalformed)
			return
		}
		if !found {
			return
		}
		s.learn(target, tlla, flags&header.NDPFlagSolicited != 0, false)
	}
}

// sendNS sends a neighbor solicitation for target: to its
// solicited-node group, or unicast to *mac when probing an entry.
func (s *Stack) sendNS(target, src netip.Addr, mac *tcpip.LinkAddress) {
	dst := header.SolicitedNodeMulticast(target)
	dmac := header.EthernetMulticast6(dst.As16())
	if mac != nil {
		dst, dmac = target, *mac
	}
	s.sendNDP(header.ICMPv6NeighborSolicit, 0, target, src, dst, dmac, header.NDPOptSourceLinkLayer)
}

// sendNA advertises our address target to dst at dmac.
func (s *Stack) sendNA(target, dst netip.Addr, dmac tcpip.LinkAddress, flags uint32) {
	s.sendNDP(header.ICMPv6NeighborAdvert, flags, target, target, dst, dmac, header.NDPOptTargetLinkLayer)
}

func (s *Stack) sendNDP(typ uint8, flags uint32, target, src, dst netip.Addr, dmac tcpip.LinkAddress, opt uint8) {
	var buf [ndpSize]byte
	header.EncodeEthernet(buf[:], dmac, s.mac, header.EtherTypeIPv6)
	header.EncodeIPv6(buf[header.EthernetSize:], header.IPv6Fields{
		PayloadLength: header.NDPNSSize + header.NDPLinkLayerOptionSize,
		NextHeader:    tcpip.ProtocolICMPv6,
		HopLimit:      255,
		Src:           src,
		Dst:           dst,
	})
	m := header.ICMP(buf[header.EthernetSize+header.IPv6Size:])
	header.EncodeICMP(m, typ, 0, flags)
	t := target.As16()
	copy(m[8:24], t[:])
	header.EncodeNDPLinkLayerOption(m[header.NDPNSSize:], opt, s.mac)
	m.SetChecksum(transportChecksum(src, dst, tcpip.ProtocolICMPv6, m, nil))
	inc(&s.stats.NDOut)
	inc(&s.stats.ICMPOut)
	s.sendDirect(buf[:], dmac)
}
