package header

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 header and fragment header sizes.
const (
	IPv6Size         = 40
	IPv6FragmentSize = 8
	// IPv6MinMTU is the smallest MTU every IPv6 link has (RFC 8200).
	IPv6MinMTU = 1280
)

// IPv6 next-header values of extension headers (RFC 8200 section 4).
const (
	IPv6HopByHop    = 0
	IPv6Routing     = 43
	IPv6Fragment    = 44
	IPv6NoNextHdr   = 59
	IPv6DestOptions = 60
)

// IPv6 is an IPv6 packet, fixed header first.
type IPv6 []byte

// IsValid reports whether b holds a fixed header with version 6 whose
// payload length fits in b.
func (b IPv6) IsValid() bool {
	return len(b) >= IPv6Size && b[0]>>4 == 6 && int(b.PayloadLength()) <= len(b)-IPv6Size
}

// TrafficClass is the traffic class byte.
func (b IPv6) TrafficClass() uint8 { return b[0]<<4 | b[1]>>4 }

// FlowLabel is the 20-bit flow label.
func (b IPv6) FlowLabel() uint32 { return binary.BigEndian.Uint32(b[0:4]) & 0xfffff }

// PayloadLength is the length of everything after the fixed header.
func (b IPv6) PayloadLength() uint16 { return binary.BigEndian.Uint16(b[4:6]) }

// NextHeader is the type of the header after the fixed header.
func (b IPv6) NextHeader() uint8 { return b[6] }

// HopLimit is the hop limit.
func (b IPv6) HopLimit() uint8 { return b[7] }

// Src is the source address.
func (b IPv6) Src() netip.Addr { return netip.AddrFrom16([16]byte(b[8:24])) }

// Dst is the destination address.
func (b IPv6) Dst() netip.Addr { return netip.AddrFrom16([16]byte(b[24:40])) }

// Payload is what follows the fixed header, up to the payload length.
// Only valid after IsValid.
func (b IPv6) Payload() []byte { return b[IPv6Size : IPv6Size+int(b.PayloadLength())] }

// IPv6Fields are the values EncodeIPv6 writes.
type IPv6Fields struct {
	TrafficClass  uint8
	FlowLabel     uint32
	PayloadLength uint16
	NextHeader    uint8
	HopLimit      uint8
	Src, Dst      netip.Addr
}

// EncodeIPv6 writes an IPv6 fixed header into b[:IPv6Size].
func EncodeIPv6(b []byte, f IPv6Fields) {
	binary.BigEndian.PutUint32(b[0:4], 6<<28|uint32(f.TrafficClass)<<20|f.FlowLabel&0xfffff)
	binary.BigEndian.PutUint16(b[4:6], f.PayloadLength)
	b[6] = f.NextHeader
	b[7] = f.HopLimit
	s, d := f.Src.As16(), f.Dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
}

// IPv6FragmentHeader is the 8-byte fragment extension header.
type IPv6FragmentHeader []byte

// NextHeader is the type of the fragmentable part's first header.
func (f IPv6FragmentHeader) NextHeader() uint8 { return f[0] }

// Offset is the fragment's offset in bytes.
func (f IPv6FragmentHeader) Offset() int { return int(binary.BigEndian.Uint16(f[2:4]) &^ 7) }

// More reports the M (more fragments) flag.
func (f IPv6FragmentHeader) More() bool { return f[3]&1 != 0 }

// ID is the identification fragments of one packet share.
func (f IPv6FragmentHeader) ID() uint32 { return binary.BigEndian.Uint32(f[4:8]) }

// EncodeIPv6Fragment writes a fragment header into b[:IPv6FragmentSize].
func EncodeIPv6Fragment(b []byte, next uint8, offset int, more bool, id uint32) {
	b[0] = next
	b[1] = 0
	v := uint16(offset) &^ 7
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(b[2:4], v)
	binary.BigEndian.PutUint32(b[4:8], id)
}

// IPv6ExtResult is what walking a packet's extension headers found.
type IPv6ExtResult struct {
	// Proto is the upper-layer protocol (or IPv6Fragment when the walk
	// stopped at a fragment header).
	Proto uint8
	// Offset is where the upper-layer header (or the fragment header)
	// starts, relative to the slice walked.
	Offset int
	// ProtoOffset is the offset, relative to the slice walked, of the
	// next-header byte that names Proto, or -1 when that byte is the
	// one before the slice (the fixed header's). ICMPv6 parameter
	// problems about an unknown protocol point at it.
	ProtoOffset int
}

// IPv6ExtError says why an extension header chain was refused.
type IPv6ExtError int

// Reasons WalkIPv6Extensions refuses a packet.
const (
	// ExtOK means no error.
	ExtOK IPv6ExtError = iota
	// ExtTruncated is a header that runs past the packet.
	ExtTruncated
	// ExtDiscard is a packet the options or routing header say to drop
	// silently.
	ExtDiscard
	// ExtParamProblem is a packet to drop with an ICMPv6 parameter
	// problem (code 0 erroneous field or 2 unrecognized option) at
	// Pointer.
	ExtParamProblem
	// ExtNoNextHeader is a chain ending in "no next header".
	ExtNoNextHeader
)

// WalkIPv6Extensions follows the extension headers in b, starting with
// a header of type next whose own next-header byte sat at nextOffset
// (used for error pointers), until it reaches an upper-layer protocol
// or a fragment header. Hop-by-hop options are only allowed first
// (first reports whether b starts right after the fixed header).
// Options are handled as RFC 8200 section 4.2 says; a routing header
// with segments left is refused, since the stack does not forward.
// On ExtParamProblem it also returns the offending byte's offset
// relative to b (-1: the next-header byte before b) and the ICMPv6
// parameter problem code.
func WalkIPv6Extensions(b []byte, next uint8, first bool) (res IPv6ExtResult, ptr int, code uint8, err IPv6ExtError) {
	off := 0
	protoOff := -1
	for {
		switch next {
		case IPv6HopByHop, IPv6DestOptions:
			if next == IPv6HopByHop && !(first && off == 0) {
				return res, protoOff, 1, ExtParamProblem
			}
			if len(b)-off < 8 {
				return res, 0, 0, ExtTruncated
			}
			n := (int(b[off+1]) + 1) * 8
			if len(b)-off < n {
				return res, 0, 0, ExtTruncated
			}
			if p, c, e := walkOptions(b[off+2:off+n], off+2); e != ExtOK {
				return res, p, c, e
			}
			protoOff = off
			next = b[off]
			off += n
		case IPv6Routing:
			if len(b)-off < 8 {
				return res, 0, 0, ExtTruncated
			}
			n := (int(b[off+1]) + 1) * 8
			if len(b)-off < n {
				return res, 0, 0, ExtTruncated
			}
			if b[off+3] != 0 {
				// Segments left: we would have to forward.
				return res, off + 2, 0, ExtParamProblem
			}
			protoOff = off
			next = b[off]
			off += n
		case IPv6NoNextHdr:
			return res, 0, 0, ExtNoNextHeader
		default:
			// An upper-layer protocol or a fragment header.
			if next == IPv6Fragment && len(b)-off < IPv6FragmentSize {
				return res, 0, 0, ExtTruncated
			}
			return IPv6ExtResult{Proto: next, Offset: off, ProtoOffset: protoOff}, 0, 0, ExtOK
		}
	}
}

// walkOptions checks the TLV options of a hop-by-hop or destination
// options header; base is the options' offset for error pointers.
func walkOptions(o []byte, base int) (int, uint8, IPv6ExtError) {
	for i := 0; i < len(o); {
		t := o[i]
		if t == 0 { // Pad1
			i++
			continue
		}
		if i+2 > len(o) || i+2+int(o[i+1]) > len(o) {
			return 0, 0, ExtTruncated
		}
		switch t {
		case 1, 5: // PadN, router alert: nothing for a host to do.
		default:
			// The two high bits say what to do with an unknown option.
			switch t >> 6 {
			case 0:
			case 1:
				return 0, 0, ExtDiscard
			default:
				return base + i, 2, ExtParamProblem
			}
		}
		i += 2 + int(o[i+1])
	}
	return 0, 0, ExtOK
}
