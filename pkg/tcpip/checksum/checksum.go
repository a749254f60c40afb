// Package checksum computes the Internet checksum (RFC 1071) that IPv4,
// ICMP, UDP and TCP headers carry.
package checksum

import (
	"encoding/binary"
	"net/netip"
)

// Add returns the one's-complement sum of b folded into initial, not
// yet complemented, so that sums over several pieces (a pseudo-header,
// a header, a payload) can be chained. Every piece but the last must
// have an even length.
func Add(initial uint16, b []byte) uint16 {
	sum := uint64(initial)
	for len(b) >= 8 {
		sum += uint64(binary.BigEndian.Uint32(b[0:4])) + uint64(binary.BigEndian.Uint32(b[4:8]))
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = (sum & 0xffff) + (sum >> 16)
	}
	return uint16(sum)
}

// Checksum is the complemented sum of b, the value a header carries.
func Checksum(b []byte) uint16 {
	return ^Add(0, b)
}

// PseudoHeader returns the uncomplemented sum of the IPv4 or IPv6
// pseudo-header that UDP, TCP and ICMPv6 checksums cover: the two
// addresses, the protocol and the transport length.
func PseudoHeader(src, dst netip.Addr, proto uint8, length int) uint16 {
	s := Add(0, src.AsSlice())
	s = Add(s, dst.AsSlice())
	var tail [8]byte
	if src.Is4() {
		binary.BigEndian.PutUint16(tail[0:2], uint16(proto))
		binary.BigEndian.PutUint16(tail[2:4], uint16(length))
		return Add(s, tail[:4])
	}
	binary.BigEndian.PutUint32(tail[0:4], uint32(length))
	tail[7] = proto
	return Add(s, tail[:])
}

// Transport returns the checksum to store in a UDP, TCP or ICMPv6
// header: payload is the whole transport packet with its checksum field
// zeroed. A packet with a correct checksum in place gives 0.
func Transport(src, dst netip.Addr, proto uint8, payload []byte) uint16 {
	return ^Add(PseudoHeader(src, dst, proto, len(payload)), payload)
}
