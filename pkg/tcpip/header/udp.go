package header

import "encoding/binary"

// UDPSize is the length of a UDP header.
const UDPSize = 8

// UDP is a UDP datagram, header first.
type UDP []byte

// SrcPort is the source port.
func (u UDP) SrcPort() uint16 { return binary.BigEndian.Uint16(u[0:2]) }

// DstPort is the destination port.
func (u UDP) DstPort() uint16 { return binary.BigEndian.Uint16(u[2:4]) }

// Length is the length the header declares, itself included.
func (u UDP) Length() uint16 { return binary.BigEndian.Uint16(u[4:6]) }

// Checksum is the checksum field; 0 means none (IPv4 only).
func (u UDP) Checksum() uint16 { return binary.BigEndian.Uint16(u[6:8]) }

// EncodeUDP writes a UDP header into b[:UDPSize] with checksum c.
func EncodeUDP(b []byte, src, dst, length, c uint16) {
	binary.BigEndian.PutUint16(b[0:2], src)
	binary.BigEndian.PutUint16(b[2:4], dst)
	binary.BigEndian.PutUint16(b[4:6], length)
	binary.BigEndian.PutUint16(b[6:8], c)
}
