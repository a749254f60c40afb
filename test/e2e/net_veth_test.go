package e2e

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// These tests give runsc what CNI and podman give it: a network
// namespace, joined by path, holding one end of a veth pair with an
// address and a default route, the other end on the host. With
// --network=sandbox the Sentry's packet stack takes the interface over.

// vethNet is a test network: host end hostIP/24 on hostIf, the
// namespace ns with eth0 at sandboxIP/24 and a default route via
// hostIP.
type vethNet struct {
	ns, hostIf        string
	hostIP, sandboxIP string
	nsPath            string
}

func ipCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newVethNet makes the namespace and veth pair, and checks at cleanup
// that deleting the namespace (as an engine does) leaves neither.
func newVethNet(t *testing.T) *vethNet {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
	id := os.Getpid()%200 + 20
	n := &vethNet{
		ns:        fmt.Sprintf("rtest%d", os.Getpid()),
		hostIf:    fmt.Sprintf("rveth%d", os.Getpid()),
		hostIP:    fmt.Sprintf("10.231.%d.1", id),
		sandboxIP: fmt.Sprintf("10.231.%d.2", id),
	}
	n.nsPath = filepath.Join("/var/run/netns", n.ns)
	ipCmd(t, "netns", "add", n.ns)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", n.ns).Run()
		exec.Command("ip", "link", "del", n.hostIf).Run()
		if _, err := os.Stat(n.nsPath); err == nil {
			t.Errorf("network namespace %s left behind", n.ns)
		}
		if out, _ := exec.Command("ip", "link", "show", n.hostIf).CombinedOutput(); !strings.Contains(string(out), "does not exist") {
			t.Errorf("veth %s left behind: %s", n.hostIf, out)
		}
	})
	ipCmd(t, "link", "add", n.hostIf, "type", "veth", "peer", "name", "eth0", "netns", n.ns)
	ipCmd(t, "addr", "add", n.hostIP+"/24", "dev", n.hostIf)
	ipCmd(t, "link", "set", n.hostIf, "up")
	ipCmd(t, "-n", n.ns, "link", "set", "lo", "up")
	ipCmd(t, "-n", n.ns, "addr", "add", n.sandboxIP+"/24", "dev", "eth0")
	ipCmd(t, "-n", n.ns, "link", "set", "eth0", "up")
	ipCmd(t, "-n", n.ns, "route", "add", "default", "via", n.hostIP)
	return n
}

// netBundle is a busybox bundle with the network applets, joining the
// namespace at nsPath.
func (e *ociEnv) netBundle(nsPath string, argv ...string) string {
	e.t.Helper()
	b := e.bundle(argv...)
	for _, l := range []string{"ip", "httpd", "nc", "wget", "netstat", "mkdir"} {
		if err := os.Symlink("busybox", filepath.Join(b, "rootfs", "bin", l)); err != nil {
			e.t.Fatal(err)
		}
	}
	e.editSpec(b, func(s *specs.Spec) {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.NetworkNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: nsPath})
	})
	return b
}

// TestNetVethView: the sandbox shows the interface it took over, with
// its addresses and routes, and the host's copy of the interface has
// no addresses left (the host kernel must not answer for them).
func TestNetVethView(t *testing.T) {
	e := newOCIEnv(t)
	n := newVethNet(t)
	b := e.netBundle(n.nsPath, "sh", "-c", "ip addr; echo ROUTES; ip route; cat /proc/net/route")
	r := e.runsc("run", "--bundle", b, "netview")
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	for _, want := range []string{"eth0", "inet " + n.sandboxIP + "/24", "link/ether", strings.TrimSuffix(n.sandboxIP, ".2") + ".0/24 dev eth0"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sandbox's view lacks %q:\n%s", want, r.stdout)
		}
	}
	// /proc/net/route has the default route with its gateway (flags
	// RTF_UP|RTF_GATEWAY).
	if !strings.Contains(r.stdout, "eth0\t00000000\t") || !strings.Contains(r.stdout, "\t0003\t") {
		t.Errorf("/proc/net/route lacks the default route:\n%s", r.stdout)
	}
	host := ipCmd(t, "-n", n.ns, "addr", "show", "dev", "eth0")
	if strings.Contains(host, "inet ") {
		t.Errorf("the host kernel still has addresses on the sandbox's interface:\n%s", host)
	}
	if !strings.Contains(host, "UP") {
		t.Errorf("the interface is no longer up:\n%s", host)
	}
}

// TestNetVethNewNamespaceHasLoopbackOnly: a namespace with only lo, or
// none at all in the spec, is never taken over.
func TestNetVethNewNamespaceHasLoopbackOnly(t *testing.T) {
	e := newOCIEnv(t)
	b := e.netBundle("", "ip", "addr")
	e.editSpec(b, func(s *specs.Spec) {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.NetworkNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	})
	r := e.runsc("run", "--bundle", b, "netnew")
	if r.code != 0 || strings.Contains(r.stdout, "eth") || !strings.Contains(r.stdout, "lo:") {
		t.Fatalf("run: %+v", r)
	}
}

// TestNetVethTraffic: TCP both ways between the host and the sandbox
// over the veth: the sandbox fetches from a host HTTP server, and the
// host fetches from busybox httpd in the sandbox. (Debian's busybox nc
// has no UDP mode: TestNetVethUDP uses a C program.)
func TestNetVethTraffic(t *testing.T) {
	e := newOCIEnv(t)
	n := newVethNet(t)

	ln, err := net.Listen("tcp", n.hostIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the host\n")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	tcpPort := ln.Addr().(*net.TCPAddr).Port

	// busybox wget -O - crashes natively too; nc speaks HTTP/1.0.
	script := fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | nc %s %d;
mkdir -p /tmp/www && echo hello from the sandbox > /tmp/www/index.html && httpd -p 8080 -h /tmp/www && sleep 8`, n.hostIP, tcpPort)
	b := e.netBundle(n.nsPath, "sh", "-c", script)
	done := make(chan result, 1)
	go func() { done <- e.runscFiles("run", "--bundle", b, "nettraffic") }()

	var body string
	waitFor(t, "the sandbox's HTTP server", func() bool {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + n.sandboxIP + ":8080/index.html")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		body = string(data)
		return true
	})
	if body != "hello from the sandbox\n" {
		t.Errorf("sandbox's HTTP server answered %q", body)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the container did not finish")
	}
	if r.code != 0 || !strings.Contains(r.stdout, "hello from the host") {
		t.Errorf("sandbox's fetch from the host: %+v", r)
	}
}

// nettoolSrc is the sandbox's side of the socket-option and UDP tests,
// built static into the container's rootfs.
const nettoolSrc = `/* nettool: the sandbox's side of the veth e2e tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static struct sockaddr_in addr(const char *host, const char *port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(port))};
  if (host) inet_pton(AF_INET, host, &a.sin_addr);
  return a;
}

static void die(const char *what) {
  printf("FAIL %s: %s\n", what, strerror(errno));
  exit(1);
}

static int getint(int fd, int level, int name) {
  int v = -1;
  socklen_t l = sizeof v;
  if (getsockopt(fd, level, name, &v, &l) < 0) die("getsockopt");
  return v;
}

static void setint(int fd, int level, int name, int v) {
  if (setsockopt(fd, level, name, &v, sizeof v) < 0) die("setsockopt");
}

/* tcpka HOST PORT IDLE: keep-alive on with TCP_KEEPIDLE and KEEPINTVL
 * IDLE seconds, then idle for 3*IDLE+1 seconds, then one exchange. */
static int tcpka(const char *host, const char *port, int idle) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = addr(host, port);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  setint(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  setint(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle);
  setint(fd, IPPROTO_TCP, TCP_KEEPINTVL, idle);
  setint(fd, IPPROTO_TCP, TCP_KEEPCNT, 5);
  setint(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  printf("opts keepalive=%d idle=%d intvl=%d cnt=%d nodelay=%d\n", getint(fd, SOL_SOCKET, SO_KEEPALIVE),
         getint(fd, IPPROTO_TCP, TCP_KEEPIDLE), getint(fd, IPPROTO_TCP, TCP_KEEPINTVL),
         getint(fd, IPPROTO_TCP, TCP_KEEPCNT), getint(fd, IPPROTO_TCP, TCP_NODELAY));
  fflush(stdout);
  if (write(fd, "hello\n", 6) != 6) die("write");
  char buf[64];
  int n = read(fd, buf, sizeof buf - 1);
  if (n <= 0) die("read");
  sleep(3 * idle + 1);
  /* Corked bytes still go out once uncorked. */
  setint(fd, IPPROTO_TCP, TCP_CORK, 1);
  if (write(fd, "after", 5) != 5) die("write");
  setint(fd, IPPROTO_TCP, TCP_CORK, 0);
  if (write(fd, " idle\n", 6) != 6) die("write");
  n = read(fd, buf, sizeof buf - 1);
  if (n <= 0) die("read");
  buf[n] = 0;
  struct tcp_info ti;
  socklen_t l = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0) die("TCP_INFO");
  printf("reply %s", buf);
  printf("info state=%u rtt=%u cwnd=%u mss=%u pmtu=%u retransmits=%u acked=%llu received=%llu\n", ti.tcpi_state,
         ti.tcpi_rtt, ti.tcpi_snd_cwnd, ti.tcpi_snd_mss, ti.tcpi_pmtu, ti.tcpi_retransmits,
         (unsigned long long)ti.tcpi_bytes_acked, (unsigned long long)ti.tcpi_bytes_received);
  close(fd);
  return 0;
}

static void timeout(int fd, int secs) {
  struct timeval tv = {.tv_sec = secs};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* udpping HOST PORT: a connected UDP socket sends and reads the answer. */
static int udpping(const char *host, const char *port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = addr(host, port);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  timeout(fd, 5);
  if (send(fd, "ping", 4, 0) != 4) die("send");
  char buf[64];
  int n = recv(fd, buf, sizeof buf - 1, 0);
  if (n < 0) die("recv");
  buf[n] = 0;
  printf("udp reply %s\n", buf);
  return 0;
}

/* udprefused HOST PORT: a connected UDP socket's datagram to a closed
 * port comes back as ECONNREFUSED on a later call. */
static int udprefused(const char *host, const char *port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = addr(host, port);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  timeout(fd, 5);
  if (send(fd, "x", 1, 0) != 1) die("send");
  char buf[8];
  int n = recv(fd, buf, sizeof buf, 0);
  int err = errno;
  printf("udp refused recv=%d errno=%s\n", n, n < 0 ? strerror(err) : "none");
  /* The error is reported once. */
  n = getint(fd, SOL_SOCKET, SO_ERROR);
  printf("udp so_error after=%d\n", n);
  return 0;
}

/* udpserve PORT: answer one datagram. */
static int udpserve(const char *port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = addr(NULL, port);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  timeout(fd, 20);
  char buf[64];
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  int n = recvfrom(fd, buf, sizeof buf - 6, 0, (struct sockaddr *)&from, &fl);
  if (n < 0) die("recvfrom");
  char out[80];
  int m = snprintf(out, sizeof out, "pong:%.*s", n, buf);
  if (sendto(fd, out, m, 0, (struct sockaddr *)&from, fl) != m) die("sendto");
  printf("udp served %.*s\n", n, buf);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 5 && !strcmp(argv[1], "tcpka")) return tcpka(argv[2], argv[3], atoi(argv[4]));
  if (argc == 4 && !strcmp(argv[1], "udpping")) return udpping(argv[2], argv[3]);
  if (argc == 4 && !strcmp(argv[1], "udprefused")) return udprefused(argv[2], argv[3]);
  if (argc == 3 && !strcmp(argv[1], "udpserve")) return udpserve(argv[2]);
  fprintf(stderr, "usage: nettool tcpka|udpping|udprefused HOST PORT [IDLE] | udpserve PORT\n");
  return 2;
}
`

// netToolBundle is netBundle with /bin/nettool.
func (e *ociEnv) netToolBundle(nsPath string, argv ...string) string {
	e.t.Helper()
	bin := buildStatic(e.t, e.t.TempDir(), "nettool", nettoolSrc)
	b := e.netBundle(nsPath, argv...)
	data, err := os.ReadFile(bin)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "rootfs", "bin", "nettool"), data, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// tcpSeg is a TCP segment seen on the host's end of the veth.
type tcpSeg struct {
	src, dst netip.AddrPort
	seq      uint32
	flags    byte
	payload  int
}

// sniffer captures the IPv4 TCP segments crossing a host interface
// with an AF_PACKET socket.
type sniffer struct {
	fd   int
	mu   sync.Mutex
	segs []tcpSeg
	stop chan struct{}
	done chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func newSniffer(t *testing.T, ifname string) *sniffer {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(syscall.ETH_P_IP)))
	if err != nil {
		t.Fatalf("AF_PACKET socket: %v", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_IP), Ifindex: ifi.Index}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	tv := syscall.Timeval{Usec: 100000}
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	s := &sniffer{fd: fd, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	t.Cleanup(s.close)
	return s
}

func (s *sniffer) run() {
	defer close(s.done)
	buf := make([]byte, 65536)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		n, _, err := syscall.Recvfrom(s.fd, buf, 0)
		if err != nil || n < 14+20 {
			continue
		}
		ip := buf[14:n]
		ihl := int(ip[0]&0xf) * 4
		if ip[0]>>4 != 4 || ip[9] != 6 || len(ip) < ihl+20 {
			continue
		}
		total := int(binary.BigEndian.Uint16(ip[2:]))
		tcp := ip[ihl:]
		off := int(tcp[12]>>4) * 4
		src, _ := netip.AddrFromSlice(ip[12:16])
		dst, _ := netip.AddrFromSlice(ip[16:20])
		seg := tcpSeg{
			src:     netip.AddrPortFrom(src, binary.BigEndian.Uint16(tcp)),
			dst:     netip.AddrPortFrom(dst, binary.BigEndian.Uint16(tcp[2:])),
			seq:     binary.BigEndian.Uint32(tcp[4:]),
			flags:   tcp[13],
			payload: total - ihl - off,
		}
		s.mu.Lock()
		s.segs = append(s.segs, seg)
		s.mu.Unlock()
	}
}

func (s *sniffer) close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	<-s.done
	syscall.Close(s.fd)
}

// keepaliveProbes counts the segments to dst that are keep-alive
// probes: no payload, ACK alone, and a sequence number one below the
// next the sender would use.
func (s *sniffer) keepaliveProbes(dst netip.AddrPort) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next uint32
	var started bool
	probes := 0
	for _, g := range s.segs {
		if g.dst != dst {
			continue
		}
		end := g.seq + uint32(g.payload)
		if g.flags&0x3 != 0 { // SYN or FIN take a number
			end++
		}
		if started && g.payload == 0 && g.flags == 0x10 && g.seq == next-1 {
			probes++
			continue
		}
		if !started || int32(end-next) > 0 {
			next, started = end, true
		}
	}
	return probes
}

// TestNetVethTCPOptions: socket options on a connection that leaves
// the sandbox reach its TCP: with SO_KEEPALIVE and a 1 s TCP_KEEPIDLE,
// keep-alive probes cross the veth while the application is idle;
// TCP_INFO reports the connection's state and measured round trip; a
// corked write still goes out when uncorked.
func TestNetVethTCPOptions(t *testing.T) {
	e := newOCIEnv(t)
	n := newVethNet(t)
	sn := newSniffer(t, n.hostIf)

	ln, err := net.Listen("tcp", n.hostIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	served := make(chan error, 1)
	var peer net.Addr
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		peer = c.RemoteAddr()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		r := bufio.NewReader(c)
		if l, err := r.ReadString('\n'); err != nil || l != "hello\n" {
			served <- fmt.Errorf("first line %q, %v", l, err)
			return
		}
		io.WriteString(c, "hi\n")
		l, err := r.ReadString('\n')
		if err != nil {
			served <- err
			return
		}
		io.WriteString(c, "ok "+l)
		// Hold the connection until the sandbox closes it, for its
		// TCP_INFO to see ESTABLISHED.
		io.Copy(io.Discard, r)
		served <- nil
	}()

	b := e.netToolBundle(n.nsPath, "nettool", "tcpka", n.hostIP, fmt.Sprint(port), "1")
	r := e.runsc("run", "--bundle", b, "nettcpopts")
	if err := <-served; err != nil {
		t.Errorf("host side: %v", err)
	}
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	for _, want := range []string{"opts keepalive=1 idle=1 intvl=1 cnt=5 nodelay=1", "reply ok after idle", "info state=1 "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sandbox output lacks %q:\n%s", want, r.stdout)
		}
	}
	var st, rtt, cwnd, mss, pmtu, retr, acked, recvd int
	if i := strings.Index(r.stdout, "info "); i >= 0 {
		fmt.Sscanf(r.stdout[i:], "info state=%d rtt=%d cwnd=%d mss=%d pmtu=%d retransmits=%d acked=%d received=%d", &st, &rtt, &cwnd, &mss, &pmtu, &retr, &acked, &recvd)
	}
	// The veth's MTU is 1500: the MSS (less options) and path MTU come
	// from the packet stack, not the loopback defaults.
	if rtt <= 0 || cwnd < 1 || mss <= 0 || mss > 1460 || pmtu != 1500 || acked != len("hello\nafter idle\n") || recvd != len("hi\nok after idle\n") {
		t.Errorf("TCP_INFO of the external connection: %q", r.stdout)
	}
	if peer == nil {
		t.Fatal("no connection")
	}
	hostEnd := netip.AddrPortFrom(netip.MustParseAddr(n.hostIP), uint16(port))
	if p := sn.keepaliveProbes(hostEnd); p < 2 {
		t.Errorf("saw %d keep-alive probes in 4 idle seconds with TCP_KEEPIDLE=1, want at least 2", p)
	} else {
		t.Logf("%d keep-alive probes crossed the veth", p)
	}
}

// TestNetVethUDP: UDP both ways over the veth, and ICMP port
// unreachable both ways: a connected socket in the sandbox gets
// ECONNREFUSED from the host's kernel, and the host's connected socket
// gets it from the sandbox's stack.
func TestNetVethUDP(t *testing.T) {
	e := newOCIEnv(t)
	n := newVethNet(t)

	echo, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(n.hostIP)})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			k, from, err := echo.ReadFromUDP(buf)
			if err != nil {
				return
			}
			echo.WriteToUDP(append([]byte("echo:"), buf[:k]...), from)
		}
	}()
	closed, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(n.hostIP)})
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.LocalAddr().(*net.UDPAddr).Port
	closed.Close()

	script := fmt.Sprintf("nettool udpping %s %d; nettool udprefused %s %d; nettool udpserve 9999; sleep 3",
		n.hostIP, echo.LocalAddr().(*net.UDPAddr).Port, n.hostIP, closedPort)
	b := e.netToolBundle(n.nsPath, "sh", "-c", script)
	done := make(chan result, 1)
	go func() { done <- e.runscFiles("run", "--bundle", b, "netudp") }()

	c, err := net.Dial("udp4", n.sandboxIP+":9999")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var reply string
	waitFor(t, "the sandbox's UDP server", func() bool {
		c.Write([]byte("hi"))
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		buf := make([]byte, 64)
		k, err := c.Read(buf)
		if err != nil {
			return false
		}
		reply = string(buf[:k])
		return true
	})
	if reply != "pong:hi" {
		t.Errorf("sandbox's UDP server answered %q", reply)
	}
	// The server is done; a datagram to a port nobody holds is answered
	// with ICMP port unreachable.
	c2, err := net.Dial("udp4", n.sandboxIP+":9998")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write([]byte("anyone?"))
	c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c2.Read(make([]byte, 8)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("host's datagram to a closed sandbox port: %v, want ECONNREFUSED", err)
	}

	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the container did not finish")
	}
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	for _, want := range []string{"udp reply echo:ping", "udp refused recv=-1 errno=Connection refused", "udp so_error after=0", "udp served hi"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sandbox output lacks %q:\n%s", want, r.stdout)
		}
	}
}
