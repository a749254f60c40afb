package netstack

import (
	"context"
	"net/netip"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// ethStack is a stack with eth0 at 10.1.2.2/24, default route via
// 10.1.2.1.
func ethStack(t *testing.T) *Stack {
	t.Helper()
	s := NewStack()
	idx, err := s.AddEthernet(EthernetLink{
		Index:  5,
		Name:   "eth0",
		HWAddr: [6]byte{2, 0, 0, 0, 0, 9},
		MTU:    1500,
		Addrs:  []netip.Prefix{netip.MustParsePrefix("10.1.2.2/24"), netip.MustParsePrefix("fe80::9/64")},
		Routes: []Route{
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.1.2.1"), Protocol: RTPROT_BOOT},
			{Dst: netip.MustParsePrefix("10.1.2.0/24"), Protocol: RTPROT_KERNEL, Scope: RT_SCOPE_LINK, PrefSrc: netip.MustParseAddr("10.1.2.2")},
		},
	})
	if err != nil || idx != 5 {
		t.Fatalf("AddEthernet = %d, %v", idx, err)
	}
	return s
}

func TestAddEthernet(t *testing.T) {
	s := ethStack(t)
	if _, err := s.AddEthernet(EthernetLink{Name: "eth0"}); err == nil {
		t.Errorf("a second eth0 was accepted")
	}
	if _, err := s.AddEthernet(EthernetLink{Name: "eth1", Index: 1}); err == nil {
		t.Errorf("lo's index was accepted for eth1")
	}
	for _, a := range []string{"10.1.2.2", "fe80::9", "127.0.0.1"} {
		if !s.isLocal(netip.MustParseAddr(a)) || !s.canBind(netip.MustParseAddr(a)) {
			t.Errorf("%s is not local", a)
		}
	}
	for _, a := range []string{"10.1.2.1", "10.1.2.255", "8.8.8.8"} {
		if s.isLocal(netip.MustParseAddr(a)) {
			t.Errorf("%s is local", a)
		}
	}
	// Traffic to eth0's own address stays on the loopback path, with
	// that address as the source.
	src, local, err := s.sourceFor(netip.MustParseAddr("10.1.2.2"))
	if err != nil || !local || src != netip.MustParseAddr("10.1.2.2") {
		t.Errorf("sourceFor(10.1.2.2) = %v, %v, %v", src, local, err)
	}
	if _, _, err := s.sourceFor(netip.MustParseAddr("8.8.8.8")); err != linux.ENETUNREACH {
		t.Errorf("sourceFor(8.8.8.8) without External = %v, want ENETUNREACH", err)
	}
	routes := s.NetRoutes()
	if len(routes) != 2 {
		t.Fatalf("NetRoutes = %+v, want the default and the subnet route", routes)
	}
	if r := routes[0]; r.Iface != "eth0" || r.Gateway != netip.MustParseAddr("10.1.2.1") || r.Flags != 3 || r.Dst.Bits() != 0 {
		t.Errorf("default route = %+v", r)
	}
	if r := routes[1]; r.Iface != "eth0" || r.Gateway.IsValid() || r.Flags != 1 {
		t.Errorf("subnet route = %+v", r)
	}
	ifs := s.NetInterfaces()
	if len(ifs) != 2 || ifs[1].Name != "eth0" || ifs[1].Index != 5 || len(ifs[1].Addrs) != 2 {
		t.Errorf("NetInterfaces = %+v", ifs)
	}
	// The directed broadcast is in the local table.
	var bcast bool
	for _, r := range s.Routes() {
		if r.Type == RTN_BROADCAST && r.Dst.Addr() == netip.MustParseAddr("10.1.2.255") {
			bcast = true
		}
	}
	if !bcast {
		t.Errorf("no broadcast route for 10.1.2.255")
	}
}

func TestAcceptExternal(t *testing.T) {
	ctx := context.Background()
	s := ethStack(t)
	l := newTCP(s, nil, socket.AF_INET6)
	if err := l.Bind(ctx, formatSockaddr(socket.AF_INET6, netip.MustParseAddrPort("[::]:8080")), nil); err != nil {
		t.Fatalf("bind: %v", err)
	}
	local := netip.MustParseAddrPort("10.1.2.2:8080")
	remote := netip.MustParseAddrPort("10.1.2.1:40000")
	if s.Listening(local) {
		t.Fatalf("Listening before listen(2)")
	}
	if _, err := s.Accept(local, remote); err != linux.ECONNREFUSED {
		t.Fatalf("Accept before listen(2) = %v, want ECONNREFUSED", err)
	}
	if err := l.Listen(ctx, 0); err != nil {
		t.Fatalf("listen: %v", err)
	}
	if !s.Listening(local) || s.Listening(netip.MustParseAddrPort("10.1.2.2:8081")) {
		t.Fatalf("Listening is wrong")
	}
	far, err := s.Accept(local, remote)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	// Backlog 0 queues one connection, as Linux does; the next waits.
	if _, err := s.Accept(local, netip.MustParseAddrPort("10.1.2.1:40001")); err != linux.EAGAIN {
		t.Fatalf("Accept with a full queue = %v, want EAGAIN", err)
	}
	l.mu.Lock()
	srv := l.acceptQ[0]
	l.mu.Unlock()
	if got := srv.SockName(); string(got) != string(formatSockaddr(socket.AF_INET6, local)) {
		t.Errorf("accepted socket's name = %x", got)
	}
	if got, err := srv.PeerName(); err != nil || string(got) != string(formatSockaddr(socket.AF_INET6, remote)) {
		t.Errorf("accepted socket's peer = %x, %v", got, err)
	}
	if n := far.Write([]byte("hello")); n != 5 {
		t.Fatalf("far.Write = %d", n)
	}
	buf := make([]byte, 16)
	res, err := srv.RecvMsg(ctx, vfs.BytesIOSequence(buf), 0, true)
	if err != nil || string(buf[:res.N]) != "hello" {
		t.Fatalf("RecvMsg = %q, %v", buf[:res.N], err)
	}
	if _, err := srv.SendMsg(ctx, vfs.BytesIOSequence([]byte("world")), nil, nil, nil, 0, true); err != nil {
		t.Fatalf("SendMsg: %v", err)
	}
	if n := far.Read(buf); string(buf[:n]) != "world" {
		t.Fatalf("far.Read = %q", buf[:n])
	}
	infos, _ := s.InetSockets("tcp", 6)
	var est bool
	for _, i := range infos {
		if i.State == tcpStateEstablished && i.Remote.Port() == 40000 {
			est = true
		}
	}
	if !est {
		t.Errorf("/proc/net/tcp6 lacks the accepted connection: %+v", infos)
	}
	far.CloseWrite()
	if res, err := srv.RecvMsg(ctx, vfs.BytesIOSequence(buf), 0, true); err != nil || res.N != 0 {
		t.Errorf("RecvMsg after the remote's FIN = %d, %v; want end of file", res.N, err)
	}
	srv.Release(ctx)
	l.Release(ctx)
	if s.Listening(local) {
		t.Errorf("still listening after close")
	}
}

func TestDeliverUDP(t *testing.T) {
	ctx := context.Background()
	s := ethStack(t)
	u := newUDP(s, nil, socket.AF_INET)
	if err := u.Bind(ctx, formatSockaddr(socket.AF_INET, netip.MustParseAddrPort("10.1.2.2:5353")), nil); err != nil {
		t.Fatalf("bind: %v", err)
	}
	remote := netip.MustParseAddrPort("10.1.2.1:999")
	if s.DeliverUDP(netip.MustParseAddrPort("10.1.2.2:5354"), remote, []byte("x"), 64, 0) {
		t.Errorf("a datagram to an unbound port was taken")
	}
	payload := []byte("query")
	if !s.DeliverUDP(netip.MustParseAddrPort("10.1.2.2:5353"), remote, payload, 64, 0) {
		t.Fatalf("DeliverUDP to a bound port = false")
	}
	payload[0] = 'X' // the stack's buffer is reused after the call
	buf := make([]byte, 16)
	res, err := u.RecvMsg(ctx, vfs.BytesIOSequence(buf), 0, true)
	if err != nil || string(buf[:res.N]) != "query" || string(res.From) != string(formatSockaddr(socket.AF_INET, remote)) {
		t.Fatalf("RecvMsg = %q from %x, %v", buf[:res.N], res.From, err)
	}

	// A connected socket takes datagrams from its peer only, and gets
	// the ICMP errors about what it sent.
	c := newUDP(s, nil, socket.AF_INET)
	if err := c.Bind(ctx, formatSockaddr(socket.AF_INET, netip.MustParseAddrPort("0.0.0.0:6000")), nil); err != nil {
		t.Fatalf("bind: %v", err)
	}
	// Connecting to a non-local peer needs a route; without External
	// the stack has none.
	peer := netip.MustParseAddrPort("10.1.2.1:53")
	c.mu.Lock()
	c.remote, c.connected = peer, true
	c.mu.Unlock()
	s.setPeer(c.bind, peer, true)
	if s.DeliverUDP(netip.MustParseAddrPort("10.1.2.2:6000"), remote, []byte("x"), 64, 0) {
		t.Errorf("a connected socket took a datagram from a stranger")
	}
	if s.UDPUnreachable(netip.MustParseAddrPort("10.1.2.2:6000"), remote, linux.ECONNREFUSED) {
		t.Errorf("an error about another peer was taken")
	}
	if !s.UDPUnreachable(netip.MustParseAddrPort("10.1.2.2:6000"), peer, linux.ECONNREFUSED) {
		t.Fatalf("UDPUnreachable = false")
	}
	if _, err := c.RecvMsg(ctx, vfs.BytesIOSequence(buf), 0, true); err != linux.ECONNREFUSED {
		t.Errorf("RecvMsg after port unreachable = %v, want ECONNREFUSED", err)
	}
}
