package stack

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
	"appkernel.dev/appkernel/pkg/tcpip/header"
	"appkernel.dev/appkernel/pkg/tcpip/link/channel"
)

var (
	macA = tcpip.LinkAddress{0x02, 0, 0, 0, 0, 0x0a}
	macB = tcpip.LinkAddress{0x02, 0, 0, 0, 0, 0x0b}

	a4 = netip.MustParseAddr("10.0.0.1")
	b4 = netip.MustParseAddr("10.0.0.2")
	a6 = netip.MustParseAddr("fd00::1")
	b6 = netip.MustParseAddr("fd00::2")
)

// udpMsg is one datagram a test receiver got.
type udpMsg struct {
	local, remote netip.AddrPort
	payload       []byte
}

// udpSink collects datagrams; it accepts those for port open only.
type udpSink struct {
	open uint16
	ch   chan udpMsg
}

func newUDPSink(s *Stack, open uint16) *udpSink {
	k := &udpSink{open: open, ch: make(chan udpMsg, 1024)}
	s.SetUDPReceiver(func(local, remote netip.AddrPort, p []byte, _, _ uint8) bool {
		if local.Port() != k.open {
			return false
		}
		k.ch <- udpMsg{local, remote, append([]byte(nil), p...)}
		return true
	})
	return k
}

func (k *udpSink) get(t *testing.T) udpMsg {
	t.Helper()
	select {
	case m := <-k.ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no datagram arrived")
		return udpMsg{}
	}
}

func (k *udpSink) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-k.ch:
		t.Fatalf("unexpected datagram %v -> %v (%d bytes)", m.remote, m.local, len(m.payload))
	case <-time.After(d):
	}
}

// control is one HandleControl call.
type control struct {
	local, remote netip.Addr
	kind          tcpip.ControlKind
	mtu           uint32
	quoted        []byte
}

// fakeTransport records what a registered protocol receives.
type fakeTransport struct {
	pkts chan []byte
	ctl  chan control
}

func newFakeTransport() *fakeTransport {
	return &fakeTransport{pkts: make(chan []byte, 64), ctl: make(chan control, 64)}
}

func (f *fakeTransport) HandlePacket(src, dst netip.Addr, p []byte) {
	f.pkts <- append([]byte(nil), p...)
}

func (f *fakeTransport) HandleControl(local, remote netip.Addr, kind tcpip.ControlKind, mtu uint32, quoted []byte) {
	f.ctl <- control{local, remote, kind, mtu, append([]byte(nil), quoted...)}
}

func (f *fakeTransport) getControl(t *testing.T) control {
	t.Helper()
	select {
	case c := <-f.ctl:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no HandleControl call")
		return control{}
	}
}

// testNet is two stacks on one cable.
type testNet struct {
	a, b   *Stack
	la, lb *channel.Endpoint
}

type netOpts struct {
	mtu     uint32
	aRoutes []Route
	bAddrs  []netip.Prefix
	tweak   func(a, b *Stack)
}

func newNet(t *testing.T, o netOpts) *testNet {
	t.Helper()
	if o.mtu == 0 {
		o.mtu = 1500
	}
	la, lb := channel.Pair(macA, macB, o.mtu)
	a, err := New(Config{Link: la, Addrs: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("fd00::1/64"),
	}, Routes: o.aRoutes})
	if err != nil {
		t.Fatal(err)
	}
	if o.bAddrs == nil {
		o.bAddrs = []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24"), netip.MustParsePrefix("fd00::2/64")}
	}
	b, err := New(Config{Link: lb, Addrs: o.bAddrs})
	if err != nil {
		t.Fatal(err)
	}
	if o.tweak != nil {
		o.tweak(a, b)
	}
	n := &testNet{a: a, b: b, la: la, lb: lb}
	t.Cleanup(func() { a.Close(); b.Close() })
	return n
}

func (n *testNet) start() {
	n.a.Start()
	n.b.Start()
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// tap records the frames an endpoint writes.
type tap struct {
	mu     sync.Mutex
	frames [][]byte
}

func (tp *tap) hook(next channel.Hook) channel.Hook {
	return func(fs [][]byte) [][]byte {
		tp.mu.Lock()
		for _, f := range fs {
			tp.frames = append(tp.frames, append([]byte(nil), f...))
		}
		tp.mu.Unlock()
		if next != nil {
			return next(fs)
		}
		return fs
	}
}

func (tp *tap) find(match func(f []byte) bool) []byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, f := range tp.frames {
		if match(f) {
			return f
		}
	}
	return nil
}

// ipv4Frame builds an Ethernet frame carrying an IPv4 packet.
func ipv4Frame(dmac, smac tcpip.LinkAddress, src, dst netip.Addr, proto uint8, payload []byte) []byte {
	f := make([]byte, header.EthernetSize+header.IPv4MinSize+len(payload))
	header.EncodeEthernet(f, dmac, smac, header.EtherTypeIPv4)
	header.EncodeIPv4(f[header.EthernetSize:], header.IPv4Fields{
		TotalLength: uint16(header.IPv4MinSize + len(payload)), ID: 7, TTL: 64, Protocol: proto, Src: src, Dst: dst,
	})
	copy(f[header.EthernetSize+header.IPv4MinSize:], payload)
	return f
}

// ipv6Frame builds an Ethernet frame carrying an IPv6 packet whose
// payload starts with a header of type next.
func ipv6Frame(dmac, smac tcpip.LinkAddress, src, dst netip.Addr, next uint8, payload []byte) []byte {
	f := make([]byte, header.EthernetSize+header.IPv6Size+len(payload))
	header.EncodeEthernet(f, dmac, smac, header.EtherTypeIPv6)
	header.EncodeIPv6(f[header.EthernetSize:], header.IPv6Fields{
		PayloadLength: uint16(len(payload)), NextHeader: next, HopLimit: 64, Src: src, Dst: dst,
	})
	copy(f[header.EthernetSize+header.IPv6Size:], payload)
	return f
}

// udpPacket builds a UDP datagram with a correct checksum.
func udpPacket(src, dst netip.Addr, sport, dport uint16, data []byte) []byte {
	u := make([]byte, header.UDPSize+len(data))
	header.EncodeUDP(u, sport, dport, uint16(len(u)), 0)
	copy(u[header.UDPSize:], data)
	c := checksum.Transport(src, dst, tcpip.ProtocolUDP, u)
	if c == 0 {
		c = 0xffff
	}
	u[6], u[7] = byte(c>>8), byte(c)
	return u
}

// pattern returns n bytes that differ at every offset mod 251.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func mustEqual(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes, want %d (contents differ)", what, len(got), len(want))
	}
}
