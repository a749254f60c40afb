package packet

import (
	"encoding/binary"
	"net/netip"

	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
)

// virtio-net header fields (include/uapi/linux/virtio_net.h).
const (
	needsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM

	gsoNone  = 0
	gsoTCPv4 = 1
	gsoTCPv6 = 4
	gsoECN   = 0x80

	ethHdrLen = 14
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd

	tcpFlagFIN = 0x01
	tcpFlagPSH = 0x08
	tcpFlagCWR = 0x80
)

// vnetHdr is struct virtio_net_hdr, which packet sockets write in the
// host's byte order (little-endian on every architecture we build for).
type vnetHdr struct {
	flags, gsoType                         uint8
	hdrLen, gsoSize, csumStart, csumOffset uint16
}

func (h *vnetHdr) decode(b []byte) {
	h.flags, h.gsoType = b[0], b[1]
	h.hdrLen = binary.LittleEndian.Uint16(b[2:])
	h.gsoSize = binary.LittleEndian.Uint16(b[4:])
	h.csumStart = binary.LittleEndian.Uint16(b[6:])
	h.csumOffset = binary.LittleEndian.Uint16(b[8:])
}

// completeChecksum finishes a checksum the host left partial: the field
// at csumStart+csumOffset holds the pseudo-header's sum, and the
// checksum covers everything from csumStart to the end of the frame.
func completeChecksum(frame []byte, h *vnetHdr) bool {
	start, at := int(h.csumStart), int(h.csumStart)+int(h.csumOffset)
	if start >= len(frame) || at+2 > len(frame) || start < ethHdrLen {
		return false
	}
	sum := ^checksum.Add(0, frame[start:])
	binary.BigEndian.PutUint16(frame[at:], sum)
	return true
}

// segmenter cuts TCP segmentation offload super-frames into segments of
// the size the sender asked for (gso_size), as the host's device would
// have: headers copied, lengths, sequence numbers, IPv4 ids, flags and
// checksums fixed up. Its buffers are reused from one batch to the next.
type segmenter struct {
	bufs [][]byte
	used int
	out  [][]byte
}

func (s *segmenter) reset() { s.used = 0 }

// alloc returns a buffer of n bytes valid until the next reset.
func (s *segmenter) alloc(n int) []byte {
	if s.used < len(s.bufs) && cap(s.bufs[s.used]) >= n {
		b := s.bufs[s.used][:n]
		s.used++
		return b
	}
	b := make([]byte, n, max(n, 64<<10+16<<10))
	if s.used < len(s.bufs) {
		s.bufs[s.used] = b
	} else {
		s.bufs = append(s.bufs, b)
	}
	s.used++
	return b
}

// segment returns the segments of a super-frame, valid until the next
// reset, or false for a frame it cannot cut (not TCP over IPv4/IPv6
// without options it understands).
func (s *segmenter) segment(frame []byte, h *vnetHdr, mtu int) ([][]byte, bool) {
	gso := h.gsoType &^ gsoECN
	if gso != gsoTCPv4 && gso != gsoTCPv6 || len(frame) < ethHdrLen {
		return nil, false
	}
	etype := binary.BigEndian.Uint16(frame[12:])
	var ipLen int
	var src, dst netip.Addr
	switch {
	case gso == gsoTCPv4 && etype == etherIPv4:
		if len(frame) < ethHdrLen+20 {
			return nil, false
		}
		ip := frame[ethHdrLen:]
		ipLen = int(ip[0]&0xf) * 4
		if ip[0]>>4 != 4 || ipLen < 20 || ip[9] != tcpip.ProtocolTCP || len(ip) < ipLen {
			return nil, false
		}
		src, dst = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
	case gso == gsoTCPv6 && etype == etherIPv6:
		if len(frame) < ethHdrLen+40 {
			return nil, false
		}
		ip := frame[ethHdrLen:]
		ipLen = 40
		// Extension headers before TCP are not expected from a host
		// TCP socket; such a frame is dropped.
		if ip[0]>>4 != 6 || ip[6] != tcpip.ProtocolTCP {
			return nil, false
		}
		src, dst = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40]))
	default:
		return nil, false
	}
	tcpOff := ethHdrLen + ipLen
	if len(frame) < tcpOff+20 {
		return nil, false
	}
	tcpLen := int(frame[tcpOff+12]>>4) * 4
	hdrLen := tcpOff + tcpLen
	mss := int(h.gsoSize)
	if tcpLen < 20 || len(frame) < hdrLen || mss <= 0 || mss > mtu {
		return nil, false
	}
	payload := frame[hdrLen:]
	nseg := (len(payload) + mss - 1) / mss
	if nseg == 0 {
		nseg = 1
	}
	buf := s.alloc(nseg*hdrLen + len(payload))
	s.out = s.out[:0]
	seq := binary.BigEndian.Uint32(frame[tcpOff+4:])
	flags := frame[tcpOff+13]
	var ipID uint16
	if gso == gsoTCPv4 {
		ipID = binary.BigEndian.Uint16(frame[ethHdrLen+4:])
	}
	for i := 0; i < nseg; i++ {
		chunk := payload[min(i*mss, len(payload)):min((i+1)*mss, len(payload))]
		seg := buf[:hdrLen+len(chunk)]
		buf = buf[len(seg):]
		copy(seg, frame[:hdrLen])
		copy(seg[hdrLen:], chunk)
		ip := seg[ethHdrLen:]
		if gso == gsoTCPv4 {
			binary.BigEndian.PutUint16(ip[2:], uint16(ipLen+tcpLen+len(chunk)))
			binary.BigEndian.PutUint16(ip[4:], ipID+uint16(i))
			ip[10], ip[11] = 0, 0
			binary.BigEndian.PutUint16(ip[10:], checksum.Checksum(ip[:ipLen]))
		} else {
			binary.BigEndian.PutUint16(ip[4:], uint16(tcpLen+len(chunk)))
		}
		tcp := seg[tcpOff:]
		binary.BigEndian.PutUint32(tcp[4:], seq+uint32(i*mss))
		f := flags
		if i != nseg-1 {
			f &^= tcpFlagFIN | tcpFlagPSH
		}
		if i != 0 {
			f &^= tcpFlagCWR
		}
		tcp[13] = f
		tcp[16], tcp[17] = 0, 0
		binary.BigEndian.PutUint16(tcp[16:], checksum.Transport(src, dst, tcpip.ProtocolTCP, tcp))
		s.out = append(s.out, seg)
	}
	return s.out, true
}
