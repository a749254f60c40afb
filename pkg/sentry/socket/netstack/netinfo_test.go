package netstack

import (
	"context"
	"net/netip"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

func TestInetSockets(t *testing.T) {
	ctx := context.Background()
	s := NewStack()
	l := newTCP(s, nil, socket.AF_INET)
	lo := netip.MustParseAddrPort("127.0.0.1:0")
	if err := l.Bind(ctx, formatSockaddr(socket.AF_INET, lo), nil); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if err := l.Listen(ctx, 7); err != nil {
		t.Fatalf("listen: %v", err)
	}
	c := newTCP(s, nil, socket.AF_INET6)
	dst := netip.AddrPortFrom(netip.AddrFrom16(netip.MustParseAddr("127.0.0.1").As16()), l.local.Port())
	// A non-blocking connect reports EINPROGRESS, as on Linux, but the
	// loopback connection is made at once.
	if err := c.Connect(ctx, formatSockaddr(socket.AF_INET6, dst), nil, true); err != nil && err != linux.EINPROGRESS {
		t.Fatalf("connect: %v", err)
	}
	u := newUDP(s, nil, socket.AF_INET)
	if err := u.Bind(ctx, formatSockaddr(socket.AF_INET, lo), nil); err != nil {
		t.Fatalf("udp bind: %v", err)
	}

	tcp4, _ := s.InetSockets("tcp", 4)
	for _, i := range tcp4 {
		if i.State == tcpStateListen && (i.Local != l.local || i.Remote.Addr() != netip.IPv4Unspecified() || i.TxQueue != 7 || i.RxQueue != 1) {
			t.Errorf("listener = %+v, want local %v, backlog 7, one queued", i, l.local)
		}
	}
	// The listener and the accepted side; the AF_INET6 client is in
	// tcp6, with v4-mapped addresses.
	if len(tcp4) != 2 {
		t.Errorf("tcp = %+v, want listener and server side", tcp4)
	}
	tcp6, _ := s.InetSockets("tcp", 6)
	if len(tcp6) != 1 || tcp6[0].State != tcpStateEstablished || !tcp6[0].Remote.Addr().Is4In6() || tcp6[0].Remote.Port() != l.local.Port() {
		t.Errorf("tcp6 = %+v, want the client, connected to %v (v4-mapped)", tcp6, l.local)
	}
	udp4, _ := s.InetSockets("udp", 4)
	if len(udp4) != 1 || udp4[0].State != tcpStateClose || udp4[0].Local != u.local {
		t.Errorf("udp = %+v, want the unconnected socket at %v", udp4, u.local)
	}
	if udp6, _ := s.InetSockets("udp", 6); len(udp6) != 0 {
		t.Errorf("udp6 = %+v, want none", udp6)
	}
}
