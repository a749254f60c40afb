package netstack

import (
	"fmt"
	"net/netip"
)

// More interface flags and types for Ethernet links (netdevice(7)).
const (
	IFF_BROADCAST = 0x2
	IFF_MULTICAST = 0x1000

	ARPHRD_ETHER = 1

	RTPROT_BOOT = 3
)

// EthernetLink describes an Ethernet interface that the packet stack
// drives (the veth an engine put in the container's network namespace).
type EthernetLink struct {
	// Index is the interface index; 0 picks the next free one.
	Index  int32
	Name   string
	HWAddr [6]byte
	MTU    uint32
	// Addrs are the interface's addresses with their prefix lengths.
	Addrs []netip.Prefix
	// Routes are the main-table routes through the interface, as the
	// host had them (the subnet routes the kernel derived from Addrs
	// included): Dst, Gateway, PrefSrc, Priority, Protocol and Scope
	// are used; Table, Type and OIF are filled in.
	Routes []Route
}

// AddEthernet adds an Ethernet interface to the table, with the local
// routes Linux derives from its addresses: those addresses then count
// as the sandbox's own, so traffic between its sockets on them stays on
// the loopback path. Call it before the first socket is made; the
// tables are fixed from then on.
func (s *Stack) AddEthernet(l EthernetLink) (int32, error) {
	if l.Name == "" || len(l.Name) >= 16 {
		return 0, fmt.Errorf("interface name %q", l.Name)
	}
	if s.interfaceByName(l.Name) != nil {
		return 0, fmt.Errorf("interface %q exists", l.Name)
	}
	idx := l.Index
	for _, ifc := range s.ifaces {
		if idx != 0 && ifc.Index == idx {
			return 0, fmt.Errorf("interface index %d of %q is taken by %q", idx, l.Name, ifc.Name)
		}
	}
	if idx == 0 {
		for _, ifc := range s.ifaces {
			idx = max(idx, ifc.Index)
		}
		idx++
	}
	ifc := Interface{
		Index:     idx,
		Name:      l.Name,
		Type:      ARPHRD_ETHER,
		Flags:     IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP,
		MTU:       l.MTU,
		TxQLen:    1000,
		HWAddr:    append([]byte(nil), l.HWAddr[:]...),
		Broadcast: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	}
	var local []Route
	for _, p := range l.Addrs {
		if !p.IsValid() {
			return 0, fmt.Errorf("invalid address on %q", l.Name)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits())
		a := p.Addr()
		scope := uint8(RT_SCOPE_UNIVERSE)
		if a.IsLinkLocalUnicast() {
			scope = RT_SCOPE_LINK
		}
		ifc.Addrs = append(ifc.Addrs, InterfaceAddr{Prefix: p, Scope: scope, Flags: IFA_F_PERMANENT})
		if a.Is4() {
			local = append(local, Route{Dst: netip.PrefixFrom(a, 32), Table: RT_TABLE_LOCAL, Type: RTN_LOCAL, Scope: RT_SCOPE_HOST, Protocol: RTPROT_KERNEL, PrefSrc: a, OIF: idx})
			if p.Bits() < 31 {
				local = append(local, Route{Dst: netip.PrefixFrom(broadcastOf(p), 32), Table: RT_TABLE_LOCAL, Type: RTN_BROADCAST, Scope: RT_SCOPE_LINK, Protocol: RTPROT_KERNEL, PrefSrc: a, OIF: idx})
			}
		} else {
			local = append(local, Route{Dst: netip.PrefixFrom(a, 128), Table: RT_TABLE_LOCAL, Type: RTN_LOCAL, Scope: RT_SCOPE_UNIVERSE, Protocol: RTPROT_KERNEL, OIF: idx})
		}
	}
	main := make([]Route, 0, len(l.Routes))
	for _, r := range l.Routes {
		if !r.Dst.IsValid() {
			return 0, fmt.Errorf("invalid route destination on %q", l.Name)
		}
		r.Dst = netip.PrefixFrom(r.Dst.Addr().Unmap(), r.Dst.Bits()).Masked()
		r.Table, r.Type, r.OIF = RT_TABLE_MAIN, RTN_UNICAST, idx
		main = append(main, r)
	}
	s.ifaces = append(s.ifaces, ifc)
	s.routes = append(s.routes, local...)
	s.routes = append(s.routes, main...)
	return idx, nil
}

// broadcastOf is the directed broadcast address of an IPv4 prefix.
func broadcastOf(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(a)
}
