package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
// has no UDP mode, so UDP is covered by the unit tests only.)
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
