package netstack

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// The interface index and addresses control messages report for traffic
// to an Ethernet interface's own addresses, and how IP_PKTINFO and
// IPV6_PKTINFO choose the interface and source, as Linux answered with
// a veth in a network namespace. udp_cmsg.c covers what lo alone shows.

// cmsgStack is a stack with eth0 (index 5) at 10.1.2.2/24 and fd00::2/64.
func cmsgStack(t *testing.T) *Stack {
	t.Helper()
	s := NewStack()
	if _, err := s.AddEthernet(EthernetLink{
		Index: 5, Name: "eth0", HWAddr: [6]byte{2, 0, 0, 0, 0, 9}, MTU: 1500,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.2.2/24"), netip.MustParsePrefix("fd00::2/64")},
	}); err != nil {
		t.Fatalf("AddEthernet: %v", err)
	}
	return s
}

// cmsgSocket is a UDP socket bound to addr with the receive options
// that report addresses and interfaces on.
func cmsgSocket(t *testing.T, s *Stack, addr string) *udpEndpoint {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	fam := socket.AF_INET
	if ap.Addr().Is6() {
		fam = socket.AF_INET6
	}
	e := newUDP(s, nil, fam)
	if err := e.Bind(context.Background(), formatSockaddr(fam, ap), nil); err != nil {
		t.Fatalf("bind %s: %v", addr, err)
	}
	e.rx.pktInfo, e.rx.recvTTL, e.rx.recvTOS = true, true, true
	e.rx.pktInfo6, e.rx.hopLimit, e.rx.tclass = true, true, true
	return e
}

func pktinfo4(ifindex int32, spec string) socket.ControlMessage {
	b := make([]byte, sizeofInPktinfo)
	binary.LittleEndian.PutUint32(b, uint32(ifindex))
	a := netip.MustParseAddr(spec).As4()
	copy(b[4:], a[:])
	return socket.ControlMessage{Level: ipprotoIP, Type: ipPktInfo, Data: b}
}

func pktinfo6(ifindex int32, addr string) socket.ControlMessage {
	b := make([]byte, sizeofIn6Pktinfo)
	a := netip.MustParseAddr(addr).As16()
	copy(b, a[:])
	binary.LittleEndian.PutUint32(b[16:], uint32(ifindex))
	return socket.ControlMessage{Level: ipprotoIPv6, Type: ipv6PktInfo, Data: b}
}

// got is what a receive saw: the source and the pktinfo message.
type got struct {
	from    netip.Addr
	ifindex int32
	spec    netip.Addr // IPv4 only
	dst     netip.Addr
	ttl     int32
}

// recvOne receives a datagram without waiting; ok is false if there is
// none.
func recvOne(t *testing.T, e *udpEndpoint) (g got, ok bool) {
	t.Helper()
	buf := make([]byte, 8)
	res, err := e.RecvMsg(context.Background(), vfs.BytesIOSequence(buf), 0, true)
	if err == linux.EAGAIN {
		return g, false
	}
	if err != nil {
		t.Fatalf("RecvMsg: %v", err)
	}
	ap, _, _, err := parseSockaddr(e.family, res.From)
	if err != nil {
		t.Fatalf("From %x: %v", res.From, err)
	}
	g.from = ap.Addr()
	c := res.Control
	for len(c) >= socket.SizeofCmsghdr {
		l := int(binary.LittleEndian.Uint64(c))
		level, typ := binary.LittleEndian.Uint32(c[8:]), binary.LittleEndian.Uint32(c[12:])
		d := c[socket.SizeofCmsghdr:l]
		switch {
		case level == ipprotoIP && typ == ipPktInfo:
			g.ifindex = int32(binary.LittleEndian.Uint32(d))
			g.spec = netip.AddrFrom4([4]byte(d[4:8]))
			g.dst = netip.AddrFrom4([4]byte(d[8:12]))
		case level == ipprotoIPv6 && typ == ipv6PktInfo && !g.dst.IsValid():
			g.dst = netip.AddrFrom16([16]byte(d)).Unmap()
			g.ifindex = int32(binary.LittleEndian.Uint32(d[16:]))
		case level == ipprotoIP && typ == ipTTLCmsg, level == ipprotoIPv6 && typ == ipv6HopLimitCmsg:
			g.ttl = int32(binary.LittleEndian.Uint32(d))
		}
		c = c[(l+7)&^7:]
	}
	return g, true
}

func TestUDPControlInterfaces(t *testing.T) {
	s := cmsgStack(t)
	r4 := cmsgSocket(t, s, "0.0.0.0:7000")
	r6 := cmsgSocket(t, s, "[::]:7001")
	s4 := cmsgSocket(t, s, "0.0.0.0:0")
	s6 := cmsgSocket(t, s, "[::]:0")
	a := netip.MustParseAddr
	for _, c := range []struct {
		name    string
		from    *udpEndpoint
		to      string
		msgs    []socket.ControlMessage
		err     error
		lost    bool
		want    got
		wantTTL int32
	}{
		{name: "eth0's address", from: s4, to: "10.1.2.2:7000",
			want: got{from: a("10.1.2.2"), ifindex: 5, spec: a("10.1.2.2"), dst: a("10.1.2.2")}},
		{name: "eth0's address by lo", from: s4, to: "10.1.2.2:7000", msgs: []socket.ControlMessage{pktinfo4(1, "0.0.0.0")},
			want: got{from: a("10.1.2.2"), ifindex: 1, spec: a("10.1.2.2"), dst: a("10.1.2.2")}},
		{name: "loopback source through eth0", from: s4, to: "10.1.2.2:7000", msgs: []socket.ControlMessage{pktinfo4(5, "127.0.0.1")},
			want: got{from: a("127.0.0.1"), ifindex: 5, spec: a("10.1.2.2"), dst: a("10.1.2.2")}},
		{name: "eth0's source to lo", from: s4, to: "127.0.0.1:7000", msgs: []socket.ControlMessage{pktinfo4(0, "10.1.2.2")},
			want: got{from: a("10.1.2.2"), ifindex: 1, spec: a("127.0.0.1"), dst: a("127.0.0.1")}},
		{name: "lo's address out of eth0", from: s4, to: "127.0.0.1:7000", msgs: []socket.ControlMessage{pktinfo4(5, "0.0.0.0")}, lost: true},
		{name: "loopback source out of eth0", from: s4, to: "127.0.0.1:7000", msgs: []socket.ControlMessage{pktinfo4(5, "127.0.0.1")}, err: linux.EINVAL},
		{name: "broadcast source", from: s4, to: "10.1.2.2:7000", msgs: []socket.ControlMessage{pktinfo4(0, "10.1.2.255")}, err: linux.ENETUNREACH},
		{name: "no such interface", from: s4, to: "10.1.2.2:7000", msgs: []socket.ControlMessage{pktinfo4(9, "0.0.0.0")}, err: linux.ENODEV},

		{name: "eth0's IPv6 address", from: s6, to: "[fd00::2]:7001",
			want: got{from: a("fd00::2"), ifindex: 5, dst: a("fd00::2")}},
		{name: "eth0's IPv6 address through eth0", from: s6, to: "[fd00::2]:7001", msgs: []socket.ControlMessage{pktinfo6(5, "::")},
			want: got{from: a("fd00::2"), ifindex: 5, dst: a("fd00::2")}},
		{name: "eth0's IPv6 address through lo", from: s6, to: "[fd00::2]:7001", msgs: []socket.ControlMessage{pktinfo6(1, "::")}, err: linux.ENETUNREACH},
		{name: "::1 as the source", from: s6, to: "[fd00::2]:7001", msgs: []socket.ControlMessage{pktinfo6(0, "::1")},
			want: got{from: a("::1"), ifindex: 5, dst: a("fd00::2")}},
		{name: "::1 as the source on eth0", from: s6, to: "[fd00::2]:7001", msgs: []socket.ControlMessage{pktinfo6(5, "::1")}, err: linux.EINVAL},
		{name: "eth0's source to ::1 through lo", from: s6, to: "[::1]:7001", msgs: []socket.ControlMessage{pktinfo6(1, "fd00::2")},
			want: got{from: a("fd00::2"), ifindex: 1, dst: a("::1")}},
		{name: "::1 through eth0", from: s6, to: "[::1]:7001", msgs: []socket.ControlMessage{pktinfo6(5, "fd00::2")}, err: linux.ENETUNREACH},
		{name: "no such IPv6 interface", from: s6, to: "[::1]:7001", msgs: []socket.ControlMessage{pktinfo6(9, "::")}, err: linux.ENODEV},
	} {
		t.Run(c.name, func(t *testing.T) {
			ap := netip.MustParseAddrPort(c.to)
			n, err := c.from.SendMsg(context.Background(), vfs.BytesIOSequence([]byte("x")), formatSockaddr(c.from.family, ap), nil,
				&socket.SendControl{Msgs: c.msgs}, 0, true)
			if err != c.err {
				t.Fatalf("SendMsg = %d, %v; want %v", n, err, c.err)
			}
			r := r4
			if ap.Addr().Is6() {
				r = r6
			}
			g, ok := recvOne(t, r)
			if c.err != nil || c.lost {
				if ok {
					t.Fatalf("received %+v", g)
				}
				return
			}
			if !ok {
				t.Fatalf("nothing received")
			}
			c.want.ttl = defaultTTL
			if g != c.want {
				t.Errorf("got %+v, want %+v", g, c.want)
			}
		})
	}
}

// A datagram from outside: its header's TTL and the interface it came
// in on.
func TestUDPControlInbound(t *testing.T) {
	s := cmsgStack(t)
	r := cmsgSocket(t, s, "0.0.0.0:7000")
	if !s.DeliverUDP(netip.MustParseAddrPort("10.1.2.2:7000"), netip.MustParseAddrPort("10.1.2.9:53"), []byte("x"), 57, 0x10) {
		t.Fatalf("DeliverUDP = false")
	}
	g, ok := recvOne(t, r)
	a := netip.MustParseAddr
	want := got{from: a("10.1.2.9"), ifindex: 5, spec: a("10.1.2.2"), dst: a("10.1.2.2"), ttl: 57}
	if !ok || g != want {
		t.Errorf("got %+v (%v), want %+v", g, ok, want)
	}
}

// A broadcast's ipi_spec_dst is the address a reply would come from.
func TestArrivalBroadcast(t *testing.T) {
	s := cmsgStack(t)
	a := netip.MustParseAddr
	for _, c := range []struct {
		dst, src, spec string
		ifindex        int32
	}{
		{"10.1.2.255", "10.1.2.2", "10.1.2.2", 5},
		{"127.255.255.255", "127.0.0.1", "127.0.0.1", 1},
		{"127.0.0.5", "127.0.0.1", "127.0.0.5", 1},
	} {
		got := s.arrivalAt(a(c.dst), a(c.src), 0, 64, 0)
		if got.specDst != a(c.spec) || got.ifindex != c.ifindex {
			t.Errorf("arrivalAt(%s, %s) = %v on %d, want %s on %d", c.dst, c.src, got.specDst, got.ifindex, c.spec, c.ifindex)
		}
	}
}
