package tcp

import (
	"encoding/binary"
	"net/netip"

	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
)

// Header flags (RFC 9293 section 3.1).
const (
	flagFIN = 1 << 0
	flagSYN = 1 << 1
	flagRST = 1 << 2
	flagPSH = 1 << 3
	flagACK = 1 << 4
	flagURG = 1 << 5
)

// Option kinds.
const (
	optEnd       = 0
	optNOP       = 1
	optMSS       = 2
	optWScale    = 3
	optSACKOK    = 4
	optSACK      = 5
	optTimestamp = 8
)

const (
	headerLen = 20
	// maxOptions is the option space of the largest header.
	maxOptions = 40
	// maxWScale is RFC 7323's largest window shift.
	maxWScale = 14
	// maxSACKBlocks is how many SACK blocks fit beside a timestamp.
	maxSACKBlocks = 3
)

// sackBlock is a SACK block: the received range [start, end).
type sackBlock struct {
	start, end seq
}

// options are the TCP options of a segment, parsed or to be written.
type options struct {
	mss    uint16 // 0: absent
	wscale int    // -1: absent
	sackOK bool
	ts     bool
	tsVal  uint32
	tsEcr  uint32
	nsack  int
	sack   [4]sackBlock
}

// segment is a parsed TCP segment; payload aliases the packet.
type segment struct {
	srcPort, dstPort uint16
	seq, ack         seq
	flags            uint8
	window           uint16
	urgPtr           uint16 // meaningful with flagURG
	opts             options
	payload          []byte
}

func (s *segment) has(f uint8) bool { return s.flags&f != 0 }

// seqLen is the sequence space the segment occupies: its data, and one
// each for SYN and FIN.
func (s *segment) seqLen() int {
	n := len(s.payload)
	if s.has(flagSYN) {
		n++
	}
	if s.has(flagFIN) {
		n++
	}
	return n
}

// parseSegment decodes a TCP packet, whose checksum has been verified.
func parseSegment(b []byte) (segment, bool) {
	var s segment
	if len(b) < headerLen {
		return s, false
	}
	off := int(b[12]>>4) * 4
	if off < headerLen || off > len(b) {
		return s, false
	}
	s.srcPort = binary.BigEndian.Uint16(b[0:])
	s.dstPort = binary.BigEndian.Uint16(b[2:])
	s.seq = seq(binary.BigEndian.Uint32(b[4:]))
	s.ack = seq(binary.BigEndian.Uint32(b[8:]))
	s.flags = b[13]
	s.window = binary.BigEndian.Uint16(b[14:])
	s.urgPtr = binary.BigEndian.Uint16(b[18:])
	s.payload = b[off:]
	s.opts = parseOptions(b[headerLen:off])
	return s, true
}

// parseOptions decodes the options it knows and skips the others; a
// malformed list ends the parse, keeping what came before.
func parseOptions(b []byte) options {
	o := options{wscale: -1}
	for len(b) > 0 {
		kind := b[0]
		if kind == optEnd {
			break
		}
		if kind == optNOP {
			b = b[1:]
			continue
		}
		if len(b) < 2 || int(b[1]) < 2 || int(b[1]) > len(b) {
			break
		}
		l := int(b[1])
		v := b[2:l]
		switch {
		case kind == optMSS && l == 4:
			o.mss = binary.BigEndian.Uint16(v)
		case kind == optWScale && l == 3:
			o.wscale = min(int(v[0]), maxWScale)
		case kind == optSACKOK && l == 2:
			o.sackOK = true
		case kind == optTimestamp && l == 10:
			o.ts = true
			o.tsVal = binary.BigEndian.Uint32(v)
			o.tsEcr = binary.BigEndian.Uint32(v[4:])
		case kind == optSACK && (l-2)%8 == 0:
			for i := 0; i+8 <= len(v) && o.nsack < len(o.sack); i += 8 {
				o.sack[o.nsack] = sackBlock{seq(binary.BigEndian.Uint32(v[i:])), seq(binary.BigEndian.Uint32(v[i+4:]))}
				o.nsack++
			}
		}
		b = b[l:]
	}
	return o
}

// optionsLen is the padded length writeOptions gives o.
func optionsLen(o *options) int {
	n := 0
	if o.mss != 0 {
		n += 4
	}
	if o.wscale >= 0 {
		n += 4 // NOP + 3
	}
	if o.ts {
		n += 12 // NOP NOP + 10 (or SACK-permitted + 10)
	} else if o.sackOK {
		n += 4
	}
	if o.nsack > 0 {
		n += 4 + 8*o.nsack // NOP NOP kind len + blocks
	}
	return n
}

// writeOptions writes o in the layout Linux uses, 4-byte aligned, and
// returns its length.
func writeOptions(b []byte, o *options) int {
	n := 0
	if o.mss != 0 {
		b[0], b[1] = optMSS, 4
		binary.BigEndian.PutUint16(b[2:], o.mss)
		n = 4
	}
	if o.ts {
		if o.sackOK {
			b[n], b[n+1] = optSACKOK, 2
		} else {
			b[n], b[n+1] = optNOP, optNOP
		}
		b[n+2], b[n+3] = optTimestamp, 10
		binary.BigEndian.PutUint32(b[n+4:], o.tsVal)
		binary.BigEndian.PutUint32(b[n+8:], o.tsEcr)
		n += 12
	} else if o.sackOK {
		b[n], b[n+1], b[n+2], b[n+3] = optNOP, optNOP, optSACKOK, 2
		n += 4
	}
	if o.wscale >= 0 {
		b[n], b[n+1], b[n+2], b[n+3] = optNOP, optWScale, 3, byte(o.wscale)
		n += 4
	}
	if o.nsack > 0 {
		b[n], b[n+1], b[n+2], b[n+3] = optNOP, optNOP, optSACK, byte(2+8*o.nsack)
		n += 4
		for i := 0; i < o.nsack; i++ {
			binary.BigEndian.PutUint32(b[n:], uint32(o.sack[i].start))
			binary.BigEndian.PutUint32(b[n+4:], uint32(o.sack[i].end))
			n += 8
		}
	}
	return n
}

// buildSegment returns a whole TCP packet with its checksum; the
// payload is read by copy through fill, which writes len bytes into the
// slice it gets. urg is the urgent pointer field (flagURG's).
func buildSegment(src, dst netip.AddrPort, sq, ack seq, flags uint8, window, urg uint16, o *options, payloadLen int, fill func([]byte)) []byte {
	ol := optionsLen(o)
	b := make([]byte, headerLen+ol+payloadLen)
	binary.BigEndian.PutUint16(b[0:], src.Port())
	binary.BigEndian.PutUint16(b[2:], dst.Port())
	binary.BigEndian.PutUint32(b[4:], uint32(sq))
	binary.BigEndian.PutUint32(b[8:], uint32(ack))
	b[12] = byte((headerLen + ol) / 4 << 4)
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], window)
	binary.BigEndian.PutUint16(b[18:], urg)
	writeOptions(b[headerLen:], o)
	if payloadLen > 0 {
		fill(b[headerLen+ol:])
	}
	binary.BigEndian.PutUint16(b[16:], checksum.Transport(src.Addr(), dst.Addr(), tcpip.ProtocolTCP, b))
	return b
}

// checksumOK verifies a received packet's checksum.
func checksumOK(src, dst netip.Addr, b []byte) bool {
	return checksum.Transport(src, dst, tcpip.ProtocolTCP, b) == 0
}
