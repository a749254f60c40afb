//go:build linux

package stack

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
	"appkernel.dev/appkernel/pkg/tcpip/header"
)

// The kernel interop test runs the stack on one end of a veth pair in a
// fresh network namespace and lets Linux, on the other end, talk to it.

const netnsChildEnv = "APPKERNEL_STACK_NETNS_CHILD"

// TestKernelInterop re-runs itself in a new network namespace.
func TestKernelInterop(t *testing.T) {
	if os.Getenv(netnsChildEnv) == "1" {
		kernelInterop(t)
		return
	}
	if os.Getuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKernelInterop$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EPERM) {
		// Under a sandbox that has no network namespaces.
		t.Skipf("cannot create a network namespace: %v", err)
	}
	t.Logf("in the namespace:\n%s", out)
	if err != nil {
		t.Fatalf("namespace run: %v", err)
	}
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

func kernelInterop(t *testing.T) {
	run(t, "ip", "link", "set", "lo", "up")
	run(t, "ip", "link", "add", "kern0", "type", "veth", "peer", "name", "stack0")
	// The kernel must leave stack0 to us: no IPv6 (its EUI-64
	// link-local address would be ours too).
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/stack0/disable_ipv6", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "kern0")
	run(t, "ip", "addr", "add", "2001:db8::1/64", "dev", "kern0", "nodad")
	run(t, "ip", "link", "set", "kern0", "up")
	run(t, "ip", "link", "set", "stack0", "up")
	if os.Getenv("KEEP_OFFLOAD") == "" {
		setTxChecksum(t, "kern0", false)
	}

	link := openPacketLink(t, "stack0")
	s, err := New(Config{Link: link, Addrs: []netip.Prefix{
		netip.MustParsePrefix("192.0.2.2/24"), netip.MustParsePrefix("2001:db8::2/64"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	type dgram struct {
		local, remote netip.AddrPort
		n             int
		ok            bool
	}
	got := make(chan dgram, 16)
	s.SetUDPReceiver(func(local, remote netip.AddrPort, p []byte, _, _ uint8) bool {
		if local.Port() != 7 {
			return false
		}
		ok := true
		for i, c := range p {
			if c != byte(i%251) {
				ok = false
			}
		}
		got <- dgram{local, remote, len(p), ok}
		return true
	})
	s.Start()
	defer s.Close()

	for _, c := range []struct {
		kern, ours netip.Addr
		network    string
	}{
		{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), "udp4"},
		{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), "udp6"},
	} {
		// The kernel pings us (resolving our address on the way).
		kernelPing(t, c.kern, c.ours)

		// Kernel to stack, small and fragmented.
		conn, err := net.ListenUDP(c.network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.kern, 0)))
		if err != nil {
			t.Fatal(err)
		}
		kport := uint16(conn.LocalAddr().(*net.UDPAddr).Port)
		for _, size := range []int{100, 20000} {
			if _, err := conn.WriteToUDPAddrPort(pattern(size), netip.AddrPortFrom(c.ours, 7)); err != nil {
				t.Fatal(err)
			}
			select {
			case d := <-got:
				if d.n != size || !d.ok || d.remote != netip.AddrPortFrom(c.kern, kport) || d.local != netip.AddrPortFrom(c.ours, 7) {
					t.Fatalf("%s: stack got %+v, want %d bytes", c.network, d, size)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: %d-byte datagram from the kernel never arrived; stats %+v", c.network, size, s.Stats())
			}
		}

		// Stack to kernel, small and fragmented.
		buf := make([]byte, 65536)
		for _, size := range []int{100, 20000} {
			if err := s.SendUDP(netip.AddrPortFrom(c.ours, 7), netip.AddrPortFrom(c.kern, kport), pattern(size)); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("%s: kernel did not get our %d-byte datagram: %v; stats %+v", c.network, size, err, s.Stats())
			}
			mustEqual(t, "datagram at the kernel", buf[:n], pattern(size))
			if from.Addr().Unmap() != c.ours || from.Port() != 7 {
				t.Fatalf("from %v", from)
			}
		}
		conn.Close()

		// A closed port: the kernel's connected socket hears
		// ECONNREFUSED from our port unreachable.
		cc, err := net.DialUDP(c.network, nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.ours, 9999)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cc.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		_ = cc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := cc.Read(buf); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("%s: read after sending to a closed port: %v, want ECONNREFUSED", c.network, err)
		}
		cc.Close()
	}
	st := s.Stats()
	t.Logf("stack stats: %+v", st)
	if st.IPv4ChecksumErrors+st.UDPChecksumErrors+st.ICMPChecksumErrors != 0 {
		t.Fatalf("checksum errors on kernel traffic")
	}
}

// kernelPing sends an echo request from the kernel's address to ours
// through a raw ICMP socket and waits for the reply.
func kernelPing(t *testing.T, from, to netip.Addr) {
	t.Helper()
	network, typ, reply := "ip4:icmp", byte(header.ICMPv4EchoRequest), byte(header.ICMPv4EchoReply)
	if to.Is6() {
		network, typ, reply = "ip6:ipv6-icmp", header.ICMPv6EchoRequest, header.ICMPv6EchoReply
	}
	c, err := net.ListenPacket(network, from.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := make([]byte, 64)
	header.EncodeICMP(m, typ, 0, 0xbeef0001)
	copy(m[8:], "appkernel ping")
	if to.Is4() {
		header.ICMP(m).SetChecksum(checksum.Checksum(m))
	} // the kernel fills in the ICMPv6 checksum
	if _, err := c.WriteTo(m, &net.IPAddr{IP: to.AsSlice()}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("ping %v: %v", to, err)
		}
		r := header.ICMP(buf[:n])
		if n >= 8 && r.Type() == reply && r.Ident() == 0xbeef && r.Seq() == 1 {
			mustEqual(t, "echo data", r.Rest(), m[8:])
			return
		}
	}
}

// setTxChecksum turns transmit checksum offload of a device on or off
// (ETHTOOL_STXCSUM). With it on, a veth passes the kernel's packets
// across with their checksums left for hardware to fill in, which an
// AF_PACKET reader sees unfinished.
func setTxChecksum(t *testing.T, dev string, on bool) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	v := struct{ cmd, data uint32 }{cmd: 0x17} // ETHTOOL_STXCSUM
	if on {
		v.data = 1
	}
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data uintptr
		_    [16]byte
	}
	copy(ifr.name[:], dev)
	ifr.data = uintptr(unsafe.Pointer(&v))
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); e != 0 {
		t.Fatalf("ETHTOOL_STXCSUM on %s: %v", dev, e)
	}
}

// packetLink is a minimal AF_PACKET link endpoint for this test.
type packetLink struct {
	fd     int
	mac    tcpip.LinkAddress
	mtu    uint32
	closed atomic.Bool
	done   chan struct{}
}

func openPacketLink(t *testing.T, dev string) *packetLink {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	// Reads time out so that Close is noticed.
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 50000}); err != nil {
		t.Fatal(err)
	}
	return &packetLink{fd: fd, mac: tcpip.LinkAddress(ifi.HardwareAddr), mtu: uint32(ifi.MTU), done: make(chan struct{})}
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return *(*uint16)(unsafe.Pointer(&b[0]))
}

func (l *packetLink) MTU() uint32                    { return l.mtu }
func (l *packetLink) LinkAddress() tcpip.LinkAddress { return l.mac }

func (l *packetLink) WriteFrames(frames [][]byte) error {
	for _, f := range frames {
		if _, err := unix.Write(l.fd, f); err != nil {
			return err
		}
	}
	return nil
}

func (l *packetLink) Attach(d tcpip.FrameDispatcher) {
	go func() {
		defer close(l.done)
		buf := make([]byte, 65536)
		for !l.closed.Load() {
			n, from, err := unix.Recvfrom(l.fd, buf, 0)
			if err != nil {
				continue
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			d.DeliverFrames([][]byte{buf[:n]})
		}
	}()
}

func (l *packetLink) Close() {
	if !l.closed.Swap(true) {
		<-l.done
		unix.Close(l.fd)
	}
}
