package netlink

import (
	"encoding/binary"
)

// Netlink message ABI (netlink(7), rtnetlink(7)).
const (
	sizeofNlmsghdr   = 16
	sizeofSockaddrNl = 12
	sizeofIfinfomsg  = 16
	sizeofIfaddrmsg  = 8
	sizeofRtmsg      = 12

	nlmsgNoop  = 1
	nlmsgError = 2
	nlmsgDone  = 3
	// nlmsgMinType is where protocol message types start.
	nlmsgMinType = 0x10

	nlmFRequest = 0x1
	nlmFMulti   = 0x2
	nlmFAck     = 0x4
	nlmFRoot    = 0x100
	nlmFMatch   = 0x200
	nlmFDump    = nlmFRoot | nlmFMatch
	// nlmFCapped marks an error message carrying only the request's
	// header (NETLINK_CAP_ACK).
	nlmFCapped = 0x100

	rtmNewLink  = 16
	rtmGetLink  = 18
	rtmNewAddr  = 20
	rtmGetAddr  = 22
	rtmNewRoute = 24
	rtmGetRoute = 26

	iflaAddress     = 1
	iflaBroadcast   = 2
	iflaIfname      = 3
	iflaMTU         = 4
	iflaQdisc       = 6
	iflaTxQLen      = 13
	iflaOperstate   = 16
	iflaLinkmode    = 17
	iflaGroup       = 27
	iflaPromiscuity = 30
	iflaNumTxQueues = 31
	iflaNumRxQueues = 32
	iflaCarrier     = 33
	iflaMinMTU      = 50
	iflaMaxMTU      = 51

	// IF_OPER_UNKNOWN: what lo reports.
	ifOperUnknown = 0

	ifaAddress   = 1
	ifaLocal     = 2
	ifaLabel     = 3
	ifaCacheInfo = 6
	ifaFlags     = 8

	rtaDst      = 1
	rtaOIF      = 4
	rtaGateway  = 5
	rtaPriority = 6
	rtaPrefSrc  = 7
	rtaTable    = 15
)

func align4(n int) int { return (n + 3) &^ 3 }

// message builds one netlink message: the header, a fixed family
// header, and attributes, each padded to 4 bytes.
type message struct {
	b []byte
}

func newMessage(typ, flags uint16, seq, pid uint32) *message {
	m := &message{b: make([]byte, sizeofNlmsghdr, 256)}
	le := binary.LittleEndian
	le.PutUint16(m.b[4:], typ)
	le.PutUint16(m.b[6:], flags)
	le.PutUint32(m.b[8:], seq)
	le.PutUint32(m.b[12:], pid)
	return m
}

// put appends raw bytes, padded.
func (m *message) put(p []byte) {
	m.b = append(m.b, p...)
	for len(m.b)%4 != 0 {
		m.b = append(m.b, 0)
	}
}

// attr appends one attribute.
func (m *message) attr(typ uint16, v []byte) {
	var h [4]byte
	binary.LittleEndian.PutUint16(h[0:], uint16(4+len(v)))
	binary.LittleEndian.PutUint16(h[2:], typ)
	m.b = append(m.b, h[:]...)
	m.put(v)
}

func (m *message) attrU32(typ uint16, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	m.attr(typ, b[:])
}

func (m *message) attrU8(typ uint16, v uint8) { m.attr(typ, []byte{v}) }

func (m *message) attrString(typ uint16, s string) { m.attr(typ, append([]byte(s), 0)) }

// done fixes the length and returns the message.
func (m *message) done() []byte {
	binary.LittleEndian.PutUint32(m.b[0:], uint32(len(m.b)))
	return m.b
}

// header is a decoded struct nlmsghdr.
type header struct {
	len        uint32
	typ, flags uint16
	seq, pid   uint32
}

func parseHeader(b []byte) header {
	le := binary.LittleEndian
	return header{le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), le.Uint32(b[8:]), le.Uint32(b[12:])}
}

// attrs walks the attributes in b, calling fn for each.
func attrs(b []byte, fn func(typ uint16, v []byte)) {
	for len(b) >= 4 {
		l := int(binary.LittleEndian.Uint16(b))
		if l < 4 || l > len(b) {
			return
		}
		fn(binary.LittleEndian.Uint16(b[2:])&0x3fff, b[4:l])
		b = b[min(align4(l), len(b)):]
	}
}
