package tcp

import (
	"net/netip"
	"testing"
	"time"
)

// TestInfo: the snapshot follows a transfer (bytes acked and received,
// a measured RTT, a window) and then the close.
func TestInfo(t *testing.T) {
	ln := newTestListener(testPort, 1<<20)
	a, b := newPipe(t, nil, ln, nil)
	client, server, local, remote := dial(t, a, b, ln, 40001, 1<<20)
	if _, ok := a.p.Info(netip.MustParseAddrPort("10.0.0.1:1"), remote); ok {
		t.Fatal("Info found a connection that does not exist")
	}
	const n = 200000
	client.mustWrite(t, make([]byte, n), 5*time.Second)
	server.mustRead(t, n, 5*time.Second)
	waitUntil(t, "all acknowledged", 5*time.Second, func() bool {
		in, _ := a.p.Info(local, remote)
		return in.BytesAcked == n
	})
	in, ok := a.p.Info(local, remote)
	if !ok || in.State != 1 {
		t.Fatalf("client info %+v, ok %v: want ESTABLISHED (1)", in, ok)
	}
	if in.RTT <= 0 || in.RTO <= 0 || in.Cwnd < 1 || in.SndMSS != 1460-12 || !in.TSOK || !in.SACKOK || !in.WScaleOK {
		t.Errorf("client info after a transfer: %+v", in)
	}
	if in.Unacked != 0 || in.Retransmits != 0 {
		t.Errorf("client info idle: %+v", in)
	}
	sin, _ := b.p.Info(remote, local)
	if sin.BytesReceived != n {
		t.Errorf("server received %d bytes, want %d", sin.BytesReceived, n)
	}
	client.shutdownWrite()
	waitUntil(t, "FIN seen", 5*time.Second, func() bool {
		in, _ := b.p.Info(remote, local)
		return in.State == 8 // CLOSE_WAIT
	})
	sin, _ = b.p.Info(remote, local)
	if sin.BytesReceived != n {
		t.Errorf("server counts the FIN as a byte: %d", sin.BytesReceived)
	}
	in, _ = a.p.Info(local, remote)
	if in.State != 5 { // FIN_WAIT2
		t.Errorf("client state %d, want FIN_WAIT2 (5)", in.State)
	}
}
