package header

import (
	"encoding/binary"
	"net/netip"

	"appkernel.dev/appkernel/pkg/tcpip/checksum"
)

// IPv4 header sizes.
const (
	IPv4MinSize = 20
	IPv4MaxSize = 60
	// IPv4MaxTotalLength is the largest datagram the 16-bit total
	// length field can describe.
	IPv4MaxTotalLength = 65535
)

// IPv4 flag bits of the flags/fragment-offset field.
const (
	ipv4FlagDF = 0x4000
	ipv4FlagMF = 0x2000
	ipv4OffMax = 0x1fff
)

// IPv4 is an IPv4 packet, header first.
type IPv4 []byte

// IsValid reports whether b holds a whole IPv4 header that is
// consistent with itself: version 4, a header length of at least 20
// bytes that fits, and a total length covering the header and within
// b. It does not check the checksum.
func (b IPv4) IsValid() bool {
	if len(b) < IPv4MinSize || b[0]>>4 != 4 {
		return false
	}
	hl := b.HeaderLength()
	tl := int(b.TotalLength())
	return hl >= IPv4MinSize && hl <= len(b) && tl >= hl && tl <= len(b)
}

// HeaderLength is the header length in bytes, options included.
func (b IPv4) HeaderLength() int { return int(b[0]&0xf) * 4 }

// TOS is the type-of-service byte (DSCP and ECN).
func (b IPv4) TOS() uint8 { return b[1] }

// TotalLength is the datagram length the header declares.
func (b IPv4) TotalLength() uint16 { return binary.BigEndian.Uint16(b[2:4]) }

// ID is the identification field fragments share.
func (b IPv4) ID() uint16 { return binary.BigEndian.Uint16(b[4:6]) }

// DontFragment reports the DF flag.
func (b IPv4) DontFragment() bool { return binary.BigEndian.Uint16(b[6:8])&ipv4FlagDF != 0 }

// MoreFragments reports the MF flag.
func (b IPv4) MoreFragments() bool { return binary.BigEndian.Uint16(b[6:8])&ipv4FlagMF != 0 }

// FragmentOffset is the fragment's offset in bytes.
func (b IPv4) FragmentOffset() int { return int(binary.BigEndian.Uint16(b[6:8])&ipv4OffMax) * 8 }

// IsFragment reports whether the packet is part of a fragmented
// datagram.
func (b IPv4) IsFragment() bool { return binary.BigEndian.Uint16(b[6:8])&(ipv4FlagMF|ipv4OffMax) != 0 }

// TTL is the time to live.
func (b IPv4) TTL() uint8 { return b[8] }

// Protocol is the IP protocol number of the payload.
func (b IPv4) Protocol() uint8 { return b[9] }

// Checksum is the header checksum field.
func (b IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(b[10:12]) }

// ChecksumValid reports whether the header checksum verifies.
func (b IPv4) ChecksumValid() bool { return checksum.Checksum(b[:b.HeaderLength()]) == 0 }

// Src is the source address.
func (b IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(b[12:16])) }

// Dst is the destination address.
func (b IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(b[16:20])) }

// Options are the header's options, which the stack skips.
func (b IPv4) Options() []byte { return b[IPv4MinSize:b.HeaderLength()] }

// Payload is the data after the header, up to the total length
// (link-layer padding excluded). Only valid after IsValid.
func (b IPv4) Payload() []byte { return b[b.HeaderLength():b.TotalLength()] }

// IPv4Fields are the values EncodeIPv4 writes.
type IPv4Fields struct {
	TOS            uint8
	TotalLength    uint16
	ID             uint16
	DontFragment   bool
	MoreFragments  bool
	FragmentOffset int // bytes, a multiple of 8
	TTL            uint8
	Protocol       uint8
	Src, Dst       netip.Addr
}

// EncodeIPv4 writes a 20-byte IPv4 header without options into
// b[:IPv4MinSize], checksum included.
func EncodeIPv4(b []byte, f IPv4Fields) {
	b[0] = 0x45
	b[1] = f.TOS
	binary.BigEndian.PutUint16(b[2:4], f.TotalLength)
	binary.BigEndian.PutUint16(b[4:6], f.ID)
	ff := uint16(f.FragmentOffset/8) & ipv4OffMax
	if f.DontFragment {
		ff |= ipv4FlagDF
	}
	if f.MoreFragments {
		ff |= ipv4FlagMF
	}
	binary.BigEndian.PutUint16(b[6:8], ff)
	b[8] = f.TTL
	b[9] = f.Protocol
	b[10], b[11] = 0, 0
	s, d := f.Src.As4(), f.Dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:12], checksum.Checksum(b[:IPv4MinSize]))
}
