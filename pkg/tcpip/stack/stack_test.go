package stack

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
	"appkernel.dev/appkernel/pkg/tcpip/header"
	"appkernel.dev/appkernel/pkg/tcpip/link/channel"
)

// TestResolutionAndUDP sends datagrams both ways over both families:
// the first needs ARP or neighbor discovery, and both sides end up
// knowing each other's MAC.
func TestResolutionAndUDP(t *testing.T) {
	n := newNet(t, netOpts{})
	ka, kb := newUDPSink(n.a, 1000), newUDPSink(n.b, 2000)
	n.start()
	for _, pair := range [][2]netip.Addr{{a4, b4}, {a6, b6}} {
		aAddr, bAddr := pair[0], pair[1]
		if err := n.a.SendUDP(netip.AddrPortFrom(netip.Addr{}, 1000), netip.AddrPortFrom(bAddr, 2000), []byte("hello b")); err != nil {
			t.Fatal(err)
		}
		m := kb.get(t)
		if m.local != netip.AddrPortFrom(bAddr, 2000) || m.remote != netip.AddrPortFrom(aAddr, 1000) || string(m.payload) != "hello b" {
			t.Fatalf("b got %+v", m)
		}
		if mac, ok := n.a.Neighbor(bAddr); !ok || mac != macB {
			t.Fatalf("a's neighbor entry for %v = %v %v", bAddr, mac, ok)
		}
		// b learned a from the request, so its reply needs no
		// resolution of its own.
		if mac, ok := n.b.Neighbor(aAddr); !ok || mac != macA {
			t.Fatalf("b's neighbor entry for %v = %v %v", aAddr, mac, ok)
		}
		if err := n.b.SendUDP(netip.AddrPortFrom(bAddr, 2000), netip.AddrPortFrom(aAddr, 1000), []byte("hello a")); err != nil {
			t.Fatal(err)
		}
		m = ka.get(t)
		if m.remote != netip.AddrPortFrom(bAddr, 2000) || string(m.payload) != "hello a" {
			t.Fatalf("a got %+v", m)
		}
	}
	sa, sb := n.a.Stats(), n.b.Stats()
	if sa.ARPOut != 1 || sb.ARPOut != 1 || sb.ARPIn != 1 {
		t.Errorf("ARP: a out %d, b in %d out %d; want one request and one reply", sa.ARPOut, sb.ARPIn, sb.ARPOut)
	}
	if sa.NDOut != 1 || sb.NDOut != 1 {
		t.Errorf("ND: a out %d, b out %d; want one solicitation and one advertisement", sa.NDOut, sb.NDOut)
	}
	if sa.UDPOut != 2 || sb.UDPIn != 2 || sb.UDPOut != 2 || sa.UDPIn != 2 {
		t.Errorf("UDP counters: %+v %+v", sa, sb)
	}
}

// TestLinkLocal reaches the peer's EUI-64 link-local address, which
// every stack has, from our own link-local address.
func TestLinkLocal(t *testing.T) {
	n := newNet(t, netOpts{})
	kb := newUDPSink(n.b, 53)
	n.start()
	llA, llB := header.LinkLocalEUI64(macA), header.LinkLocalEUI64(macB)
	if llB != netip.MustParseAddr("fe80::ff:fe00:b") {
		t.Fatalf("EUI-64 of %v = %v", macB, llB)
	}
	src, _, err := n.a.Route(llB.WithZone("eth0"))
	if err != nil || src != llA {
		t.Fatalf("Route(%v) = %v, %v; want %v", llB, src, err, llA)
	}
	if err := n.a.SendUDP(netip.AddrPort{}, netip.AddrPortFrom(llB, 53), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m := kb.get(t); m.remote.Addr() != llA || m.local.Addr() != llB {
		t.Fatalf("got %+v", m)
	}
}

// TestPing sends echo requests of both families and checks the
// replies on the wire.
func TestPing(t *testing.T) {
	n := newNet(t, netOpts{})
	var tp tap
	n.lb.SetHook(tp.hook(nil))
	n.start()
	data := pattern(300)
	for _, c := range []struct {
		src, dst  netip.Addr
		proto     uint8
		req, resp uint8
	}{
		{a4, b4, tcpip.ProtocolICMPv4, header.ICMPv4EchoRequest, header.ICMPv4EchoReply},
		{a6, b6, tcpip.ProtocolICMPv6, header.ICMPv6EchoRequest, header.ICMPv6EchoReply},
	} {
		m := make([]byte, header.ICMPHeaderSize+len(data))
		header.EncodeICMP(m, c.req, 0, 0x12340007)
		copy(m[8:], data)
		var sum uint16
		if c.dst.Is4() {
			sum = checksum.Checksum(m)
		} else {
			sum = checksum.Transport(c.src, c.dst, c.proto, m)
		}
		header.ICMP(m).SetChecksum(sum)
		if err := n.a.SendTransport(c.src, c.dst, c.proto, m); err != nil {
			t.Fatal(err)
		}
		var reply []byte
		waitFor(t, "echo reply", func() bool {
			reply = tp.find(func(f []byte) bool { return icmpOf(f, c.resp) != nil })
			return reply != nil
		})
		r := icmpOf(reply, c.resp)
		if r.Ident() != 0x1234 || r.Seq() != 7 {
			t.Fatalf("reply id/seq %#x/%d", r.Ident(), r.Seq())
		}
		mustEqual(t, "echo data", r.Rest(), data)
		ok := false
		if c.dst.Is4() {
			ok = checksum.Checksum(r) == 0
		} else {
			ok = checksum.Transport(c.dst, c.src, c.proto, r) == 0
		}
		if !ok {
			t.Fatal("echo reply checksum does not verify")
		}
	}
	if got := n.b.Stats().EchoRequestsIn; got != 2 {
		t.Errorf("EchoRequestsIn = %d, want 2", got)
	}
}

// icmpOf returns the ICMP message of type typ that frame f carries, if
// it carries one.
func icmpOf(f []byte, typ uint8) header.ICMP {
	eth := header.Ethernet(f)
	switch eth.Type() {
	case header.EtherTypeIPv4:
		ip := header.IPv4(eth.Payload())
		if ip.IsValid() && ip.Protocol() == tcpip.ProtocolICMPv4 && len(ip.Payload()) >= 8 && ip.Payload()[0] == typ {
			return ip.Payload()
		}
	case header.EtherTypeIPv6:
		ip := header.IPv6(eth.Payload())
		if ip.IsValid() && ip.NextHeader() == tcpip.ProtocolICMPv6 && len(ip.Payload()) >= 8 && ip.Payload()[0] == typ {
			return ip.Payload()
		}
	}
	return nil
}

// TestFragmentation sends 20 KB datagrams, which must be fragmented to
// the 1500-byte MTU and reassembled.
func TestFragmentation(t *testing.T) {
	n := newNet(t, netOpts{})
	kb := newUDPSink(n.b, 9)
	var tp tap
	n.la.SetHook(tp.hook(nil))
	n.start()
	data := pattern(20000)
	for _, dst := range []netip.Addr{b4, b6} {
		if err := n.a.SendUDP(netip.AddrPortFrom(netip.Addr{}, 5), netip.AddrPortFrom(dst, 9), data); err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "reassembled datagram", kb.get(t).payload, data)
	}
	tp.mu.Lock()
	for _, f := range tp.frames {
		if len(f) > header.EthernetSize+1500 {
			t.Errorf("frame of %d bytes exceeds the MTU", len(f))
		}
	}
	tp.mu.Unlock()
	sa, sb := n.a.Stats(), n.b.Stats()
	// 20008 bytes: 14 IPv4 fragments of 1480, 14 IPv6 fragments of 1448.
	if sa.Fragmented != 2 || sa.FragmentsOut != 28 {
		t.Errorf("a: Fragmented %d FragmentsOut %d, want 2 and 28", sa.Fragmented, sa.FragmentsOut)
	}
	if sb.FragmentsIn != 28 || sb.Reassembled != 2 || n.b.FragmentMemory() != 0 {
		t.Errorf("b: FragmentsIn %d Reassembled %d memory %d", sb.FragmentsIn, sb.Reassembled, n.b.FragmentMemory())
	}
}

// TestFragmentsReorderedAndDuplicated delivers fragments backwards with
// each one twice; the datagram still arrives once, intact.
func TestFragmentsReorderedAndDuplicated(t *testing.T) {
	n := newNet(t, netOpts{})
	kb := newUDPSink(n.b, 9)
	n.start()
	// Resolve first so the fragments travel in one batch.
	for _, dst := range []netip.Addr{b4, b6} {
		if err := n.a.SendUDP(netip.AddrPortFrom(netip.Addr{}, 5), netip.AddrPortFrom(dst, 9), []byte("warm")); err != nil {
			t.Fatal(err)
		}
		kb.get(t)
	}
	n.la.SetHook(func(fs [][]byte) [][]byte {
		var out [][]byte
		for i := len(fs) - 1; i >= 0; i-- {
			out = append(out, fs[i], append([]byte(nil), fs[i]...))
		}
		return out
	})
	data := pattern(9000)
	for _, dst := range []netip.Addr{b4, b6} {
		if err := n.a.SendUDP(netip.AddrPortFrom(netip.Addr{}, 5), netip.AddrPortFrom(dst, 9), data); err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "reassembled datagram", kb.get(t).payload, data)
	}
	kb.none(t, 50*time.Millisecond)
	if s := n.b.Stats(); s.Reassembled != 2 || s.ReassemblyFailures != 0 {
		t.Errorf("Reassembled %d failures %d", s.Reassembled, s.ReassemblyFailures)
	}
}

// TestOverlappingFragments checks RFC 5722: an IPv6 fragment that
// overlaps another (without repeating it exactly) discards the packet.
func TestOverlappingFragments(t *testing.T) {
	n := newNet(t, netOpts{})
	kb := newUDPSink(n.b, 9)
	n.start()
	u := udpPacket(a6, b6, 5, 9, pattern(40))
	frag := func(off int, more bool, data []byte) []byte {
		p := make([]byte, header.IPv6FragmentSize+len(data))
		header.EncodeIPv6Fragment(p, tcpip.ProtocolUDP, off, more, 99)
		copy(p[8:], data)
		return ipv6Frame(macB, macA, a6, b6, header.IPv6Fragment, p)
	}
	// [0,24) then [16,48): overlap at 16..24, then the rest.
	n.lb.Inject([][]byte{frag(0, true, u[:24]), frag(16, false, u[16:]), frag(24, false, u[24:])})
	kb.none(t, 100*time.Millisecond)
	waitFor(t, "failure count", func() bool { return n.b.Stats().ReassemblyFailures == 1 })
	// A clean retry with another id still works.
	n.lb.Inject([][]byte{frag(24, false, u[24:]), frag(0, true, u[:24])})
	mustEqual(t, "datagram", kb.get(t).payload, pattern(40))
}

// TestReassemblyTimeout loses the last fragment: the partial datagram
// is freed after the timeout and the sender hears time exceeded.
func TestReassemblyTimeout(t *testing.T) {
	n := newNet(t, netOpts{tweak: func(a, b *Stack) { b.reassemblyTime = 100 * time.Millisecond }})
	kb := newUDPSink(n.b, 9)
	ctl := make(chan tcpip.ControlKind, 4)
	n.a.SetUDPControl(func(local, remote netip.AddrPort, kind tcpip.ControlKind, mtu uint32) { ctl <- kind })
	n.start()
	for _, dst := range []netip.Addr{b4, b6} {
		if err := n.a.SendUDP(netip.AddrPortFrom(netip.Addr{}, 5), netip.AddrPortFrom(dst, 9), []byte("warm")); err != nil {
			t.Fatal(err)
		}
		kb.get(t)
	}
	n.la.SetHook(func(fs [][]byte) [][]byte { return fs[:len(fs)-1] })
	for i, dst := range []netip.Addr{b4, b6} {
		if err := n.a.SendUDP(netip.AddrPortFrom(netip.Addr{}, 5), netip.AddrPortFrom(dst, 9), pattern(5000)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "reassembly timeout", func() bool { return n.b.Stats().ReassemblyTimeouts == uint64(i+1) })
		select {
		case k := <-ctl:
			if k != tcpip.ControlTimeExceeded {
				t.Fatalf("control kind %v, want time exceeded", k)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("sender not told of the reassembly timeout")
		}
	}
	kb.none(t, 10*time.Millisecond)
	if m := n.b.FragmentMemory(); m != 0 {
		t.Fatalf("fragment memory %d after timeout", m)
	}
}

// TestFragmentMemoryLimit fills the reassembly memory with incomplete
// datagrams: the limit holds and the oldest are evicted.
func TestFragmentMemoryLimit(t *testing.T) {
	n := newNet(t, netOpts{tweak: func(a, b *Stack) { b.frag.limit = 64 << 10 }})
	n.start()
	var frames [][]byte
	for id := 0; id < 200; id++ {
		p := make([]byte, header.IPv6FragmentSize+1024)
		header.EncodeIPv6Fragment(p, tcpip.ProtocolUDP, 0, true, uint32(id))
		frames = append(frames, ipv6Frame(macB, macA, a6, b6, header.IPv6Fragment, p))
	}
	n.lb.Inject(frames)
	waitFor(t, "fragments", func() bool { return n.b.Stats().FragmentsIn == 200 })
	if m := n.b.FragmentMemory(); m > 64<<10 || m < 32<<10 {
		t.Fatalf("fragment memory %d, want near the 64 KiB limit", m)
	}
	if f := n.b.Stats().ReassemblyFailures; f < 100 {
		t.Fatalf("only %d evictions", f)
	}
}

// TestPortUnreachable sends to a closed port: the sender's UDP control
// hook and a registered transport hear about it, and the replies are
// rate limited.
func TestPortUnreachable(t *testing.T) {
	n := newNet(t, netOpts{})
	newUDPSink(n.b, 1)
	type udpCtl struct {
		local, remote netip.AddrPort
		kind          tcpip.ControlKind
	}
	ctl := make(chan udpCtl, 1000)
	n.a.SetUDPControl(func(local, remote netip.AddrPort, kind tcpip.ControlKind, mtu uint32) {
		ctl <- udpCtl{local, remote, kind}
	})
	tr := newFakeTransport()
	n.a.RegisterTransport(tcpip.ProtocolTCP, tr)
	n.start()
	for _, pair := range [][2]netip.Addr{{a4, b4}, {a6, b6}} {
		if err := n.a.SendUDP(netip.AddrPortFrom(netip.Addr{}, 4444), netip.AddrPortFrom(pair[1], 7777), []byte("anyone?")); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-ctl:
			want := udpCtl{netip.AddrPortFrom(pair[0], 4444), netip.AddrPortFrom(pair[1], 7777), tcpip.ControlPortUnreachable}
			if c != want {
				t.Fatalf("control %+v, want %+v", c, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no port unreachable")
		}
	}
	// b runs no TCP: IPv4 answers protocol unreachable (host
	// unreachable to the sender), IPv6 a parameter problem.
	seg := []byte{0x30, 0x39, 0x00, 0x50, 1, 2, 3, 4}
	if err := n.a.SendTransport(netip.Addr{}, b4, tcpip.ProtocolTCP, seg); err != nil {
		t.Fatal(err)
	}
	c := tr.getControl(t)
	if c.local != a4 || c.remote != b4 || c.kind != tcpip.ControlHostUnreachable {
		t.Fatalf("TCP control %+v", c)
	}
	mustEqual(t, "quoted segment", c.quoted[:8], seg)

	// A flood gets at most the burst back.
	before := n.b.Stats().ICMPOut
	for range 300 {
		_ = n.a.SendUDP(netip.AddrPortFrom(netip.Addr{}, 4444), netip.AddrPortFrom(b4, 7777), []byte("x"))
	}
	waitFor(t, "flood", func() bool { return n.b.Stats().UDPNoPort >= 302 })
	s := n.b.Stats()
	if sent := s.ICMPOut - before; sent > 60 || s.ICMPRateLimited < 200 {
		t.Fatalf("flood of 300: %d errors sent, %d rate limited", sent, s.ICMPRateLimited)
	}
}

// TestGateway routes an off-link destination through a gateway: the
// gateway's MAC is resolved and the packet keeps its real destination.
func TestGateway(t *testing.T) {
	gw4, gw6 := netip.MustParseAddr("10.0.0.254"), netip.MustParseAddr("fd00::fe")
	far4, far6 := netip.MustParseAddr("192.168.5.7"), netip.MustParseAddr("2001:db8::7")
	n := newNet(t, netOpts{
		aRoutes: []Route{
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: gw4},
			{Dst: netip.MustParsePrefix("::/0"), Gateway: gw6},
		},
		bAddrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.254/24"), netip.MustParsePrefix("fd00::fe/64")},
	})
	var tp tap
	n.la.SetHook(tp.hook(nil))
	n.start()
	for _, c := range []struct{ far, gw, src netip.Addr }{{far4, gw4, a4}, {far6, gw6, a6}} {
		src, mtu, err := n.a.Route(c.far)
		if err != nil || src != c.src || mtu != 1500 {
			t.Fatalf("Route(%v) = %v %d %v", c.far, src, mtu, err)
		}
		if err := n.a.SendUDP(netip.AddrPort{}, netip.AddrPortFrom(c.far, 53), []byte("q")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "frame to the gateway", func() bool {
			return tp.find(func(f []byte) bool { return udpDst(f) == c.far }) != nil
		})
		f := tp.find(func(f []byte) bool { return udpDst(f) == c.far })
		if header.Ethernet(f).Dst() != macB {
			t.Fatalf("frame for %v sent to %v, want the gateway's %v", c.far, header.Ethernet(f).Dst(), macB)
		}
		if mac, ok := n.a.Neighbor(c.gw); !ok || mac != macB {
			t.Fatalf("gateway %v not resolved", c.gw)
		}
		if _, ok := n.a.Neighbor(c.far); ok {
			t.Fatalf("far host %v has a neighbor entry", c.far)
		}
	}
	// The gateway is not the destination: its IP layer drops them.
	waitFor(t, "drops", func() bool { return n.b.Stats().IPNotForUs == 2 })
}

// udpDst is the IP destination of a UDP packet in frame f.
func udpDst(f []byte) netip.Addr {
	eth := header.Ethernet(f)
	switch eth.Type() {
	case header.EtherTypeIPv4:
		if ip := header.IPv4(eth.Payload()); ip.IsValid() && ip.Protocol() == tcpip.ProtocolUDP {
			return ip.Dst()
		}
	case header.EtherTypeIPv6:
		if ip := header.IPv6(eth.Payload()); ip.IsValid() && ip.NextHeader() == tcpip.ProtocolUDP {
			return ip.Dst()
		}
	}
	return netip.Addr{}
}

// TestRoute checks source selection and unreachable destinations.
func TestRoute(t *testing.T) {
	la, _ := channel.Pair(macA, macB, 1500)
	s, err := New(Config{Link: la, Addrs: []netip.Prefix{
		netip.MustParsePrefix("172.17.0.2/16"), netip.MustParsePrefix("2001:db8:1::2/64"),
	}, Routes: []Route{{Dst: netip.MustParsePrefix("::/0"), Gateway: netip.MustParseAddr("fe80::1")}}})
	if err != nil {
		t.Fatal(err)
	}
	ll := header.LinkLocalEUI64(macA)
	for _, c := range []struct {
		dst  string
		src  netip.Addr
		fail bool
	}{
		{"172.17.0.1", netip.MustParseAddr("172.17.0.2"), false},
		{"8.8.8.8", netip.Addr{}, true}, // no IPv4 default route
		{"2001:db8:1::1", netip.MustParseAddr("2001:db8:1::2"), false},
		{"2606:4700::1111", netip.MustParseAddr("2001:db8:1::2"), false}, // global preferred via a link-local gateway
		{"fe80::1", ll, false},
		{"ff02::1", ll, false},
		{"::ffff:172.17.0.9", netip.MustParseAddr("172.17.0.2"), false},
		{"127.0.0.1", netip.Addr{}, true},
	} {
		src, _, err := s.Route(netip.MustParseAddr(c.dst))
		if c.fail {
			if !errors.Is(err, linux.ENETUNREACH) {
				t.Errorf("Route(%s) = %v, %v; want ENETUNREACH", c.dst, src, err)
			}
			continue
		}
		if err != nil || src != c.src {
			t.Errorf("Route(%s) = %v, %v; want %v", c.dst, src, err, c.src)
		}
	}
	if err := s.SendUDP(netip.AddrPort{}, netip.MustParseAddrPort("8.8.8.8:53"), nil); !errors.Is(err, linux.ENETUNREACH) {
		t.Errorf("SendUDP without a route: %v", err)
	}
	if err := s.SendTransport(netip.MustParseAddr("10.9.9.9"), netip.MustParseAddr("172.17.0.1"), tcpip.ProtocolTCP, nil); !errors.Is(err, linux.EADDRNOTAVAIL) {
		t.Errorf("SendTransport from a foreign address: %v", err)
	}
}

// TestDrops injects frames the stack must refuse, and checks that each
// is counted and none is delivered.
func TestDrops(t *testing.T) {
	n := newNet(t, netOpts{})
	kb := newUDPSink(n.b, 9)
	n.start()
	good4 := func() []byte {
		return ipv4Frame(macB, macA, a4, b4, tcpip.ProtocolUDP, udpPacket(a4, b4, 5, 9, []byte("data")))
	}
	good6 := func() []byte {
		return ipv6Frame(macB, macA, a6, b6, tcpip.ProtocolUDP, udpPacket(a6, b6, 5, 9, []byte("data")))
	}
	other := netip.MustParseAddr("10.0.0.99")
	cases := []struct {
		name  string
		frame []byte
		stat  func(Stats) uint64
	}{
		{"other MAC", func() []byte {
			f := good4()
			header.Ethernet(f).SetDst(tcpip.LinkAddress{2, 9, 9, 9, 9, 9})
			return f
		}(), func(s Stats) uint64 { return s.FramesDropped }},
		{"other IPv4 address", ipv4Frame(macB, macA, a4, other, tcpip.ProtocolUDP, udpPacket(a4, other, 5, 9, []byte("data"))),
			func(s Stats) uint64 { return s.IPNotForUs }},
		{"other IPv6 address", ipv6Frame(macB, macA, a6, a6, tcpip.ProtocolUDP, udpPacket(a6, a6, 5, 9, []byte("data"))),
			func(s Stats) uint64 { return s.IPNotForUs }},
		{"IPv4 header checksum", func() []byte { f := good4(); f[header.EthernetSize+8]--; return f }(),
			func(s Stats) uint64 { return s.IPv4ChecksumErrors }},
		{"IPv4 total length", func() []byte { f := good4(); f[header.EthernetSize+2] = 0xff; return f }(),
			func(s Stats) uint64 { return s.IPHeaderErrors }},
		{"UDP checksum v4", func() []byte { f := good4(); f[len(f)-1] ^= 1; return f }(),
			func(s Stats) uint64 { return s.UDPChecksumErrors }},
		{"UDP checksum v6", func() []byte { f := good6(); f[len(f)-1] ^= 1; return f }(),
			func(s Stats) uint64 { return s.UDPChecksumErrors }},
		{"UDP zero checksum v6", func() []byte {
			f := good6()
			f[header.EthernetSize+header.IPv6Size+6], f[header.EthernetSize+header.IPv6Size+7] = 0, 0
			return f
		}(), func(s Stats) uint64 { return s.UDPChecksumErrors }},
		{"UDP length", func() []byte { f := good4(); f[header.EthernetSize+header.IPv4MinSize+5] = 200; return f }(),
			func(s Stats) uint64 { return s.UDPMalformed }},
		{"IPv6 version", func() []byte { f := good6(); f[header.EthernetSize] = 0x40; return f }(),
			func(s Stats) uint64 { return s.IPHeaderErrors }},
		{"ICMPv6 checksum", func() []byte {
			m := make([]byte, 16)
			header.EncodeICMP(m, header.ICMPv6EchoRequest, 0, 1)
			return ipv6Frame(macB, macA, a6, b6, tcpip.ProtocolICMPv6, m)
		}(), func(s Stats) uint64 { return s.ICMPChecksumErrors }},
	}
	for _, c := range cases {
		before := c.stat(n.b.Stats())
		n.lb.Inject([][]byte{c.frame})
		waitFor(t, c.name+" counted", func() bool { return c.stat(n.b.Stats()) == before+1 })
	}
	kb.none(t, 20*time.Millisecond)

	// A zero UDP checksum is allowed over IPv4, and the good frames
	// do get through.
	f := good4()
	f[header.EthernetSize+header.IPv4MinSize+6], f[header.EthernetSize+header.IPv4MinSize+7] = 0, 0
	n.lb.Inject([][]byte{f, good6()})
	kb.get(t)
	kb.get(t)

	// IPv4 options are skipped, and Ethernet padding after the
	// datagram is ignored.
	f = good4()
	ipHdr := append([]byte(nil), f[header.EthernetSize:header.EthernetSize+header.IPv4MinSize]...)
	rest := append([]byte(nil), f[header.EthernetSize+header.IPv4MinSize:]...)
	f = append(append(append(f[:header.EthernetSize], ipHdr...), 1, 1, 1, 0), rest...)
	f = append(f, 0, 0, 0, 0, 0, 0) // padding
	ip := f[header.EthernetSize:]
	ip[0] = 0x46
	tl := header.IPv4MinSize + 4 + len(rest)
	ip[2], ip[3], ip[10], ip[11] = byte(tl>>8), byte(tl), 0, 0
	c := checksum.Checksum(ip[:24])
	ip[10], ip[11] = byte(c>>8), byte(c)
	n.lb.Inject([][]byte{f})
	if m := kb.get(t); string(m.payload) != "data" {
		t.Fatalf("payload behind options: %q", m.payload)
	}
}

// TestNeighborFailure sends to an address nobody has: after the
// retries, the senders of the queued packets hear host unreachable.
func TestNeighborFailure(t *testing.T) {
	n := newNet(t, netOpts{tweak: func(a, b *Stack) { a.retransTime = 20 * time.Millisecond }})
	ctl := make(chan tcpip.ControlKind, 8)
	n.a.SetUDPControl(func(local, remote netip.AddrPort, kind tcpip.ControlKind, mtu uint32) { ctl <- kind })
	tr := newFakeTransport()
	n.a.RegisterTransport(tcpip.ProtocolTCP, tr)
	n.start()
	for _, ghost := range []netip.Addr{netip.MustParseAddr("10.0.0.77"), netip.MustParseAddr("fd00::77")} {
		if err := n.a.SendUDP(netip.AddrPort{}, netip.AddrPortFrom(ghost, 53), []byte("q")); err != nil {
			t.Fatal(err)
		}
		if err := n.a.SendTransport(netip.Addr{}, ghost, tcpip.ProtocolTCP, []byte{0, 1, 0, 2, 0, 0, 0, 0}); err != nil {
			t.Fatal(err)
		}
		select {
		case k := <-ctl:
			if k != tcpip.ControlHostUnreachable {
				t.Fatalf("kind %v", k)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("UDP sender not told")
		}
		if c := tr.getControl(t); c.kind != tcpip.ControlHostUnreachable || c.remote != ghost {
			t.Fatalf("TCP control %+v", c)
		}
	}
	s := n.a.Stats()
	if s.NeighborFailures != 2 || s.ARPOut != 3 || s.NDOut != 3 {
		t.Fatalf("failures %d, ARP out %d, ND out %d; want 2, 3, 3", s.NeighborFailures, s.ARPOut, s.NDOut)
	}
}

// TestNeighborProbe lets an entry go stale: the next send still goes
// out at once, and a unicast probe re-confirms the entry.
func TestNeighborProbe(t *testing.T) {
	n := newNet(t, netOpts{tweak: func(a, b *Stack) {
		a.reachableTime = 50 * time.Millisecond
		a.retransTime = 20 * time.Millisecond
	}})
	kb := newUDPSink(n.b, 9)
	n.start()
	send := func() {
		if err := n.a.SendUDP(netip.AddrPort{}, netip.AddrPortFrom(b4, 9), []byte("x")); err != nil {
			t.Fatal(err)
		}
		kb.get(t)
	}
	send()
	time.Sleep(80 * time.Millisecond)
	send()
	waitFor(t, "probe answered", func() bool {
		n.a.neigh.mu.Lock()
		defer n.a.neigh.mu.Unlock()
		e := n.a.neigh.m[b4]
		return e != nil && e.state == neighReachable
	})
	if s := n.a.Stats(); s.ARPOut != 2 {
		t.Fatalf("ARPOut = %d, want the request and one probe", s.ARPOut)
	}
	// A dead neighbor: probes go unanswered and the entry goes.
	n.lb.SetHook(func([][]byte) [][]byte { return nil })
	time.Sleep(80 * time.Millisecond)
	_ = n.a.SendUDP(netip.AddrPort{}, netip.AddrPortFrom(b4, 9), []byte("x"))
	waitFor(t, "entry removed", func() bool { _, ok := n.a.Neighbor(b4); return !ok })
}

// TestPacketTooBig feeds ICMP errors quoting a packet of ours: the path
// MTU drops and the transport hears the new MTU.
func TestPacketTooBig(t *testing.T) {
	far := netip.MustParseAddr("2001:db8::9")
	n := newNet(t, netOpts{aRoutes: []Route{{Dst: netip.MustParsePrefix("::/0"), Gateway: b6}}})
	tr := newFakeTransport()
	n.a.RegisterTransport(tcpip.ProtocolTCP, tr)
	n.start()
	seg := []byte{0x30, 0x39, 0x01, 0xbb, 0, 0, 0, 1}
	quoted := make([]byte, header.IPv6Size+len(seg))
	header.EncodeIPv6(quoted, header.IPv6Fields{PayloadLength: uint16(len(seg)), NextHeader: tcpip.ProtocolTCP, HopLimit: 64, Src: a6, Dst: far})
	copy(quoted[header.IPv6Size:], seg)
	m := make([]byte, 8+len(quoted))
	header.EncodeICMP(m, header.ICMPv6PacketTooBig, 0, 1400)
	copy(m[8:], quoted)
	header.ICMP(m).SetChecksum(checksum.Transport(b6, a6, tcpip.ProtocolICMPv6, m))
	n.la.Inject([][]byte{ipv6Frame(macA, macB, b6, a6, tcpip.ProtocolICMPv6, m)})
	c := tr.getControl(t)
	if c.kind != tcpip.ControlPacketTooBig || c.mtu != 1400 || c.local != a6 || c.remote != far {
		t.Fatalf("control %+v", c)
	}
	mustEqual(t, "quoted", c.quoted, seg)
	if _, mtu, _ := n.a.Route(far); mtu != 1400 {
		t.Fatalf("path MTU %d, want 1400", mtu)
	}
	// A forged error quoting someone else's packet is ignored.
	copy(m[8+8:], netip.MustParseAddr("fd00::55").AsSlice())
	header.ICMP(m).SetChecksum(0)
	header.ICMP(m).SetChecksum(checksum.Transport(b6, a6, tcpip.ProtocolICMPv6, m))
	n.la.Inject([][]byte{ipv6Frame(macA, macB, b6, a6, tcpip.ProtocolICMPv6, m)})
	select {
	case c := <-tr.ctl:
		t.Fatalf("forged error delivered: %+v", c)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestExtensionHeaders sends UDP behind hop-by-hop and destination
// options; an unknown option whose type says "discard" drops it.
func TestExtensionHeaders(t *testing.T) {
	n := newNet(t, netOpts{})
	kb := newUDPSink(n.b, 9)
	n.start()
	u := udpPacket(a6, b6, 5, 9, []byte("behind options"))
	opts := func(next, optType uint8) []byte {
		// 8 bytes: next, len 0, option type, length 4, 4 bytes.
		return []byte{next, 0, optType, 4, 0, 0, 0, 0}
	}
	p := append(append(opts(header.IPv6DestOptions, 1), opts(tcpip.ProtocolUDP, 1)...), u...)
	n.lb.Inject([][]byte{ipv6Frame(macB, macA, a6, b6, header.IPv6HopByHop, p)})
	if m := kb.get(t); string(m.payload) != "behind options" {
		t.Fatalf("got %q", m.payload)
	}
	p = append(opts(tcpip.ProtocolUDP, 0x41), u...)
	n.lb.Inject([][]byte{ipv6Frame(macB, macA, a6, b6, header.IPv6DestOptions, p)})
	kb.none(t, 30*time.Millisecond)
	// Hop-by-hop anywhere but first is a parameter problem.
	p = append(opts(header.IPv6HopByHop, 1), opts(tcpip.ProtocolUDP, 1)...)
	before := n.b.Stats()
	n.lb.Inject([][]byte{ipv6Frame(macB, macA, a6, b6, header.IPv6DestOptions, append(p, u...))})
	waitFor(t, "header error", func() bool {
		s := n.b.Stats()
		return s.IPHeaderErrors == before.IPHeaderErrors+1 && s.ICMPOut > before.ICMPOut
	})
}

// TestReceiveAllocs checks that receiving a UDP datagram does not
// allocate.
func TestReceiveAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	n := newNet(t, netOpts{})
	got := 0
	n.b.SetUDPReceiver(func(local, remote netip.AddrPort, p []byte, _, _ uint8) bool { got++; return true })
	frames := [][]byte{
		ipv4Frame(macB, macA, a4, b4, tcpip.ProtocolUDP, udpPacket(a4, b4, 5, 9, pattern(1000))),
		ipv6Frame(macB, macA, a6, b6, tcpip.ProtocolUDP, udpPacket(a6, b6, 5, 9, pattern(1000))),
	}
	allocs := testing.AllocsPerRun(100, func() { n.b.DeliverFrames(frames) })
	if allocs != 0 || got == 0 {
		t.Fatalf("%v allocations per batch (%d delivered)", allocs, got)
	}
}

// TestSendAllocs checks that sending to a resolved neighbor does not
// allocate in the stack.
func TestSendAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	n := newNet(t, netOpts{})
	kb := newUDPSink(n.b, 9)
	n.start()
	if err := n.a.SendUDP(netip.AddrPort{}, netip.AddrPortFrom(b4, 9), nil); err != nil {
		t.Fatal(err)
	}
	kb.get(t)
	n.a.link = discard{n.a.link}
	data := pattern(1000)
	allocs := testing.AllocsPerRun(100, func() {
		_ = n.a.SendUDP(netip.AddrPortFrom(a4, 5), netip.AddrPortFrom(b4, 9), data)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per send", allocs)
	}
}

// discard is a link that drops what is written to it.
type discard struct{ tcpip.LinkEndpoint }

func (discard) WriteFrames([][]byte) error { return nil }

func BenchmarkReceiveUDP(b *testing.B) {
	_, lb := channel.Pair(macA, macB, 1500)
	s, err := New(Config{Link: lb, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}})
	if err != nil {
		b.Fatal(err)
	}
	s.SetUDPReceiver(func(netip.AddrPort, netip.AddrPort, []byte, uint8, uint8) bool { return true })
	f := [][]byte{ipv4Frame(macB, macA, a4, b4, tcpip.ProtocolUDP, udpPacket(a4, b4, 5, 9, pattern(100)))}
	b.ReportAllocs()
	for b.Loop() {
		s.DeliverFrames(f)
	}
}
