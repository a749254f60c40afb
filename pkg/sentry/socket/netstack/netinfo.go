package netstack

import (
	"context"
	"net/netip"

	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Linux TCP states (include/net/tcp_states.h) as /proc/net shows them.
const (
	tcpStateEstablished = 1
	tcpStateSynSent     = 2
	tcpStateFinWait2    = 5
	tcpStateClose       = 7
	tcpStateCloseWait   = 8
	tcpStateListen      = 10
)

var _ socket.NetStack = (*Stack)(nil)

// InterfaceIoctl implements socket.NetStack.
func (s *Stack) InterfaceIoctl(ctx context.Context, m vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	return InterfaceIoctl(ctx, s, m, cmd, arg)
}

// NetInterfaces implements socket.NetStack.
func (s *Stack) NetInterfaces() []socket.NetInterface {
	out := make([]socket.NetInterface, 0, len(s.ifaces))
	for _, ifc := range s.ifaces {
		ni := socket.NetInterface{Index: ifc.Index, Name: ifc.Name, Flags: ifc.Flags}
		for _, a := range ifc.Addrs {
			ni.Addrs = append(ni.Addrs, socket.NetAddr{Prefix: a.Prefix, Flags: a.Flags})
		}
		out = append(out, ni)
	}
	return out
}

// NetRoutes implements socket.NetStack: the IPv4 routes of the main
// table (the loopback routes all live in the local table, so a stack
// with lo alone has none, as on Linux).
func (s *Stack) NetRoutes() []socket.NetRoute {
	var out []socket.NetRoute
	for _, r := range s.routes {
		if r.Table != RT_TABLE_MAIN || !r.Dst.Addr().Is4() {
			continue
		}
		nr := socket.NetRoute{Dst: r.Dst, Metric: r.Priority, Flags: 0x1 /* RTF_UP */}
		if r.Gateway.IsValid() {
			nr.Gateway = r.Gateway
			nr.Flags |= 0x2 // RTF_GATEWAY
		}
		for _, ifc := range s.ifaces {
			if ifc.Index == r.OIF {
				nr.Iface = ifc.Name
			}
		}
		out = append(out, nr)
	}
	return out
}

// InetSockets implements socket.NetStack. Linux lists TCP sockets that
// listen or have a connection (bound-only ones are in no lookup table)
// and UDP sockets that are bound; a socket is listed under its own
// family, so tcp6 shows an AF_INET6 socket even with a v4-mapped peer.
func (s *Stack) InetSockets(proto string, version int) ([]socket.InetSocketInfo, bool) {
	tcp := proto == "tcp"
	family := socket.AF_INET
	if version == 6 {
		family = socket.AF_INET6
	}
	// Endpoint locks come before the Stack's: collect the owners
	// first, then read each one under its own lock.
	s.mu.Lock()
	var owners []any
	seen := map[*binding]bool{}
	for _, bs := range s.table(tcp) {
		for _, b := range bs {
			if !seen[b] {
				seen[b] = true
				owners = append(owners, b.owner)
			}
		}
	}
	s.mu.Unlock()

	var out []socket.InetSocketInfo
	for _, o := range owners {
		var info socket.InetSocketInfo
		var ok bool
		switch e := o.(type) {
		case *tcpEndpoint:
			if e.family != family {
				continue
			}
			info, ok = e.procInfo()
		case *udpEndpoint:
			if e.family != family {
				continue
			}
			info, ok = e.procInfo()
		}
		if !ok {
			continue
		}
		info.Local = procAddr(info.Local, version)
		info.Remote = procAddr(info.Remote, version)
		out = append(out, info)
	}
	return out, true
}

// procAddr puts a in the form of the IP version's table: IPv4 sockets
// show 4-byte addresses, IPv6 ones 16-byte (v4-mapped) addresses.
func procAddr(a netip.AddrPort, version int) netip.AddrPort {
	addr := a.Addr()
	if !addr.IsValid() {
		if version == 6 {
			addr = netip.IPv6Unspecified()
		} else {
			addr = netip.IPv4Unspecified()
		}
	}
	if version == 6 && addr.Is4() {
		addr = netip.AddrFrom16(addr.As16())
	} else if version == 4 {
		addr = addr.Unmap()
	}
	return netip.AddrPortFrom(addr, a.Port())
}

// procInfo describes a TCP socket for /proc/net/tcp; ok is false for
// sockets Linux does not list there.
func (e *tcpEndpoint) procInfo() (socket.InetSocketInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	info := socket.InetSocketInfo{Local: e.local, Remote: e.remote, Ino: e.ino, UID: uint32(e.uid)}
	switch e.state {
	case tcpListening:
		// Linux shows a listener's accept queue length as rx_queue
		// and its backlog as tx_queue, with no remote address.
		info.State = tcpStateListen
		info.RxQueue = len(e.acceptQ)
		info.TxQueue = e.backlog
		info.Remote = netip.AddrPort{}
	case tcpSynSent:
		info.State = tcpStateSynSent
	case tcpConnected:
		c := e.c
		c.mu.Lock()
		me := &c.side[e.side]
		info.RxQueue = me.rq.n
		switch {
		case me.reset:
			info.State = tcpStateClose
		case me.gotFin && !me.sndShut:
			info.State = tcpStateCloseWait
		case me.sndShut && !me.gotFin:
			info.State = tcpStateFinWait2
		case me.sndShut && me.gotFin:
			info.State = tcpStateClose
		default:
			info.State = tcpStateEstablished
		}
		c.mu.Unlock()
	default:
		return info, false
	}
	return info, true
}

// procInfo describes a UDP socket for /proc/net/udp: TCP_CLOSE unless
// connected, which Linux shows as TCP_ESTABLISHED.
func (e *udpEndpoint) procInfo() (socket.InetSocketInfo, bool) {
	e.mu.Lock()
	info := socket.InetSocketInfo{Local: e.local, State: tcpStateClose, Ino: e.ino, UID: uint32(e.uid)}
	if e.connected {
		info.Remote = e.remote
		info.State = tcpStateEstablished
	}
	e.mu.Unlock()
	e.rmu.Lock()
	info.RxQueue = e.rqSize
	e.rmu.Unlock()
	return info, true
}
