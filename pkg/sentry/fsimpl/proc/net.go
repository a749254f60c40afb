package proc

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"

	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/socket/unix"
)

// newNetDir builds /proc/PID/net (and so /proc/net, a link to
// self/net as on Linux): the network stack's interfaces, routes and
// sockets in Linux's formats, which ss, netstat, ifconfig and ip parse.
// All processes share the sandbox's one network namespace. What the
// stack cannot see (the host's sockets in --network=host, AF_UNIX
// sockets, per-interface traffic counters) shows as the header alone or
// as zeros.
func (fs *filesystem) newNetDir(ino func() uint64, parentIno uint64, t *kernel.Task) *dir {
	self := ino()
	c := newStaticContents()
	add := func(name string, f func(s socket.NetStack, b *bytes.Buffer)) {
		c.add(name, fs.newFile(ino(), 0444, t, generatorFunc(func(_ context.Context, b *bytes.Buffer) error {
			f(fs.k.Sockets.NetStack(), b)
			return nil
		})))
	}
	add("dev", netDev)
	add("if_inet6", netIfInet6)
	add("route", netRoute)
	add("tcp", func(s socket.NetStack, b *bytes.Buffer) { netInet(s, b, "tcp", 4) })
	add("tcp6", func(s socket.NetStack, b *bytes.Buffer) { netInet(s, b, "tcp", 6) })
	add("udp", func(s socket.NetStack, b *bytes.Buffer) { netInet(s, b, "udp", 4) })
	add("udp6", func(s socket.NetStack, b *bytes.Buffer) { netInet(s, b, "udp", 6) })
	add("unix", netUnix)
	return fs.newDir(self, parentIno, 0555, t, c)
}

// padLine writes line padded with spaces to width, then a newline, as
// Linux's seq_pad does for the IPv4 tables.
func padLine(b *bytes.Buffer, width int, line string) {
	fmt.Fprintf(b, "%-*s\n", width, line)
}

func interfaces(s socket.NetStack) []socket.NetInterface {
	if s == nil {
		return nil
	}
	return s.NetInterfaces()
}

// netDev is /proc/net/dev. Loopback traffic never becomes packets in
// the sandbox's stack, so there are no counters to show: all zeros.
func netDev(s socket.NetStack, b *bytes.Buffer) {
	b.WriteString("Inter-|   Receive                                                |  Transmit\n")
	b.WriteString(" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n")
	for _, ifc := range interfaces(s) {
		fmt.Fprintf(b, "%6s: %7d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d\n",
			ifc.Name, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	}
}

// ipv6Scope is the scope if_inet6 shows (IPV6_ADDR_SCOPE_* << 4 as
// ipv6_addr_scope returns it).
func ipv6Scope(a netip.Addr) int {
	switch {
	case a.IsLoopback():
		return 0x10
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return 0x20
	case a.Is6() && a.As16()[0] == 0xfe && a.As16()[1]&0xc0 == 0xc0:
		return 0x50 // site-local
	}
	return 0
}

// netIfInet6 is /proc/net/if_inet6: one line per IPv6 address.
func netIfInet6(s socket.NetStack, b *bytes.Buffer) {
	for _, ifc := range interfaces(s) {
		for _, a := range ifc.Addrs {
			addr := a.Prefix.Addr()
			if !addr.Is6() || addr.Is4In6() {
				continue
			}
			raw := addr.As16()
			fmt.Fprintf(b, "%x %02x %02x %02x %02x %8s\n", raw[:], ifc.Index, a.Prefix.Bits(), ipv6Scope(addr), a.Flags&0xff, ifc.Name)
		}
	}
}

// hostOrder is an IPv4 address as Linux prints a __be32 with %08X.
func hostOrder(a [4]byte) uint32 { return binary.LittleEndian.Uint32(a[:]) }

// netRoute is /proc/net/route: the IPv4 main table.
func netRoute(s socket.NetStack, b *bytes.Buffer) {
	padLine(b, 127, "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT")
	if s == nil {
		return
	}
	for _, r := range s.NetRoutes() {
		var mask [4]byte
		for i := 0; i < r.Dst.Bits(); i++ {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		var gw [4]byte
		if r.Gateway.Is4() {
			gw = r.Gateway.As4()
		}
		padLine(b, 127, fmt.Sprintf("%s\t%08X\t%08X\t%04X\t%d\t%d\t%d\t%08X\t%d\t%d\t%d",
			r.Iface, hostOrder(r.Dst.Masked().Addr().As4()), hostOrder(gw), r.Flags, 0, 0, r.Metric, hostOrder(mask), 0, 0, 0))
	}
}

// inetAddr formats a socket address as the tables do: the address's
// 32-bit words each printed in host order, then the port.
func inetAddr(ap netip.AddrPort, version int) string {
	var words []byte
	if version == 4 {
		a := ap.Addr().As4()
		words = a[:]
	} else {
		a := ap.Addr().As16()
		words = a[:]
	}
	var out string
	for i := 0; i < len(words); i += 4 {
		out += fmt.Sprintf("%08X", binary.LittleEndian.Uint32(words[i:]))
	}
	return fmt.Sprintf("%s:%04X", out, ap.Port())
}

// netInet is /proc/net/{tcp,udp}{,6}, with each socket's owner and
// inode number as its file shows them.
func netInet(s socket.NetStack, b *bytes.Buffer, proto string, version int) {
	const cols = "local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
	const cols6 = "local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
	switch {
	case proto == "tcp" && version == 4:
		padLine(b, 149, "  sl  "+cols)
	case proto == "tcp":
		b.WriteString("  sl  " + cols6 + "\n")
	case version == 4:
		padLine(b, 127, "   sl  "+cols+" ref pointer drops")
	default:
		b.WriteString("  sl  " + cols6 + " ref pointer drops\n")
	}
	if s == nil {
		return
	}
	socks, ok := s.InetSockets(proto, version)
	if !ok {
		return
	}
	for i, sk := range socks {
		local, remote := inetAddr(sk.Local, version), inetAddr(sk.Remote, version)
		common := fmt.Sprintf("%s %s %02X %08X:%08X 00:00000000 00000000 %5d %8d %d", local, remote, sk.State, sk.TxQueue, sk.RxQueue, sk.UID, 0, sk.Ino)
		switch {
		case proto == "tcp":
			// refcount, sock pointer, rto, ato, quick/pingpong,
			// cwnd, ssthresh (-1: still in slow start).
			tail := " 1 0000000000000000 20 4 30 10 -1"
			if sk.State == 10 {
				tail = " 1 0000000000000000 100 0 0 10 0"
			}
			line := fmt.Sprintf("%4d: %s%s", i, common, tail)
			if version == 4 {
				padLine(b, 149, line)
			} else {
				b.WriteString(line + "\n")
			}
		default:
			line := fmt.Sprintf("%5d: %s 2 0000000000000000 0", i, common)
			if version == 4 {
				padLine(b, 127, line)
			} else {
				b.WriteString(line + "\n")
			}
		}
	}
}

// netUnix is /proc/net/unix: the sandbox's AF_UNIX sockets.
func netUnix(_ socket.NetStack, b *bytes.Buffer) {
	unix.WriteProcNet(b)
}
