package stack

import (
	"net/netip"
	"sync"
	"testing"

	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// TestICMPReceiver: a's SendICMP carries an echo request with the
// chosen TTL; b's receiver sees the request (which b still answers) and
// a's sees the reply, with the IPv4 header.
func TestICMPReceiver(t *testing.T) {
	n := newNet(t, netOpts{})
	var mu sync.Mutex
	var atA, atB []ICMPPacket
	keep := func(l *[]ICMPPacket) ICMPReceiver {
		return func(p *ICMPPacket) {
			c := *p
			c.IPHeader = append([]byte(nil), p.IPHeader...)
			c.Message = append([]byte(nil), p.Message...)
			mu.Lock()
			*l = append(*l, c)
			mu.Unlock()
		}
	}
	n.a.SetICMPReceiver(keep(&atA))
	n.b.SetICMPReceiver(keep(&atB))
	defer n.a.SetICMPReceiver(nil)
	defer n.b.SetICMPReceiver(nil)
	n.start()
	for _, c := range []struct {
		dst       netip.Addr
		req, resp uint8
	}{
		{b4, header.ICMPv4EchoRequest, header.ICMPv4EchoReply},
		{b6, header.ICMPv6EchoRequest, header.ICMPv6EchoReply},
	} {
		m := make([]byte, header.ICMPHeaderSize+20)
		header.EncodeICMP(m, c.req, 0, 0x55550001)
		src := a4
		if c.dst.Is6() {
			src = a6
			header.ICMP(m).SetChecksum(checksum.Transport(src, c.dst, tcpip.ProtocolICMPv6, m))
		} else {
			header.ICMP(m).SetChecksum(checksum.Checksum(m))
		}
		if err := n.a.SendICMP(netip.Addr{}, c.dst, m, 7, 0); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the reply at a", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range atA {
				if p.Message[0] == c.resp && p.Src == c.dst {
					return true
				}
			}
			return false
		})
		mu.Lock()
		var req *ICMPPacket
		for i := range atB {
			if atB[i].Message[0] == c.req {
				req = &atB[i]
			}
		}
		if req == nil || req.TTL != 7 || !req.ChecksumOK || !req.Unicast || req.Src != src {
			t.Errorf("b saw request %+v", req)
		}
		if c.dst.Is4() && (req == nil || len(req.IPHeader) != header.IPv4MinSize || !header.IPv4(req.IPHeader).DontFragment()) {
			t.Errorf("b's request header %+v", req)
		}
		mu.Unlock()
	}
	if err := n.a.SendICMP(netip.MustParseAddr("10.0.0.9"), b4, make([]byte, 8), 0, 0); err == nil {
		t.Error("SendICMP from a foreign source succeeded")
	}
}
