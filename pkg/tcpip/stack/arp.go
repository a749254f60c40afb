package stack

import (
	"net/netip"

	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// receiveARP answers requests for our addresses and learns the
// sender's mapping: a new entry only from a message aimed at us (as
// Linux with arp_accept=0), an update of an existing entry from any.
func (s *Stack) receiveARP(b []byte) {
	inc(&s.stats.ARPIn)
	a := header.ARP(b)
	if !a.IsValid() {
		inc(&s.stats.FramesDropped)
		return
	}
	sip, tip, smac := a.SenderIP(), a.TargetIP(), a.SenderMAC()
	forUs := s.isOurs(tip)
	if !sip.IsUnspecified() && !s.isOurs(sip) {
		s.learn(sip, smac, forUs, forUs)
	}
	if a.Op() == header.ARPRequest && forUs {
		var buf [header.EthernetSize + header.ARPSize]byte
		header.EncodeEthernet(buf[:], smac, s.mac, header.EtherTypeARP)
		header.EncodeARP(buf[header.EthernetSize:], header.ARPReply, s.mac, tip, smac, sip)
		inc(&s.stats.ARPOut)
		s.sendDirect(buf[:], smac)
	}
}

// sendARPRequest asks who has target, broadcast or (probing an entry)
// unicast to *mac.
func (s *Stack) sendARPRequest(target, src netip.Addr, mac *tcpip.LinkAddress) {
	dst := header.BroadcastMAC
	if mac != nil {
		dst = *mac
	}
	var buf [header.EthernetSize + header.ARPSize]byte
	header.EncodeEthernet(buf[:], dst, s.mac, header.EtherTypeARP)
	header.EncodeARP(buf[header.EthernetSize:], header.ARPRequest, s.mac, src, tcpip.LinkAddress{}, target)
	inc(&s.stats.ARPOut)
	s.sendDirect(buf[:], dst)
}
