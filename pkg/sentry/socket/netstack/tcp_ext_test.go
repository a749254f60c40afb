package netstack

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/tcpip/tcp"
)

// fakeExternal completes every connect at once and describes every
// connection with info.
type fakeExternal struct {
	far  *FarEnd
	ka   [3]time.Duration // keep-alive settings at connect time
	info tcp.Info
}

func (x *fakeExternal) Route(netip.Addr) (netip.Addr, error) {
	return netip.MustParseAddr("10.1.2.2"), nil
}

func (x *fakeExternal) ConnectTCP(_ context.Context, _, _ netip.AddrPort, far *FarEnd) error {
	x.far = far
	idle, intvl, cnt := far.Keepalive()
	x.ka = [3]time.Duration{idle, intvl, time.Duration(cnt)}
	return nil
}

func (x *fakeExternal) SendUDP(netip.AddrPort, netip.AddrPort, []byte) error { return nil }

func (x *fakeExternal) TCPInfo(local, remote netip.AddrPort) (tcp.Info, bool) {
	return x.info, true
}

func setInt(t *testing.T, e *tcpEndpoint, level, name int, v int32) {
	t.Helper()
	if err := e.SetSockOpt(level, name, socket.Int32Bytes(v)); err != nil {
		t.Fatalf("setsockopt(%d, %d, %d): %v", level, name, v, err)
	}
}

// TestKeepaliveReachesPacketStack: the keep-alive options set before
// connect are there when the handshake ends, and later changes reach
// the connection's FarEnd; an inbound connection inherits the
// listener's.
func TestKeepaliveReachesPacketStack(t *testing.T) {
	ctx := context.Background()
	s := ethStack(t)
	x := &fakeExternal{}
	s.External = x

	e := newTCP(s, nil, socket.AF_INET)
	setInt(t, e, socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
	setInt(t, e, ipprotoTCP, tcpKeepIdle, 30)
	if err := e.Connect(ctx, formatSockaddr(socket.AF_INET, netip.MustParseAddrPort("10.1.2.1:80")), nil, false); err != nil {
		t.Fatalf("connect: %v", err)
	}
	if x.ka != [3]time.Duration{30 * time.Second, 75 * time.Second, 9} {
		t.Errorf("keep-alive at connect = %v, want 30s/75s/9", x.ka)
	}
	setInt(t, e, ipprotoTCP, tcpKeepIntvl, 3)
	setInt(t, e, ipprotoTCP, tcpKeepCnt, 4)
	if idle, intvl, cnt := x.far.Keepalive(); idle != 30*time.Second || intvl != 3*time.Second || cnt != 4 {
		t.Errorf("keep-alive after setsockopt = %v/%v/%d", idle, intvl, cnt)
	}
	setInt(t, e, socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)
	if idle, _, _ := x.far.Keepalive(); idle != 0 {
		t.Errorf("SO_KEEPALIVE off left idle %v", idle)
	}
	e.Release(ctx)

	l := newTCP(s, nil, socket.AF_INET)
	setInt(t, l, socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
	setInt(t, l, ipprotoTCP, tcpKeepIdle, 11)
	if err := l.Bind(ctx, formatSockaddr(socket.AF_INET, netip.MustParseAddrPort("0.0.0.0:8080")), nil); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if err := l.Listen(ctx, 4); err != nil {
		t.Fatalf("listen: %v", err)
	}
	far, err := s.Accept(netip.MustParseAddrPort("10.1.2.2:8080"), netip.MustParseAddrPort("10.1.2.1:40000"))
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if idle, intvl, cnt := far.Keepalive(); idle != 11*time.Second || intvl != 75*time.Second || cnt != 9 {
		t.Errorf("accepted connection's keep-alive = %v/%v/%d, want the listener's", idle, intvl, cnt)
	}
	l.mu.Lock()
	srv := l.acceptQ[0]
	l.mu.Unlock()
	setInt(t, srv, ipprotoTCP, tcpKeepIdle, 12)
	if idle, _, _ := far.Keepalive(); idle != 12*time.Second {
		t.Errorf("accepted socket's TCP_KEEPIDLE did not reach the stack: %v", idle)
	}
	srv.Release(ctx)
	l.Release(ctx)
}

// TestTCPInfoExternal: TCP_INFO on a connection that leaves the sandbox
// reports the packet stack's numbers at struct tcp_info's offsets.
func TestTCPInfoExternal(t *testing.T) {
	ctx := context.Background()
	s := ethStack(t)
	x := &fakeExternal{info: tcp.Info{
		State: 1, Retransmits: 2, Backoff: 2, RTO: 800 * time.Millisecond, SndMSS: 1448, AdvMSS: 1460, PeerMSS: 1460, PathMTU: 1500,
		RTT: 1500 * time.Microsecond, RTTVar: 700 * time.Microsecond, Cwnd: 7, Ssthresh: 5, TSOK: true, SACKOK: true, WScaleOK: true,
		SndWScale: 7, RcvWScale: 9, BytesAcked: 1 << 33, BytesReceived: 12345, SndWnd: 65535,
	}}
	s.External = x
	e := newTCP(s, nil, socket.AF_INET)
	if err := e.Connect(ctx, formatSockaddr(socket.AF_INET, netip.MustParseAddrPort("10.1.2.1:80")), nil, false); err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer e.Release(ctx)
	b, err := e.GetSockOpt(ctx, ipprotoTCP, tcpInfo)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	for _, c := range []struct {
		what      string
		got, want uint64
	}{
		{"state", uint64(b[0]), linuxEstablished},
		{"ca_state", uint64(b[1]), 4},
		{"retransmits", uint64(b[2]), 2},
		{"backoff", uint64(b[4]), 2},
		{"options", uint64(b[5]), 7},
		{"wscale", uint64(b[6]), 7 | 9<<4},
		{"rto", uint64(le.Uint32(b[8:])), 800000},
		{"snd_mss", uint64(le.Uint32(b[16:])), 1448},
		{"pmtu", uint64(le.Uint32(b[60:])), 1500},
		{"rtt", uint64(le.Uint32(b[68:])), 1500},
		{"rttvar", uint64(le.Uint32(b[72:])), 700},
		{"snd_ssthresh", uint64(le.Uint32(b[76:])), 5},
		{"snd_cwnd", uint64(le.Uint32(b[80:])), 7},
		{"advmss", uint64(le.Uint32(b[84:])), 1460},
		{"bytes_acked", le.Uint64(b[120:]), 1 << 33},
		{"bytes_received", le.Uint64(b[128:]), 12345},
		{"snd_wnd", uint64(le.Uint32(b[228:])), 65535},
	} {
		if c.got != c.want {
			t.Errorf("tcpi_%s = %d, want %d", c.what, c.got, c.want)
		}
	}
}
