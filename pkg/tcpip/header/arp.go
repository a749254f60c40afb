package header

import (
	"encoding/binary"
	"net/netip"

	"appkernel.dev/appkernel/pkg/tcpip"
)

// ARPSize is the length of an ARP packet for IPv4 over Ethernet.
const ARPSize = 28

// ARP operations.
const (
	ARPRequest = 1
	ARPReply   = 2
)

// ARP is an ARP packet (RFC 826).
type ARP []byte

// IsValid reports whether a is long enough and describes IPv4 over
// Ethernet, the only mapping the stack resolves.
func (a ARP) IsValid() bool {
	return len(a) >= ARPSize &&
		binary.BigEndian.Uint16(a[0:2]) == 1 && // hardware type Ethernet
		binary.BigEndian.Uint16(a[2:4]) == EtherTypeIPv4 &&
		a[4] == 6 && a[5] == 4
}

// Op is the operation (ARPRequest, ARPReply).
func (a ARP) Op() uint16 { return binary.BigEndian.Uint16(a[6:8]) }

// SenderMAC is the sender's hardware address.
func (a ARP) SenderMAC() tcpip.LinkAddress { return tcpip.LinkAddress(a[8:14]) }

// SenderIP is the sender's protocol address.
func (a ARP) SenderIP() netip.Addr { return netip.AddrFrom4([4]byte(a[14:18])) }

// TargetMAC is the target's hardware address (zero in a request).
func (a ARP) TargetMAC() tcpip.LinkAddress { return tcpip.LinkAddress(a[18:24]) }

// TargetIP is the target's protocol address.
func (a ARP) TargetIP() netip.Addr { return netip.AddrFrom4([4]byte(a[24:28])) }

// EncodeARP writes an IPv4-over-Ethernet ARP packet into b[:ARPSize].
func EncodeARP(b []byte, op uint16, senderMAC tcpip.LinkAddress, senderIP netip.Addr, targetMAC tcpip.LinkAddress, targetIP netip.Addr) {
	binary.BigEndian.PutUint16(b[0:2], 1)
	binary.BigEndian.PutUint16(b[2:4], EtherTypeIPv4)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:8], op)
	copy(b[8:14], senderMAC[:])
	s4 := senderIP.As4()
	copy(b[14:18], s4[:])
	copy(b[18:24], targetMAC[:])
	t4 := targetIP.As4()
	copy(b[24:28], t4[:])
}
