package netstack

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/tcpip/tcp"
	"appkernel.dev/appkernel/pkg/waiter"
)

// farNet joins two tcp.Protocols in memory, delivering from one
// goroutine per direction.
type farNet struct {
	addr netip.Addr
	peer *farNet
	p    *tcp.Protocol
	ch   chan [3][]byte
}

func (n *farNet) Route(dst netip.Addr) (netip.Addr, uint32, error) {
	if dst != n.peer.addr {
		return netip.Addr{}, 0, linux.ENETUNREACH
	}
	return n.addr, 1500, nil
}

func (n *farNet) SendTransport(src, dst netip.Addr, _ uint8, payload []byte) error {
	n.peer.ch <- [3][]byte{src.AsSlice(), dst.AsSlice(), append([]byte(nil), payload...)}
	return nil
}

func (n *farNet) run(quit chan struct{}) {
	for {
		select {
		case m := <-n.ch:
			src, _ := netip.AddrFromSlice(m[0])
			dst, _ := netip.AddrFromSlice(m[1])
			n.p.HandlePacket(src, dst, m[2])
		case <-quit:
			return
		}
	}
}

// farListener hands accepted connections to a socket-like conn.
type farListener struct {
	accepted chan *FarEnd
}

func (l *farListener) Listening(local netip.AddrPort) bool { return local.Port() == 80 }

func (l *farListener) Accept(local, remote netip.AddrPort) (tcp.App, error) {
	far, _ := newFarConn(&waiter.Queue{}, 1<<20)
	l.accepted <- far
	return far, nil
}

// TestFarEndOverTCP runs two sockets' conns through two tcp.Protocols:
// bytes, shutdown and close go through the FarEnd's notifications the
// way the sandbox's sockets make them.
func TestFarEndOverTCP(t *testing.T) {
	a := &farNet{addr: netip.MustParseAddr("10.1.0.1"), ch: make(chan [3][]byte, 4096)}
	b := &farNet{addr: netip.MustParseAddr("10.1.0.2"), ch: make(chan [3][]byte, 4096)}
	a.peer, b.peer = b, a
	ln := &farListener{accepted: make(chan *FarEnd, 1)}
	a.p, b.p = tcp.New(a, nil), tcp.New(b, ln)
	quit := make(chan struct{})
	defer close(quit)
	go a.run(quit)
	go b.run(quit)

	client, _ := newFarConn(&waiter.Queue{}, 1<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.p.Connect(ctx, netip.AddrPortFrom(a.addr, 33333), netip.AddrPortFrom(b.addr, 80), client); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	server := <-ln.accepted
	const sock = 1 - farSide

	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i * 31)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := client.c.send(ctx, sock, vfs.BytesIOSequence(data), 0, false, noDeadline)
		if err == nil {
			client.c.mu.Lock()
			client.c.shutdownLocked(sock, false, true)
			client.c.mu.Unlock()
			client.c.notifyBoth()
		}
		errc <- err
	}()
	got := make([]byte, 0, len(data))
	buf := make([]byte, 256<<10)
	start := time.Now()
	for {
		n, err := server.c.recv(ctx, sock, vfs.BytesIOSequence(buf), 0, false, noDeadline, 1)
		if err != nil {
			t.Fatalf("server recv: %v", err)
		}
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	if err := <-errc; err != nil {
		t.Fatalf("client send: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("server read %d bytes, want %d intact", len(got), len(data))
	}
	t.Logf("8 MiB socket to socket through two TCPs: %v", time.Since(start))

	// The server answers and closes; the client reads it, then EOF.
	if n, err := server.c.send(ctx, sock, vfs.BytesIOSequence([]byte("bye")), 0, false, noDeadline); n != 3 || err != nil {
		t.Fatalf("server send: %d, %v", n, err)
	}
	server.c.mu.Lock()
	server.c.closeLocked(sock, false)
	server.c.mu.Unlock()
	server.c.notifyBoth()
	n, err := client.c.recv(ctx, sock, vfs.BytesIOSequence(buf), 0, false, noDeadline, 3)
	if err != nil || string(buf[:n]) != "bye" {
		t.Fatalf("client recv %q, %v", buf[:n], err)
	}
	if n, err := client.c.recv(ctx, sock, vfs.BytesIOSequence(buf), 0, false, noDeadline, 1); n != 0 || err != nil {
		t.Fatalf("client recv at EOF: %d, %v", n, err)
	}
}
