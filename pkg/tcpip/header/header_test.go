package header

import (
	"net/netip"
	"testing"

	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
)

func TestARPRoundTrip(t *testing.T) {
	b := make([]byte, ARPSize)
	smac := tcpip.LinkAddress{2, 1, 2, 3, 4, 5}
	sip, tip := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("10.1.2.4")
	EncodeARP(b, ARPRequest, smac, sip, tcpip.LinkAddress{}, tip)
	a := ARP(b)
	if !a.IsValid() || a.Op() != ARPRequest || a.SenderMAC() != smac || a.SenderIP() != sip || a.TargetIP() != tip {
		t.Fatalf("parsed %v %v %v %v", a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetIP())
	}
	if ARP(b[:27]).IsValid() {
		t.Fatal("truncated ARP is valid")
	}
}

// TestIPv4Options checks that a header with options (IHL 7) is valid,
// its checksum verifies and its payload starts after the options.
func TestIPv4Options(t *testing.T) {
	p := make([]byte, 28+4)
	EncodeIPv4(p, IPv4Fields{TotalLength: 32, ID: 5, TTL: 64, Protocol: 17, DontFragment: true,
		Src: netip.MustParseAddr("1.2.3.4"), Dst: netip.MustParseAddr("5.6.7.8")})
	p[0] = 0x47
	copy(p[20:28], []byte{1, 1, 1, 1, 1, 1, 1, 0}) // NOPs and end of list
	copy(p[28:], "data")
	p[10], p[11] = 0, 0
	c := checksum.Checksum(p[:28])
	p[10], p[11] = byte(c>>8), byte(c)
	ip := IPv4(p)
	if !ip.IsValid() || !ip.ChecksumValid() || string(ip.Payload()) != "data" || len(ip.Options()) != 8 {
		t.Fatalf("valid %v checksum %v payload %q", ip.IsValid(), ip.ChecksumValid(), ip.Payload())
	}
	if !ip.DontFragment() || ip.IsFragment() || ip.ID() != 5 || ip.Src() != netip.MustParseAddr("1.2.3.4") {
		t.Fatal("fields")
	}
	p[0] = 0x4f // header longer than the packet
	if ip.IsValid() {
		t.Fatal("IHL past the end is valid")
	}
	p[0] = 0x44
	if ip.IsValid() {
		t.Fatal("IHL 4 is valid")
	}
}

func TestIPv4Fragment(t *testing.T) {
	p := make([]byte, 20)
	EncodeIPv4(p, IPv4Fields{TotalLength: 20, MoreFragments: true, FragmentOffset: 1480, Src: netip.IPv4Unspecified(), Dst: netip.IPv4Unspecified()})
	ip := IPv4(p)
	if !ip.IsFragment() || !ip.MoreFragments() || ip.FragmentOffset() != 1480 || !ip.ChecksumValid() {
		t.Fatal("fragment fields")
	}
}

func TestWalkIPv6Extensions(t *testing.T) {
	hbh := []byte{IPv6Routing, 0, 1, 4, 0, 0, 0, 0}    // PadN
	rt := []byte{IPv6DestOptions, 0, 0, 0, 0, 0, 0, 0} // segments left 0
	dst := []byte{17, 0, 5, 2, 0, 0, 0, 0}             // router alert, 2 bytes; then Pad1s
	chain := append(append(append(append([]byte{}, hbh...), rt...), dst...), 1, 2, 3, 4)
	res, _, _, e := WalkIPv6Extensions(chain, IPv6HopByHop, true)
	if e != ExtOK || res.Proto != 17 || res.Offset != 24 || res.ProtoOffset != 16 {
		t.Fatalf("walk = %+v, %v", res, e)
	}
	if _, _, _, e := WalkIPv6Extensions(chain[:20], IPv6HopByHop, true); e != ExtTruncated {
		t.Fatalf("truncated chain: %v", e)
	}
	if _, ptr, code, e := WalkIPv6Extensions(chain, IPv6HopByHop, false); e != ExtParamProblem || code != 1 || ptr != -1 {
		t.Fatalf("hop-by-hop not first: %v ptr %d code %d", e, ptr, code)
	}
	// Unknown option types: 00xxxxxx skipped, 01 discard, 10 error.
	for _, c := range []struct {
		typ  byte
		want IPv6ExtError
	}{{0x1e, ExtOK}, {0x5e, ExtDiscard}, {0x9e, ExtParamProblem}, {0xde, ExtParamProblem}} {
		o := []byte{17, 0, c.typ, 1, 0, 1, 0, 0}
		_, ptr, code, e := WalkIPv6Extensions(o, IPv6DestOptions, false)
		if e != c.want || (e == ExtParamProblem && (ptr != 2 || code != 2)) {
			t.Errorf("option %#x: %v ptr %d code %d", c.typ, e, ptr, code)
		}
	}
	// Segments left: we do not forward.
	if _, ptr, _, e := WalkIPv6Extensions([]byte{17, 0, 0, 1, 0, 0, 0, 0}, IPv6Routing, true); e != ExtParamProblem || ptr != 2 {
		t.Fatalf("routing header with segments left: %v %d", e, ptr)
	}
	res, _, _, e = WalkIPv6Extensions([]byte{17, 0, 0x05, 0xa9, 0, 0, 0, 9, 1, 2}, IPv6Fragment, true)
	if e != ExtOK || res.Proto != IPv6Fragment || res.Offset != 0 {
		t.Fatalf("fragment: %+v %v", res, e)
	}
	f := IPv6FragmentHeader([]byte{17, 0, 0x05, 0xa9, 0, 0, 0, 9})
	if f.Offset() != 0x5a8 || !f.More() || f.ID() != 9 || f.NextHeader() != 17 {
		t.Fatalf("fragment header %d %v %d", f.Offset(), f.More(), f.ID())
	}
}

func TestNDP(t *testing.T) {
	mac := tcpip.LinkAddress{0x52, 0x54, 0, 0x12, 0x34, 0x56}
	if got := LinkLocalEUI64(mac); got != netip.MustParseAddr("fe80::5054:ff:fe12:3456") {
		t.Fatalf("EUI-64 = %v", got)
	}
	a := netip.MustParseAddr("2001:db8::1:2:3")
	sn := SolicitedNodeMulticast(a)
	if sn != netip.MustParseAddr("ff02::1:ff02:3") || !IsSolicitedNodeMulticast(sn) || IsSolicitedNodeMulticast(IPv6AllNodes) {
		t.Fatalf("solicited-node %v", sn)
	}
	if m := EthernetMulticast6(sn.As16()); m != (tcpip.LinkAddress{0x33, 0x33, 0xff, 0x02, 0, 3}) {
		t.Fatalf("multicast MAC %v", m)
	}
	opts := make([]byte, 16)
	opts[0], opts[1] = 14, 1 // an unknown option, skipped
	EncodeNDPLinkLayerOption(opts[8:], NDPOptSourceLinkLayer, mac)
	got, found, ok := NDPLinkLayerOption(opts, NDPOptSourceLinkLayer)
	if !ok || !found || got != mac {
		t.Fatalf("option: %v %v %v", got, found, ok)
	}
	if _, found, _ := NDPLinkLayerOption(opts, NDPOptTargetLinkLayer); found {
		t.Fatal("found a target option")
	}
	opts[1] = 0
	if _, _, ok := NDPLinkLayerOption(opts, NDPOptSourceLinkLayer); ok {
		t.Fatal("zero-length option accepted")
	}
	if m := EthernetMulticast4([4]byte{239, 129, 2, 3}); m != (tcpip.LinkAddress{1, 0, 0x5e, 1, 2, 3}) {
		t.Fatalf("IPv4 multicast MAC %v", m)
	}
}
