package packet

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
)

// tcpFrame builds an Ethernet+IPv4+TCP frame with a correct IP checksum
// and a TCP checksum field holding only the pseudo-header's sum, as a
// host socket leaves it for offload.
func tcpFrame(payload []byte, flags byte) []byte {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	f := make([]byte, ethHdrLen+20+20+len(payload))
	binary.BigEndian.PutUint16(f[12:], etherIPv4)
	ip := f[ethHdrLen:]
	ip[0], ip[8], ip[9] = 0x45, 64, tcpip.ProtocolTCP
	binary.BigEndian.PutUint16(ip[2:], uint16(40+len(payload)))
	binary.BigEndian.PutUint16(ip[4:], 100)
	copy(ip[12:], src.AsSlice())
	copy(ip[16:], dst.AsSlice())
	binary.BigEndian.PutUint16(ip[10:], checksum.Checksum(ip[:20]))
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 80)
	binary.BigEndian.PutUint16(tcp[2:], 40000)
	binary.BigEndian.PutUint32(tcp[4:], 1000)
	tcp[12], tcp[13] = 5<<4, flags
	copy(tcp[20:], payload)
	binary.BigEndian.PutUint16(tcp[16:], checksum.PseudoHeader(src, dst, tcpip.ProtocolTCP, 20+len(payload)))
	return f
}

func TestCompleteChecksum(t *testing.T) {
	f := tcpFrame([]byte("hello, world!"), 0x18)
	h := vnetHdr{flags: needsCsum, csumStart: ethHdrLen + 20, csumOffset: 16}
	if !completeChecksum(f, &h) {
		t.Fatal("completeChecksum refused a good frame")
	}
	ip := f[ethHdrLen:]
	if c := checksum.Transport(netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20])), tcpip.ProtocolTCP, ip[20:]); c != 0 {
		t.Errorf("checksum does not verify: %#x", c)
	}
	bad := vnetHdr{flags: needsCsum, csumStart: uint16(len(f)), csumOffset: 16}
	if completeChecksum(f, &bad) {
		t.Error("completeChecksum took an offset past the frame")
	}
}

func TestSegment(t *testing.T) {
	payload := make([]byte, 3000)
	for i := range payload {
		payload[i] = byte(i * 13)
	}
	f := tcpFrame(payload, tcpFlagPSH|tcpFlagFIN|tcpFlagCWR|0x10)
	var s segmenter
	segs, ok := s.segment(f, &vnetHdr{gsoType: gsoTCPv4, gsoSize: 1400}, 1500)
	if !ok || len(segs) != 3 {
		t.Fatalf("segment = %d segments, %v; want 3", len(segs), ok)
	}
	var got []byte
	for i, seg := range segs {
		ip := seg[ethHdrLen:]
		tcp := ip[20:]
		if n := int(binary.BigEndian.Uint16(ip[2:])); n != len(ip) {
			t.Errorf("segment %d: IP length %d, want %d", i, n, len(ip))
		}
		if checksum.Checksum(ip[:20]) != 0 {
			t.Errorf("segment %d: bad IP checksum", i)
		}
		if id := binary.BigEndian.Uint16(ip[4:]); id != uint16(100+i) {
			t.Errorf("segment %d: IP id %d", i, id)
		}
		if c := checksum.Transport(netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20])), tcpip.ProtocolTCP, tcp); c != 0 {
			t.Errorf("segment %d: bad TCP checksum", i)
		}
		if seq := binary.BigEndian.Uint32(tcp[4:]); seq != uint32(1000+1400*i) {
			t.Errorf("segment %d: seq %d", i, seq)
		}
		fl := tcp[13]
		last, first := i == len(segs)-1, i == 0
		if (fl&tcpFlagFIN != 0) != last || (fl&tcpFlagPSH != 0) != last || (fl&tcpFlagCWR != 0) != first || fl&0x10 == 0 {
			t.Errorf("segment %d: flags %#x", i, fl)
		}
		got = append(got, tcp[20:]...)
	}
	if !bytes.Equal(got, payload) {
		t.Error("segments do not carry the payload in order")
	}
	if _, ok := s.segment(f, &vnetHdr{gsoType: 3 /* UDP */, gsoSize: 1400}, 1500); ok {
		t.Error("UDP fragmentation offload was taken")
	}
}

// vethPair makes a veth pair a<->b, both up, in a new network namespace
// that the calling (locked) thread enters.
func vethPair(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Skipf("unshare(CLONE_NEWNET): %v", err)
	}
	for _, args := range [][]string{
		{"link", "add", "pa", "type", "veth", "peer", "name", "pb"},
		{"link", "set", "pa", "up"},
		{"link", "set", "pb", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
}

func packetSocket(t *testing.T, ifname string) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	idx := ifindex(t, ifname)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: idx}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	return fd
}

func ifindex(t *testing.T, name string) int {
	b, err := os.ReadFile("/sys/class/net/" + name + "/ifindex")
	if err != nil {
		// /sys shows the namespace it was mounted in; ask the socket.
		fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		defer unix.Close(fd)
		ifr, _ := unix.NewIfreq(name)
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
			t.Fatalf("SIOCGIFINDEX %s: %v", name, err)
		}
		return int(ifr.Uint32())
	}
	var n int
	for _, c := range bytes.TrimSpace(b) {
		n = n*10 + int(c-'0')
	}
	return n
}

func hwaddr(t *testing.T, name string) tcpip.LinkAddress {
	fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	defer unix.Close(fd)
	ifr, _ := unix.NewIfreq(name)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		t.Fatalf("SIOCGIFHWADDR %s: %v", name, err)
	}
	raw := (*[unix.IFNAMSIZ + 24]byte)(unsafe.Pointer(ifr))
	var mac tcpip.LinkAddress
	copy(mac[:], raw[unix.IFNAMSIZ+2:])
	return mac
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

type collector chan []byte

// DeliverFrames keeps the test's own frames (the kernel sends IPv6
// multicast listener reports on a new link).
func (c collector) DeliverFrames(frames [][]byte) {
	for _, f := range frames {
		if binary.BigEndian.Uint16(f[12:]) != 0x88b5 {
			continue
		}
		c <- bytes.Clone(f)
	}
}

// TestVeth exchanges frames with a raw socket on the other end of a veth
// pair: both directions, batches, and the endpoint's own sends not read
// back.
func TestVeth(t *testing.T) {
	runtime.LockOSThread()
	// The thread's network namespace is thrown away with the thread.
	vethPair(t)
	fd := packetSocket(t, "pa")
	peer := packetSocket(t, "pb")
	defer unix.Close(peer)
	// Frames to any other address are PACKET_OTHERHOST, which the
	// endpoint ignores.
	mac := hwaddr(t, "pa")
	e, err := New(fd, Config{MTU: 1500, MAC: mac, Batch: 4})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer e.Close()
	got := make(collector, 100)
	e.Attach(got)

	frame := func(i int) []byte {
		f := make([]byte, 60)
		copy(f, mac[:])
		copy(f[6:], []byte{2, 0, 0, 0, 0, 0xb})
		binary.BigEndian.PutUint16(f[12:], 0x88b5) // local experimental
		f[14] = byte(i)
		return f
	}
	// The endpoint sends 10 frames in one call: the peer reads them
	// all, in order; the endpoint must not read them back.
	var out [][]byte
	for i := 0; i < 10; i++ {
		out = append(out, frame(i))
	}
	if err := e.WriteFrames(out); err != nil {
		t.Fatalf("WriteFrames: %v", err)
	}
	buf := make([]byte, 2000)
	unix.SetsockoptTimeval(peer, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
	for i := 0; i < 10; {
		n, from, err := unix.Recvfrom(peer, buf, 0)
		if err != nil {
			t.Fatalf("peer recv %d: %v", i, err)
		}
		if from.(*unix.SockaddrLinklayer).Pkttype == unix.PACKET_OUTGOING || n < 14 || binary.BigEndian.Uint16(buf[12:]) != 0x88b5 {
			continue
		}
		if n != 60 || buf[14] != byte(i) {
			t.Fatalf("peer got frame %d of %d bytes: %x", buf[14], n, buf[:n])
		}
		i++
	}
	// The peer sends 10: the endpoint delivers exactly those.
	for i := 0; i < 10; i++ {
		if err := unix.Sendto(peer, frame(100+i), 0, &unix.SockaddrLinklayer{Ifindex: ifindex(t, "pb"), Halen: 6}); err != nil {
			t.Fatalf("peer send: %v", err)
		}
	}
	for i := 0; i < 10; i++ {
		select {
		case f := <-got:
			if len(f) != 60 || f[14] != byte(100+i) {
				t.Fatalf("endpoint got %x, want frame %d", f, 100+i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("endpoint got %d of 10 frames", i)
		}
	}
	select {
	case f := <-got:
		t.Fatalf("extra frame delivered: %x", f)
	case <-time.After(100 * time.Millisecond):
	}
	st := e.Stats()
	if st.TxFrames != 10 || st.RxFrames < 10 {
		t.Errorf("stats = %+v", st)
	}
	start := time.Now()
	e.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := e.WriteFrames(out); err == nil {
		t.Errorf("WriteFrames after Close succeeded")
	}
}
