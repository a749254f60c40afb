// Package extnet joins the sandbox's sockets (pkg/sentry/socket/netstack)
// to its packet-level TCP/IP stack (pkg/tcpip/stack and pkg/tcpip/tcp)
// over one link endpoint: traffic that leaves the sandbox goes through
// here, traffic between the sandbox's own sockets never does.
//
// Outbound, it is the netstack.Stack's External hook: routes, TCP
// connects and UDP sends. Inbound, it is TCP's Listener and the
// network layer's UDP receiver, handing connections and datagrams to
// the sockets that listen or are bound.
package extnet

import (
	"context"
	"net/netip"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket/netstack"
	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/stack"
	"appkernel.dev/appkernel/pkg/tcpip/tcp"
)

// Config is the interface's network configuration.
type Config struct {
	// Addrs are the interface's addresses with their prefix lengths
	// (each an on-link route).
	Addrs []netip.Prefix
	// Routes are the further routes, default routes included.
	Routes []stack.Route
}

// Net is the packet stack serving one netstack.Stack.
type Net struct {
	sockets *netstack.Stack
	net     *stack.Stack
	tcp     *tcp.Protocol
}

var (
	_ netstack.External    = (*Net)(nil)
	_ netstack.TCPInformer = (*Net)(nil)
	_ tcp.Listener         = (*Net)(nil)
)

// New builds the stack over link for sockets, installs itself as
// sockets' External hook and starts moving frames. Call it before the
// first socket is made.
func New(link tcpip.LinkEndpoint, sockets *netstack.Stack, cfg Config) (*Net, error) {
	st, err := stack.New(stack.Config{Link: link, Addrs: cfg.Addrs, Routes: cfg.Routes})
	if err != nil {
		return nil, err
	}
	n := &Net{sockets: sockets, net: st}
	n.tcp = tcp.New(st, n)
	st.RegisterTransport(tcpip.ProtocolTCP, n.tcp)
	st.SetUDPReceiver(sockets.DeliverUDP)
	st.SetUDPControl(n.udpControl)
	st.SetICMPReceiver(n.icmpReceive) // ICMP sockets, below
	sockets.External = n
	st.Start()
	return n, nil
}

// Stack is the network layer, for its statistics.
func (n *Net) Stack() *stack.Stack { return n.net }

// TCP is the TCP protocol, for its statistics.
func (n *Net) TCP() *tcp.Protocol { return n.tcp }

// Close stops the stack; connections still open are dropped.
func (n *Net) Close() {
	n.tcp.Close()
	n.net.Close()
}

// Route implements netstack.External.
func (n *Net) Route(dst netip.Addr) (netip.Addr, error) {
	src, _, err := n.net.Route(dst)
	return src, err
}

// ConnectTCP implements netstack.External.
func (n *Net) ConnectTCP(ctx context.Context, local, remote netip.AddrPort, far *netstack.FarEnd) error {
	return n.tcp.Connect(ctx, local, remote, far)
}

// TCPInfo implements netstack.TCPInformer.
func (n *Net) TCPInfo(local, remote netip.AddrPort) (tcp.Info, bool) {
	return n.tcp.Info(local, remote)
}

// SendUDP implements netstack.External.
func (n *Net) SendUDP(local, remote netip.AddrPort, payload []byte) error {
	return n.net.SendUDP(local, remote, payload)
}

// Listening implements tcp.Listener.
func (n *Net) Listening(local netip.AddrPort) bool { return n.sockets.Listening(local) }

// Accept implements tcp.Listener.
func (n *Net) Accept(local, remote netip.AddrPort) (tcp.App, error) {
	far, err := n.sockets.Accept(local, remote)
	if err != nil {
		return nil, err
	}
	return far, nil
}

// udpControl passes ICMP errors about datagrams the sandbox sent to the
// connected socket they concern.
func (n *Net) udpControl(local, remote netip.AddrPort, kind tcpip.ControlKind, _ uint32) {
	switch kind {
	case tcpip.ControlPortUnreachable:
		n.sockets.UDPUnreachable(local, remote, linux.ECONNREFUSED)
	case tcpip.ControlHostUnreachable:
		n.sockets.UDPUnreachable(local, remote, linux.EHOSTUNREACH)
	}
}

// ICMP sockets (netstack's icmp*.go): messages arriving from outside
// go to the sandbox's ping and raw sockets, and their messages to
// outside go out through the stack.

var _ netstack.ICMPExternal = (*Net)(nil)

// icmpReceive passes every arriving ICMP message to the sockets.
func (n *Net) icmpReceive(p *stack.ICMPPacket) {
	n.sockets.DeliverICMP(p.Src, p.Dst, p.Unicast, p.TTL, p.TOS, p.IPHeader, p.Message, p.ChecksumOK)
}

// SendICMP implements netstack.ICMPExternal.
func (n *Net) SendICMP(src, dst netip.Addr, msg []byte, ttl, tos uint8) error {
	return n.net.SendICMP(src, dst, msg, ttl, tos)
}
