package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNetVethPing: busybox ping inside the sandbox reaches the host
// through the packet stack (echo request out, reply up to the ICMP
// socket), and the sandbox answers pings to its own interface address
// and to loopback itself.
func TestNetVethPing(t *testing.T) {
	e := newOCIEnv(t)
	n := newVethNet(t)
	script := fmt.Sprintf("ping -c 2 -W 5 %s && ping -c 1 -W 5 %s && ping -c 1 -W 5 127.0.0.1 && echo ping-ok",
		n.hostIP, n.sandboxIP)
	b := e.netBundle(n.nsPath, "sh", "-c", script)
	if err := os.Symlink("busybox", filepath.Join(b, "rootfs", "bin", "ping")); err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 1)
	go func() { done <- e.runscFiles("run", "--bundle", b, "netping") }()
	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the container did not finish")
	}
	if r.code != 0 || !strings.Contains(r.stdout, "ping-ok") {
		t.Fatalf("ping in the sandbox: %+v", r)
	}
	for _, want := range []string{
		"64 bytes from " + n.hostIP,
		"64 bytes from " + n.sandboxIP,
		"64 bytes from 127.0.0.1",
		"2 packets transmitted, 2 packets received",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("ping output lacks %q:\n%s", want, r.stdout)
		}
	}
}
