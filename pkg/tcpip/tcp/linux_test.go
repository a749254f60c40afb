//go:build linux

package tcp

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/checksum"
)

// The interop test runs our TCP against the Linux kernel's: in a new
// network namespace, a TUN device carries IPv4 packets between the
// kernel (10.9.0.1) and a Protocol (10.9.0.2) through a minimal IPv4
// layer written here.

const interopEnv = "APPKERNEL_TCP_INTEROP_CHILD"

var (
	kernelAddr = netip.MustParseAddr("10.9.0.1")
	ourAddr    = netip.MustParseAddr("10.9.0.2")
)

func TestLinuxInterop(t *testing.T) {
	if os.Getenv(interopEnv) == "" {
		if os.Getuid() != 0 {
			t.Skip("needs root for a network namespace and a TUN device")
		}
		if _, err := os.Stat("/dev/net/tun"); err != nil {
			t.Skip("no /dev/net/tun")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestLinuxInterop$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), interopEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
		out, err := cmd.CombinedOutput()
		t.Logf("child:\n%s", out)
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		return
	}
	fd := setupTUN(t)
	tn := &tunNet{fd: fd}
	ln := newTestListener(6000, 4<<20)
	p := New(tn, ln)
	defer p.Close()
	go tn.readLoop(p)

	const size = 1 << 20
	up, down := pattern(size, 11), pattern(size, 12)

	// Our Connect to a Linux listener.
	l, err := net.Listen("tcp4", "10.9.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	kernelDone := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			kernelDone <- err
			return
		}
		defer c.Close()
		kernelDone <- exchange(c, down, up)
	}()
	app := newFakeApp(4 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := p.Connect(ctx, netip.AddrPortFrom(ourAddr, 40000), netip.AddrPortFrom(kernelAddr, 5000), app); err != nil {
		t.Fatalf("Connect to Linux: %v", err)
	}
	go app.writeAll(up, 10*time.Second)
	got := app.mustRead(t, size, 10*time.Second)
	if !bytes.Equal(got, down) {
		t.Fatalf("read %d bytes from Linux, not what it sent", len(got))
	}
	if err := <-kernelDone; err != nil {
		t.Fatalf("Linux side: %v", err)
	}
	t.Logf("connect to Linux: 1 MiB each way in %v", time.Since(start))
	app.close(false)

	// A Linux connect to our listener.
	start = time.Now()
	c, err := net.DialTimeout("tcp4", "10.9.0.2:6000", 5*time.Second)
	if err != nil {
		t.Fatalf("Linux connect to our listener: %v", err)
	}
	srv := ln.next(t)
	go srv.writeAll(down, 10*time.Second)
	readDone := make(chan []byte, 1)
	go func() { b, _ := srv.readAll(size, 10*time.Second); readDone <- b }()
	if err := exchange(c, up, down); err != nil {
		t.Fatalf("Linux side: %v", err)
	}
	if got := <-readDone; !bytes.Equal(got, up) {
		t.Fatalf("our listener read %d bytes, not what Linux sent", len(got))
	}
	t.Logf("accept from Linux: 1 MiB each way in %v", time.Since(start))

	// Linux closes first; we see EOF, close, and Linux sees EOF.
	c.(*net.TCPConn).CloseWrite()
	if !srv.waitFor(func() bool { return srv.gotFin }, 5*time.Second) {
		t.Fatal("no FIN from Linux")
	}
	srv.close(false)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Linux read after our close: %d, %v", n, err)
	}
	c.Close()

	linuxUrgent(t, ln)

	// A connect to a Linux port nobody listens on.
	err = p.Connect(ctx, netip.AddrPortFrom(ourAddr, 40001), netip.AddrPortFrom(kernelAddr, 5001), newFakeApp(1<<16))
	if err != linux.ECONNREFUSED {
		t.Fatalf("connect to a closed Linux port: %v", err)
	}
}

// exchange writes send to c while reading len(want) bytes and compares.
func exchange(c net.Conn, send, want []byte) error {
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, werr = c.Write(send)
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(want))
	_, err := io.ReadFull(c, got)
	wg.Wait()
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	if !bytes.Equal(got, want) {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// setupTUN creates tcptest0 with 10.9.0.1/24 and brings it up.
func setupTUN(t *testing.T) int {
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var req [40]byte
	copy(req[:], "tcptest0")
	const iffTUN, iffNoPI, tunSetIff = 0x0001, 0x1000, 0x400454ca
	binary.NativeEndian.PutUint16(req[16:], iffTUN|iffNoPI)
	if err := ioctl(fd, tunSetIff, &req); err != nil {
		t.Fatalf("TUNSETIFF: %v", err)
	}
	s, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(s)
	setAddr := func(op uintptr, a [4]byte) {
		var r [40]byte
		copy(r[:], "tcptest0")
		binary.NativeEndian.PutUint16(r[16:], syscall.AF_INET)
		copy(r[20:], a[:])
		if err := ioctl(s, op, &r); err != nil {
			t.Fatalf("ioctl %#x: %v", op, err)
		}
	}
	setAddr(syscall.SIOCSIFADDR, kernelAddr.As4())
	setAddr(syscall.SIOCSIFNETMASK, [4]byte{255, 255, 255, 0})
	var r [40]byte
	copy(r[:], "tcptest0")
	if err := ioctl(s, syscall.SIOCGIFFLAGS, &r); err != nil {
		t.Fatal(err)
	}
	binary.NativeEndian.PutUint16(r[16:], binary.NativeEndian.Uint16(r[16:])|syscall.IFF_UP)
	if err := ioctl(s, syscall.SIOCSIFFLAGS, &r); err != nil {
		t.Fatalf("SIOCSIFFLAGS: %v", err)
	}
	return fd
}

func ioctl(fd int, op uintptr, arg *[40]byte) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), op, uintptr(unsafe.Pointer(arg))); e != 0 {
		return e
	}
	return nil
}

// tunNet is a minimal IPv4 layer over a TUN device.
type tunNet struct {
	fd int
	mu sync.Mutex
	id uint16
}

func (n *tunNet) Route(dst netip.Addr) (netip.Addr, uint32, error) {
	if !dst.Is4() || !netip.MustParsePrefix("10.9.0.0/24").Contains(dst) {
		return netip.Addr{}, 0, linux.ENETUNREACH
	}
	return ourAddr, 1500, nil
}

func (n *tunNet) SendTransport(src, dst netip.Addr, proto uint8, payload []byte) error {
	pkt := make([]byte, 20+len(payload))
	pkt[0] = 0x45
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	n.mu.Lock()
	n.id++
	binary.BigEndian.PutUint16(pkt[4:], n.id)
	n.mu.Unlock()
	pkt[6] = 0x40 // DF
	pkt[8] = 64
	pkt[9] = proto
	s, d := src.As4(), dst.As4()
	copy(pkt[12:], s[:])
	copy(pkt[16:], d[:])
	binary.BigEndian.PutUint16(pkt[10:], checksum.Checksum(pkt[:20]))
	copy(pkt[20:], payload)
	_, err := syscall.Write(n.fd, pkt)
	return err
}

// readLoop strips the IPv4 header of what the kernel sends and hands
// TCP segments to p.
func (n *tunNet) readLoop(p *Protocol) {
	buf := make([]byte, 65536)
	for {
		k, err := syscall.Read(n.fd, buf)
		if err != nil {
			return
		}
		b := buf[:k]
		if k < 20 || b[0]>>4 != 4 {
			continue
		}
		ihl := int(b[0]&0xf) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		if ihl < 20 || total > k || total < ihl || b[9] != tcpip.ProtocolTCP {
			continue
		}
		src := netip.AddrFrom4([4]byte(b[12:16]))
		dst := netip.AddrFrom4([4]byte(b[16:20]))
		p.HandlePacket(src, dst, b[ihl:total])
	}
}

// linuxUrgent exchanges urgent data with Linux both ways: the URG flag
// and the urgent pointer (one past the urgent byte, as BSD and Linux
// read it) must mean the same byte to both TCPs.
func linuxUrgent(t *testing.T, ln *testListener) {
	c, err := net.DialTimeout("tcp4", "10.9.0.2:6000", 5*time.Second)
	if err != nil {
		t.Fatalf("Linux connect to our listener: %v", err)
	}
	defer c.Close()
	srv := ln.next(t)
	defer srv.close(false)
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	raw.Control(func(fd uintptr) { serr = syscall.Sendto(int(fd), []byte("abc"), syscall.MSG_OOB, nil) })
	if serr != nil {
		t.Fatalf("Linux send MSG_OOB: %v", serr)
	}
	if got := srv.mustRead(t, 3, 5*time.Second); string(got) != "abc" {
		t.Fatalf("read %q from Linux", got)
	}
	if got := srv.urgents(); len(got) != 1 || got[0] != 2 {
		t.Fatalf("urgent bytes from Linux at %v, want [2]", got)
	}

	srv.urgentAt(2)
	srv.mustWrite(t, []byte("xyz"), 5*time.Second)
	var oob [1]byte
	var n int
	raw.Control(func(fd uintptr) {
		// Wait for the out-of-band byte: select's exceptfds.
		var ex syscall.FdSet
		ex.Bits[fd/64] |= 1 << (fd % 64)
		tv := syscall.Timeval{Sec: 5}
		if _, serr = syscall.Select(int(fd)+1, nil, nil, &ex, &tv); serr != nil {
			return
		}
		n, _, serr = syscall.Recvfrom(int(fd), oob[:], syscall.MSG_OOB)
	})
	if serr != nil || n != 1 || oob[0] != 'z' {
		t.Fatalf("Linux recv MSG_OOB: %d %q, %v; want z", n, oob[:n], serr)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 8)
	if n, err := c.Read(buf); string(buf[:n]) != "xy" || err != nil {
		t.Fatalf("Linux read %q, %v; want the bytes before the urgent one", buf[:n], err)
	}
}
