package header

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/tcpip"
)

// EtherType values of the protocols the stack handles.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86dd
)

// EthernetSize is the length of an Ethernet II header (no VLAN tag).
const EthernetSize = 14

// Ethernet is an Ethernet II frame, header first.
type Ethernet []byte

// Dst is the destination MAC address.
func (e Ethernet) Dst() tcpip.LinkAddress { return tcpip.LinkAddress(e[0:6]) }

// Src is the source MAC address.
func (e Ethernet) Src() tcpip.LinkAddress { return tcpip.LinkAddress(e[6:12]) }

// Type is the EtherType of the payload.
func (e Ethernet) Type() uint16 { return binary.BigEndian.Uint16(e[12:14]) }

// Payload is what follows the header.
func (e Ethernet) Payload() []byte { return e[EthernetSize:] }

// SetDst overwrites the destination MAC address, which the stack fills
// in once the next hop is resolved.
func (e Ethernet) SetDst(a tcpip.LinkAddress) { copy(e[0:6], a[:]) }

// EncodeEthernet writes an Ethernet header into b[:EthernetSize].
func EncodeEthernet(b []byte, dst, src tcpip.LinkAddress, etherType uint16) {
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], etherType)
}

// BroadcastMAC is the Ethernet broadcast address.
var BroadcastMAC = tcpip.LinkAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// IsMulticastMAC reports whether a is a group address (which includes
// broadcast): the low bit of its first byte is set.
func IsMulticastMAC(a tcpip.LinkAddress) bool { return a[0]&1 != 0 }

// EthernetMulticast4 is the MAC address an IPv4 multicast group maps
// to (RFC 1112 section 6.4): 01:00:5e and the group's low 23 bits.
func EthernetMulticast4(group [4]byte) tcpip.LinkAddress {
	return tcpip.LinkAddress{0x01, 0x00, 0x5e, group[1] & 0x7f, group[2], group[3]}
}

// EthernetMulticast6 is the MAC address an IPv6 multicast group maps to
// (RFC 2464 section 7): 33:33 and the group's low 32 bits.
func EthernetMulticast6(group [16]byte) tcpip.LinkAddress {
	return tcpip.LinkAddress{0x33, 0x33, group[12], group[13], group[14], group[15]}
}
