package boot

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/socket/netstack"
	"appkernel.dev/appkernel/pkg/tcpip"
	"appkernel.dev/appkernel/pkg/tcpip/link/packet"
	"appkernel.dev/appkernel/pkg/tcpip/stack"
)

// NetworkLink describes the interface the sandbox's packet stack drives,
// as the host had it configured before the launcher took it over.
type NetworkLink struct {
	// Index, Name, MAC and MTU are the interface's.
	Index int32
	Name  string
	MAC   string
	MTU   uint32
	// Addrs are its addresses with their prefix lengths.
	Addrs []netip.Prefix
	// Routes are the main-table routes through it.
	Routes []NetworkRoute
}

// NetworkRoute is one main-table route.
type NetworkRoute struct {
	Dst netip.Prefix
	// Gateway is the next hop; the zero Addr for an on-link route.
	Gateway  netip.Addr
	PrefSrc  netip.Addr
	Metric   uint32
	Protocol uint8
	Scope    uint8
}

// HWAddr parses MAC.
func (l *NetworkLink) HWAddr() ([6]byte, error) {
	var mac [6]byte
	hw, err := net.ParseMAC(l.MAC)
	if err != nil || len(hw) != 6 {
		return mac, fmt.Errorf("interface %s: MAC address %q", l.Name, l.MAC)
	}
	copy(mac[:], hw)
	return mac, nil
}

// attachNetworkLink gives the sandbox's network stack the interface
// the launcher took over (l, with fd its AF_PACKET socket) and starts
// the packet stack on it. The first container has not started, so no
// socket has seen the interface table yet. fd is the sandbox's from
// now on, also on failure.
func (s *Sandbox) attachNetworkLink(l *NetworkLink, fd int) error {
	// The Sentry's stub processes must not inherit it.
	unix.CloseOnExec(fd)
	ns, ok := s.k.Sockets.NetStack().(*netstack.Stack)
	if !ok || s.conf.Network != "sandbox" {
		unix.Close(fd)
		return fmt.Errorf("network mode %q takes no interface", s.conf.Network)
	}
	if s.packetFD != 0 {
		unix.Close(fd)
		return errors.New("the sandbox already drives an interface")
	}
	mac, err := l.HWAddr()
	if err != nil {
		unix.Close(fd)
		return err
	}
	var routes []netstack.Route
	var stackRoutes []stack.Route
	for _, r := range l.Routes {
		routes = append(routes, netstack.Route{Dst: r.Dst, Gateway: r.Gateway, PrefSrc: r.PrefSrc, Priority: r.Metric, Protocol: r.Protocol, Scope: r.Scope})
		stackRoutes = append(stackRoutes, stack.Route{Dst: r.Dst, Gateway: r.Gateway})
	}
	if _, err := ns.AddEthernet(netstack.EthernetLink{Index: l.Index, Name: l.Name, HWAddr: mac, MTU: l.MTU, Addrs: l.Addrs, Routes: routes}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("interface %s: %w", l.Name, err)
	}
	ep, err := packet.New(fd, packet.Config{MTU: l.MTU, MAC: tcpip.LinkAddress(mac)})
	if err != nil {
		return err
	}
	if err := startPacketStack(ep, ns, l.Addrs, stackRoutes); err != nil {
		ep.Close()
		return fmt.Errorf("interface %s: %w", l.Name, err)
	}
	s.packetFD = fd
	log.Infof("network: the packet stack drives %s (%s, MTU %d) with %v, routes %+v", l.Name, l.MAC, l.MTU, l.Addrs, l.Routes)
	return nil
}
