package header

import (
	"encoding/binary"
)

// ICMPv4 types and codes (RFC 792, RFC 1191).
const (
	ICMPv4EchoReply      = 0
	ICMPv4DstUnreachable = 3
	ICMPv4EchoRequest    = 8
	ICMPv4TimeExceeded   = 11
	ICMPv4ParamProblem   = 12

	ICMPv4NetUnreachable   = 0
	ICMPv4HostUnreachable  = 1
	ICMPv4ProtoUnreachable = 2
	ICMPv4PortUnreachable  = 3
	ICMPv4FragNeeded       = 4
	ICMPv4ReassemblyTime   = 1 // code of ICMPv4TimeExceeded
)

// ICMPv6 types and codes (RFC 4443, RFC 4861).
const (
	ICMPv6DstUnreachable  = 1
	ICMPv6PacketTooBig    = 2
	ICMPv6TimeExceeded    = 3
	ICMPv6ParamProblem    = 4
	ICMPv6EchoRequest     = 128
	ICMPv6EchoReply       = 129
	ICMPv6RouterSolicit   = 133
	ICMPv6RouterAdvert    = 134
	ICMPv6NeighborSolicit = 135
	ICMPv6NeighborAdvert  = 136
	ICMPv6Redirect        = 137

	ICMPv6NoRoute          = 0 // codes of ICMPv6DstUnreachable
	ICMPv6AdminProhibited  = 1
	ICMPv6AddrUnreachable  = 3
	ICMPv6PortUnreachable  = 4
	ICMPv6ReassemblyTime   = 1 // code of ICMPv6TimeExceeded
	ICMPv6UnknownNextHdr   = 1 // code of ICMPv6ParamProblem
	ICMPv6ErroneousField   = 0
	ICMPv6UnknownOption    = 2
	icmpv6ErrorTypeCeiling = 128
)

// ICMPHeaderSize is the fixed part every ICMPv4 and ICMPv6 message
// has: type, code, checksum and four bytes whose meaning depends on the
// type.
const ICMPHeaderSize = 8

// ICMP is an ICMPv4 or ICMPv6 message: both share the layout of the
// first eight bytes.
type ICMP []byte

// Type is the message type.
func (m ICMP) Type() uint8 { return m[0] }

// Code is the message code.
func (m ICMP) Code() uint8 { return m[1] }

// Checksum is the checksum field.
func (m ICMP) Checksum() uint16 { return binary.BigEndian.Uint16(m[2:4]) }

// SetChecksum stores the checksum field.
func (m ICMP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(m[2:4], c) }

// Ident is an echo message's identifier.
func (m ICMP) Ident() uint16 { return binary.BigEndian.Uint16(m[4:6]) }

// Seq is an echo message's sequence number.
func (m ICMP) Seq() uint16 { return binary.BigEndian.Uint16(m[6:8]) }

// MTU4 is the next-hop MTU of an ICMPv4 fragmentation-needed message
// (RFC 1191).
func (m ICMP) MTU4() uint16 { return binary.BigEndian.Uint16(m[6:8]) }

// MTU6 is the MTU of an ICMPv6 packet-too-big message.
func (m ICMP) MTU6() uint32 { return binary.BigEndian.Uint32(m[4:8]) }

// Pointer6 is an ICMPv6 parameter problem's pointer.
func (m ICMP) Pointer6() uint32 { return binary.BigEndian.Uint32(m[4:8]) }

// Rest is the message after the eight fixed bytes: an echo's data, or
// the packet an error quotes.
func (m ICMP) Rest() []byte { return m[ICMPHeaderSize:] }

// EncodeICMP writes the fixed part of a message with a zero checksum;
// rest is the four type-specific bytes as one big-endian number.
func EncodeICMP(b []byte, typ, code uint8, rest uint32) {
	b[0], b[1], b[2], b[3] = typ, code, 0, 0
	binary.BigEndian.PutUint32(b[4:8], rest)
}

// IsICMPv4Error reports whether typ is an ICMPv4 error message, about
// which no error is ever sent (RFC 1122 3.2.2).
func IsICMPv4Error(typ uint8) bool {
	switch typ {
	case ICMPv4DstUnreachable, 4 /* source quench */, 5 /* redirect */, ICMPv4TimeExceeded, ICMPv4ParamProblem:
		return true
	}
	return false
}

// IsICMPv6Error reports whether typ is an ICMPv6 error message (types
// below 128, RFC 4443 section 2.1).
func IsICMPv6Error(typ uint8) bool { return typ < icmpv6ErrorTypeCeiling }
