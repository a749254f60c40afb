package netstack

import "net/netip"

// Interface flags (IFF_*), ARP hardware types and address/route
// attributes as rtnetlink(7) and netdevice(7) report them.
const (
	IFF_UP       = 0x1
	IFF_LOOPBACK = 0x8
	IFF_RUNNING  = 0x40
	// IFF_LOWER_UP is only visible through netlink (ifi_flags); the
	// 16-bit ifr_flags of SIOCGIFFLAGS cannot hold it.
	IFF_LOWER_UP = 0x10000

	ARPHRD_LOOPBACK = 772

	RT_SCOPE_UNIVERSE = 0
	RT_SCOPE_LINK     = 253
	RT_SCOPE_HOST     = 254

	RT_TABLE_MAIN  = 254
	RT_TABLE_LOCAL = 255

	RTN_UNICAST   = 1
	RTN_LOCAL     = 2
	RTN_BROADCAST = 3

	RTPROT_KERNEL = 2

	IFA_F_PERMANENT = 0x80
)

// Interface is one network interface of the sandbox, as ioctls and
// rtnetlink describe it. The table is fixed when the stack is made.
type Interface struct {
	Index  int32
	Name   string
	Type   uint16 // ARPHRD_*
	Flags  uint32 // IFF_*
	MTU    uint32
	TxQLen uint32
	// HWAddr and Broadcast are the link-layer addresses (all zero for
	// the loopback device).
	HWAddr, Broadcast []byte
	Addrs             []InterfaceAddr
}

// InterfaceAddr is an address assigned to an interface.
type InterfaceAddr struct {
	Prefix netip.Prefix
	Scope  uint8 // RT_SCOPE_*
	Flags  uint32
}

// Route is one entry of the routing tables that RTM_GETROUTE dumps.
type Route struct {
	Dst      netip.Prefix
	Table    uint8 // RT_TABLE_*
	Type     uint8 // RTN_*
	Scope    uint8 // RT_SCOPE_*
	Protocol uint8 // RTPROT_*
	PrefSrc  netip.Addr
	OIF      int32
	// Priority is the route metric, sent only when non-zero.
	Priority uint32
	// Gateway is the next hop (RTA_GATEWAY); invalid for on-link
	// routes.
	Gateway netip.Addr
}

// loopbackInterface is lo as a fresh Linux network namespace has it
// once brought up.
func loopbackInterface() Interface {
	return Interface{
		Index:     1,
		Name:      "lo",
		Type:      ARPHRD_LOOPBACK,
		Flags:     IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP,
		MTU:       65536,
		TxQLen:    1000,
		HWAddr:    make([]byte, 6),
		Broadcast: make([]byte, 6),
		Addrs: []InterfaceAddr{
			{Prefix: netip.MustParsePrefix("127.0.0.1/8"), Scope: RT_SCOPE_HOST, Flags: IFA_F_PERMANENT},
			{Prefix: netip.MustParsePrefix("::1/128"), Scope: RT_SCOPE_HOST, Flags: IFA_F_PERMANENT},
		},
	}
}

// loopbackRoutes are the routes the kernel adds for lo: Linux puts them
// all in the local table, so `ip route` (the main table) is empty.
func loopbackRoutes() []Route {
	lo4 := netip.MustParseAddr("127.0.0.1")
	return []Route{
		{Dst: netip.MustParsePrefix("127.0.0.0/8"), Table: RT_TABLE_LOCAL, Type: RTN_LOCAL, Scope: RT_SCOPE_HOST, Protocol: RTPROT_KERNEL, PrefSrc: lo4, OIF: 1},
		{Dst: netip.MustParsePrefix("127.0.0.1/32"), Table: RT_TABLE_LOCAL, Type: RTN_LOCAL, Scope: RT_SCOPE_HOST, Protocol: RTPROT_KERNEL, PrefSrc: lo4, OIF: 1},
		{Dst: netip.MustParsePrefix("127.255.255.255/32"), Table: RT_TABLE_LOCAL, Type: RTN_BROADCAST, Scope: RT_SCOPE_LINK, Protocol: RTPROT_KERNEL, PrefSrc: lo4, OIF: 1},
		{Dst: netip.MustParsePrefix("::1/128"), Table: RT_TABLE_LOCAL, Type: RTN_LOCAL, Scope: RT_SCOPE_UNIVERSE, Protocol: RTPROT_KERNEL, OIF: 1},
	}
}
