package header

import (
	"net/netip"

	"appkernel.dev/appkernel/pkg/tcpip"
)

// Neighbor discovery layouts (RFC 4861 sections 4.3, 4.4, 4.6.1).
const (
	// NDPNSSize is a neighbor solicitation or advertisement without
	// options: the ICMPv6 fixed part and the target address.
	NDPNSSize = ICMPHeaderSize + 16
	// NDPLinkLayerOptionSize is a link-layer address option for
	// Ethernet.
	NDPLinkLayerOptionSize = 8

	NDPOptSourceLinkLayer = 1
	NDPOptTargetLinkLayer = 2
)

// Neighbor advertisement flags, in the first of the four type-specific
// bytes.
const (
	NDPFlagRouter    = 0x80000000
	NDPFlagSolicited = 0x40000000
	NDPFlagOverride  = 0x20000000
)

// NDPTarget is the target address of a neighbor solicitation or
// advertisement m (at least NDPNSSize long).
func NDPTarget(m ICMP) netip.Addr { return netip.AddrFrom16([16]byte(m[8:24])) }

// NDPFlags are a neighbor advertisement's flags (NDPFlag*).
func NDPFlags(m ICMP) uint32 { return uint32(m[4]) << 24 }

// NDPLinkLayerOption finds the option of type typ (NDPOptSourceLinkLayer
// or NDPOptTargetLinkLayer) in opts and returns the Ethernet address it
// carries. valid is false when the options are malformed (an option of
// length zero, or one running past the end), which makes the whole
// message invalid.
func NDPLinkLayerOption(opts []byte, typ uint8) (addr tcpip.LinkAddress, found, valid bool) {
	for len(opts) > 0 {
		if len(opts) < 2 || opts[1] == 0 || int(opts[1])*8 > len(opts) {
			return addr, false, false
		}
		n := int(opts[1]) * 8
		if opts[0] == typ && n >= 8 && !found {
			addr = tcpip.LinkAddress(opts[2:8])
			found = true
		}
		opts = opts[n:]
	}
	return addr, found, true
}

// EncodeNDPLinkLayerOption writes a link-layer address option into
// b[:NDPLinkLayerOptionSize].
func EncodeNDPLinkLayerOption(b []byte, typ uint8, a tcpip.LinkAddress) {
	b[0], b[1] = typ, 1
	copy(b[2:8], a[:])
}

// SolicitedNodeMulticast is the solicited-node multicast group of a
// (RFC 4291 section 2.7.1): ff02::1:ff and a's low 24 bits.
func SolicitedNodeMulticast(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, b[13], b[14], b[15]})
}

// IsSolicitedNodeMulticast reports whether a is in ff02::1:ff00:0/104.
func IsSolicitedNodeMulticast(a netip.Addr) bool {
	b := a.As16()
	return a.Is6() && b[0] == 0xff && b[1] == 0x02 && b[11] == 1 && b[12] == 0xff &&
		b[2]|b[3]|b[4]|b[5]|b[6]|b[7]|b[8]|b[9]|b[10] == 0
}

// IPv6AllNodes is the link-local all-nodes multicast group.
var IPv6AllNodes = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 1})

// LinkLocalEUI64 is the link-local address formed from a MAC address
// by modified EUI-64 (RFC 4291 appendix A): fe80:: with the MAC split
// by ff:fe and its universal/local bit inverted.
func LinkLocalEUI64(mac tcpip.LinkAddress) netip.Addr {
	return netip.AddrFrom16([16]byte{0xfe, 0x80, 8: mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]})
}
