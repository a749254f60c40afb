package stack

import (
	"net/netip"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// packetBuf holds the frames of one outgoing packet: buf is carved into
// frames. Pooled so that sending does not allocate.
type packetBuf struct {
	buf    []byte
	frames [][]byte
}

var packetPool = sync.Pool{New: func() any { return new(packetBuf) }}

func getPacketBuf(size int) *packetBuf {
	pb := packetPool.Get().(*packetBuf)
	if cap(pb.buf) < size {
		pb.buf = make([]byte, size)
	}
	pb.buf = pb.buf[:size]
	pb.frames = pb.frames[:0]
	return pb
}

func putPacketBuf(pb *packetBuf) {
	if cap(pb.buf) > 1<<17 {
		// Do not keep buffers of giant datagrams around.
		pb.buf = nil
	}
	packetPool.Put(pb)
}

// SendTransport implements tcpip.NetworkSender. src may be the
// unspecified address (or invalid), in which case the route's source is
// used; otherwise it must be one of the interface's addresses.
func (s *Stack) SendTransport(src, dst netip.Addr, proto uint8, payload []byte) error {
	return s.sendIP(src, dst, proto, nil, payload, proto == tcpip.ProtocolTCP)
}

// sendIP sends hdr and payload (concatenated) as the payload of an IP
// packet from src to dst. df asks for the IPv4 don't-fragment bit when
// the packet fits; larger packets are always fragmented.
func (s *Stack) sendIP(src, dst netip.Addr, proto uint8, hdr, payload []byte, df bool) error {
	dst = dst.Unmap().WithZone("")
	rsrc, nextHop, err := s.lookup(dst)
	if err != nil {
		inc(&s.stats.IPNoRoute)
		return err
	}
	if !src.IsValid() || src.IsUnspecified() {
		src = rsrc
	} else if src = src.Unmap().WithZone(""); !s.isOurs(src) || src.Is4() != dst.Is4() {
		return linux.EADDRNOTAVAIL
	}
	inc(&s.stats.IPOut)
	if dst.Is4() {
		return s.sendIPv4(src, dst, nextHop, proto, hdr, payload, df)
	}
	return s.sendIPv6(src, dst, nextHop, proto, hdr, payload)
}

// transmit sends a packet's frames, whose Ethernet destination is not
// yet filled in, to nextHop: directly for multicast, broadcast and
// resolved neighbors, else after resolution.
func (s *Stack) transmit(nextHop netip.Addr, frames [][]byte) error {
	var mac tcpip.LinkAddress
	switch {
	case nextHop.Is4() && nextHop.IsMulticast():
		mac = header.EthernetMulticast4(nextHop.As4())
	case nextHop.Is6() && nextHop.IsMulticast():
		mac = header.EthernetMulticast6(nextHop.As16())
	case nextHop.Is4() && s.isBroadcast4(nextHop):
		mac = header.BroadcastMAC
	default:
		var ok bool
		if mac, ok = s.resolve(nextHop, frames); !ok {
			// Queued (or dropped) until resolution ends.
			return nil
		}
	}
	for _, f := range frames {
		header.Ethernet(f).SetDst(mac)
	}
	return s.writeFrames(frames)
}

// writeFrames writes complete frames to the link and counts them.
func (s *Stack) writeFrames(frames [][]byte) error {
	if len(frames) == 0 {
		return nil
	}
	if err := s.link.WriteFrames(frames); err != nil {
		inc(&s.stats.LinkWriteErrors)
		return err
	}
	add(&s.stats.FramesOut, len(frames))
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	add(&s.stats.BytesOut, n)
	return nil
}

// sendDirect sends one frame to a known MAC address without the
// neighbor cache: replies to ARP and neighbor solicitations go to
// whoever asked.
func (s *Stack) sendDirect(frame []byte, mac tcpip.LinkAddress) {
	header.Ethernet(frame).SetDst(mac)
	var one [1][]byte
	one[0] = frame
	_ = s.writeFrames(one[:])
}

// transportChecksum computes the UDP/ICMPv6 checksum over a packet
// given as a header and a payload (hdr of even length).
func transportChecksum(src, dst netip.Addr, proto uint8, hdr, payload []byte) uint16 {
	sum := checksum.PseudoHeader(src, dst, proto, len(hdr)+len(payload))
	sum = checksum.Add(sum, hdr)
	return ^checksum.Add(sum, payload)
}
