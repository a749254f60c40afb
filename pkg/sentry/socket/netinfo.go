package socket

import (
	"context"
	"net/netip"

	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// NetStack is what the sandbox's network stack (the one behind the inet
// families of its network mode) tells the rest of the kernel about
// itself: its interfaces for /proc/net and for the netdevice(7) ioctls
// that sockets of every family answer, and its sockets for /proc/net.
type NetStack interface {
	// InterfaceIoctl answers SIOCGIFCONF and the SIOCGIF* requests;
	// other requests are ENOTTY.
	InterfaceIoctl(ctx context.Context, m vfs.UserMemory, cmd uint32, arg uint64) (uint64, error)
	// NetInterfaces lists the interfaces, by index.
	NetInterfaces() []NetInterface
	// InetSockets lists the sockets of protocol ("tcp" or "udp") and
	// IP version (4 or 6) as /proc/net/{tcp,udp}{,6} show them; ok is
	// false when the stack cannot see its sockets (host network).
	InetSockets(proto string, version int) (socks []InetSocketInfo, ok bool)
	// NetRoutes lists the IPv4 main-table routes for /proc/net/route.
	NetRoutes() []NetRoute
}

// NetInterface is one interface of a NetStack.
type NetInterface struct {
	Index int32
	Name  string
	Flags uint32 // IFF_*
	Addrs []NetAddr
}

// NetAddr is an address of an interface; Flags are IFA_F_*.
type NetAddr struct {
	Prefix netip.Prefix
	Flags  uint32
}

// InetSocketInfo is one TCP or UDP socket as /proc/net lists it. State
// is the Linux TCP state number (TCP_ESTABLISHED = 1, TCP_CLOSE = 7,
// TCP_LISTEN = 10, ...); queues are bytes.
type InetSocketInfo struct {
	Local, Remote netip.AddrPort
	State         int
	TxQueue       int
	RxQueue       int
	// Ino is the socket's inode number and UID its owner's, as the
	// socket file shows them (0 where the stack does not know them).
	Ino uint64
	UID uint32
}

// NetRoute is an IPv4 route of the main table.
type NetRoute struct {
	Iface   string
	Dst     netip.Prefix
	Gateway netip.Addr
	Flags   uint16 // RTF_*
	Metric  uint32
}

// SetNetStack records the network stack of the sandbox.
func (f *Families) SetNetStack(s NetStack) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.net = s
}

// NetStack returns the network stack of the sandbox, or nil.
func (f *Families) NetStack() NetStack {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.net
}
