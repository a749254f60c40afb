package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// This file checks --network=sandbox (runsc's default) under the
// engines' own networks: the sandbox's packet stack drives the veth the
// engine made, so published ports, the bridge's gateway and DNS through
// the engine's resolv.conf work as they do with runc.

// bridgeGateway is the host's address on Docker's default bridge,
// docker0.
func (e *engines) bridgeGateway() string {
	e.t.Helper()
	ifc, err := net.InterfaceByName("docker0")
	if err != nil {
		e.t.Fatalf("docker's bridge: %v", err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	e.t.Fatalf("docker0 has no IPv4 address: %v", addrs)
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// httpGet fetches url from the host, retrying while the server starts.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var resp *http.Response
		if resp, err = c.Get(url); err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = fmt.Errorf("status %d, read %v", resp.StatusCode, rerr)
		}
	}
	t.Errorf("GET %s: %v", url, err)
	return ""
}

// serveDNS answers every A query on conn with addr and every other
// query with no records, until conn is closed: enough for a resolver's
// lookup of one name.
func serveDNS(conn net.PacketConn, addr [4]byte) {
	buf := make([]byte, 512)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		q := buf[:n]
		// The question: labels up to the root, then type and class.
		end := 12
		for end < n && q[end] != 0 {
			end += int(q[end]) + 1
		}
		if n < 12 || end+5 > n {
			continue
		}
		end += 5
		qtype := binary.BigEndian.Uint16(q[end-4:])
		resp := append([]byte(nil), q[:end]...)
		resp[2], resp[3] = 0x81, 0x80 // a response, recursion available, no error
		binary.BigEndian.PutUint16(resp[6:], 0)
		binary.BigEndian.PutUint16(resp[8:], 0)
		binary.BigEndian.PutUint16(resp[10:], 0)
		if qtype == 1 {
			binary.BigEndian.PutUint16(resp[6:], 1)
			// The name points back at the question's.
			resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
			resp = append(resp, addr[:]...)
		}
		conn.WriteTo(resp, from)
	}
}

// dockerSandboxNetwork checks Docker's bridge network with runsc's
// default --network=sandbox.
func (e *engines) dockerSandboxNetwork(img string) {
	t := e.t
	gw := e.bridgeGateway()

	// The sandbox's view of its network: the veth's address and routes.
	out := e.want(0, "eth0", docker, "run", "--rm", "--runtime=myrt", img, "sh", "-c", "ip addr show eth0; ip route")
	if !strings.Contains(out, "inet 172.") && !strings.Contains(out, "inet ") {
		t.Errorf("ip addr in the container shows no address: %q", out)
	}
	if !strings.Contains(out, "default via "+gw) {
		t.Errorf("ip route in the container shows no default route via %s: %q", gw, out)
	}

	// ss lists the sandbox's sockets. The image has no ss: the host's
	// runs through the host's dynamic loader and libraries.
	if ldso := "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"; fileExists(ldso) && fileExists("/usr/bin/ss") {
		out := e.want(0, "LISTEN", docker, "run", "--rm", "--runtime=myrt",
			"-v", "/usr/lib/x86_64-linux-gnu:/hostlib:ro", "-v", "/usr/bin/ss:/ss:ro", img,
			"sh", "-c", "httpd -p 8080 -h /; sleep 0.5; /hostlib/ld-linux-x86-64.so.2 --library-path /hostlib /ss -tan")
		if !strings.Contains(out, ":8080") {
			t.Errorf("ss -tan in the container does not show the listener on :8080: %q", out)
		}
	}

	// A published port reaches a server in the sandbox.
	e.want(0, "", docker, "run", "-d", "--name=web", "--runtime=myrt", "-p", "127.0.0.1:18080:80", img,
		"sh", "-c", "mkdir /www && echo hello-published > /www/index.html && exec httpd -f -p 80 -h /www")
	if got := httpGet(t, "http://127.0.0.1:18080/"); got != "hello-published\n" {
		t.Errorf("published port: got %q", got)
	}
	e.want(0, "", docker, "rm", "-f", "web")

	// The sandbox reaches a server on the bridge's gateway.
	ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello-from-host") }))
	e.want(0, "hello-from-host", docker, "run", "--rm", "--runtime=myrt", img, "wget", "-q", "-O", "-", "http://"+ln.Addr().String()+"/")

	// Name resolution through the resolv.conf Docker writes.
	pc, err := net.ListenPacket("udp", net.JoinHostPort(gw, "53"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go serveDNS(pc, [4]byte{10, 9, 8, 7})
	e.want(0, "10.9.8.7", docker, "run", "--rm", "--runtime=myrt", "--dns", gw, img, "nslookup", "appkernel.test")
}
