package netstack

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// ICMP sockets: "ping sockets" (SOCK_DGRAM with IPPROTO_ICMP or
// IPPROTO_ICMPV6, for members of net.ipv4.ping_group_range), which send
// echo requests whose identifier the kernel sets to the socket's "port"
// and receive the matching echo replies without the IP header; and raw
// sockets of those protocols (SOCK_RAW, CAP_NET_RAW), which send any
// ICMP message and receive a copy of every one that arrives, IPv4 ones
// with their IP header. Traffic to the sandbox's own addresses stays on
// the loopback path (icmp_input.go); the rest goes to the External
// stack if it implements ICMPExternal.

// icmpDatagram is one received message.
type icmpDatagram struct {
	from netip.Addr
	// data is what recv returns: the ICMP message, after the IPv4
	// header for raw IPv4 sockets.
	data     []byte
	ttl, tos uint8
	at       time.Time
}

// icmpEndpoint is an ICMP socket and its file description.
type icmpEndpoint struct {
	vfs.FileDescriptionDefaultImpl
	identity

	stack  *Stack
	table  *icmpTable
	vfsObj *vfs.VirtualFilesystem
	family int
	// raw is SOCK_RAW (else a ping socket); fixed.
	raw bool

	queue waiter.Queue

	// mu guards the fields below and opts.
	mu   sync.Mutex
	opts sockOpts
	// local is the bound address (invalid: none); for a ping socket,
	// ident is its identifier once it has one (bound).
	local netip.Addr
	ident uint16
	bound bool
	// userIdent says bind(2) chose the identifier, which disconnect
	// keeps.
	userIdent bool
	// remote is the connected peer; connected says there is one.
	remote    netip.Addr
	connected bool
	// rdShut and wrShut are shutdown(2)'s directions.
	rdShut, wrShut bool
	// Receive-side options: IP_RECVTTL, IPV6_RECVHOPLIMIT,
	// IPV6_2292HOPLIMIT, SO_TIMESTAMP.
	recvTTL, recvHopLimit, recv2292HopLimit, timestamp bool
	// recvErr is IP_RECVERR or IPV6_RECVERR (icmp_err.go).
	recvErr bool
	// filter is ICMP_FILTER (bit n blocks type n < 32) or
	// ICMP6_FILTER (bit n of word n/32 blocks type n).
	filter [8]uint32
	// csumOff is IPV6_CHECKSUM: where the kernel stores the ICMPv6
	// checksum of a raw socket's messages, -1 for nowhere.
	csumOff int32

	// boundAddr and filt mirror local and filter for input, which
	// reads them under table.mu; they are written under both mu and
	// table.mu.
	boundAddr netip.Addr
	peer      netip.Addr
	filt      [8]uint32
	// reuse is SO_REUSEADDR when a ping socket took its identifier;
	// guarded by table.mu.
	reuse bool

	// rmu guards the receive queue, the error queue and err (the
	// pending error, SO_ERROR).
	rmu    sync.Mutex
	rq     []icmpDatagram
	rqSize int
	errq   []icmpSockErr
	err    error
}

// newICMP makes an ICMP socket, checking what Linux checks at creation
// (ping_init_sock's group range; the caller checked CAP_NET_RAW).
func newICMP(ctx context.Context, s *Stack, vfsObj *vfs.VirtualFilesystem, family int, raw bool) (*icmpEndpoint, error) {
	t := s.icmp()
	if !raw && !pingAllowed(t, auth.CredentialsFromContext(ctx)) {
		return nil, linux.EACCES
	}
	e := &icmpEndpoint{stack: s, table: t, vfsObj: vfsObj, family: family, raw: raw, opts: defaultOpts(false), csumOff: -1}
	// INET_PROTOSW_REUSE: ICMP and raw sockets start with
	// SO_REUSEADDR set, so ping sockets share identifiers unless
	// they turn it off.
	e.opts.ReuseAddr = true
	if raw {
		if family == socket.AF_INET6 {
			e.csumOff = 2
		}
		t.mu.Lock()
		t.raw = append(t.raw, e)
		t.mu.Unlock()
	}
	return e, nil
}

// pingAllowed is ping_init_sock's test: the effective group or a
// supplementary one is in net.ipv4.ping_group_range.
func pingAllowed(t *icmpTable, c *auth.Credentials) bool {
	t.mu.Lock()
	lo, hi := t.groupLow, t.groupHigh
	t.mu.Unlock()
	in := func(g auth.KGID) bool { return uint32(g) >= lo && uint32(g) <= hi }
	return in(c.EffectiveKGID) || slices.ContainsFunc(c.ExtraKGIDs, in)
}

// proto is the socket's IP protocol.
func (e *icmpEndpoint) proto() int32 {
	if e.family == socket.AF_INET {
		return ipprotoICMP
	}
	return ipprotoICMPv6
}

// wantsRaw reports whether raw socket e takes a copy of p
// (raw_v4_match, raw_v6_match and the ICMP filters). Called with
// table.mu held.
func (e *icmpEndpoint) wantsRaw(p *icmpPacket) bool {
	if (e.family == socket.AF_INET) != p.dst.Is4() {
		return false
	}
	if a := e.boundAddr; a.IsValid() && !a.IsUnspecified() && a != p.dst {
		return false
	}
	if e.peer.IsValid() && e.peer != p.src {
		return false
	}
	if len(p.msg) > 0 {
		typ := p.msg[0]
		if e.family == socket.AF_INET {
			return typ >= 32 || e.filt[0]&(1<<typ) == 0
		}
		return e.filt[typ>>5]&(1<<(typ&31)) == 0
	}
	return true
}

// parseAddr decodes a sockaddr for this socket's family: the address,
// whether the family field was AF_UNSPEC, and the port field.
func (e *icmpEndpoint) parseAddr(b []byte) (netip.Addr, uint16, sockaddrKind, bool, error) {
	ap, mapped, kind, err := parseSockaddr(e.family, b)
	return ap.Addr(), ap.Port(), kind, mapped, err
}

// Bind implements socket.Socket: a raw socket takes only traffic to the
// address (and may bind again); a ping socket binds address and
// identifier once (ping_bind).
func (e *icmpEndpoint) Bind(_ context.Context, b []byte, _ socket.Resolver) error {
	min := sizeofSockaddrIn
	if e.family == socket.AF_INET6 {
		min = sin6LenRFC2133
	}
	if len(b) < min {
		return linux.EINVAL
	}
	a, port, kind, mapped, err := e.parseAddr(b)
	if err != nil && err != linux.EAFNOSUPPORT {
		return err
	}
	if err == linux.EAFNOSUPPORT || kind == kindUnspec {
		if e.family == socket.AF_INET {
			a = netip.AddrFrom4([4]byte(b[4:8]))
		}
		if e.raw && e.family == socket.AF_INET6 {
			return linux.EINVAL
		}
		// An AF_UNSPEC INADDR_ANY is the one foreign family IPv4
		// takes (raw_bind does not look at the family at all).
		if !(e.family == socket.AF_INET && (e.raw || kind == kindUnspec && a.IsUnspecified())) {
			return linux.EAFNOSUPPORT
		}
	}
	if mapped {
		if e.raw {
			return linux.EADDRNOTAVAIL
		}
		return linux.EINVAL
	}
	if !e.stack.canBind(a) {
		return linux.EADDRNOTAVAIL
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.raw {
		e.table.mu.Lock()
		e.local, e.boundAddr = a, a
		e.table.mu.Unlock()
		return nil
	}
	if e.bound {
		return linux.EINVAL
	}
	if err := e.table.bindPing(e, port, a); err != nil {
		return err
	}
	e.userIdent = port != 0
	return nil
}

// bindPing gives ping socket e identifier ident (0: a free one) on
// address a (ping_get_port): two sockets may share an identifier only
// if both set SO_REUSEADDR. Called with e.mu held.
func (t *icmpTable) bindPing(e *icmpEndpoint, ident uint16, a netip.Addr) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	free := func(id uint16) bool {
		for _, o := range t.ping[id] {
			if o != e && !(o.reuse && e.opts.ReuseAddr) {
				return false
			}
		}
		return true
	}
	if ident == 0 {
		for i := 0; i < 1<<16; i++ {
			id := t.rover
			t.rover++
			if t.rover == 0 {
				t.rover = 1
			}
			if id != 0 && len(t.ping[id]) == 0 {
				ident = id
				break
			}
		}
		if ident == 0 {
			return linux.EADDRINUSE
		}
	} else if !free(ident) {
		return linux.EADDRINUSE
	}
	t.ping[ident] = append(t.ping[ident], e)
	e.ident, e.bound, e.reuse = ident, true, e.opts.ReuseAddr
	e.local, e.boundAddr = a, a
	return nil
}

// unbindPing releases a ping socket's identifier. Called with e.mu
// held.
func (t *icmpTable) unbindPing(e *icmpEndpoint) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := slices.DeleteFunc(t.ping[e.ident], func(o *icmpEndpoint) bool { return o == e })
	if len(l) == 0 {
		delete(t.ping, e.ident)
	} else {
		t.ping[e.ident] = l
	}
	e.bound, e.ident = false, 0
	e.local, e.boundAddr = netip.Addr{}, netip.Addr{}
}

// autobindLocked gives an unbound ping socket an identifier, as
// inet_autobind does before a connect or send.
func (e *icmpEndpoint) autobindLocked() error {
	if e.raw || e.bound {
		return nil
	}
	if err := e.table.bindPing(e, 0, anyAddr(e.family)); err != nil {
		return linux.EAGAIN
	}
	return nil
}

// Listen implements socket.Socket.
func (e *icmpEndpoint) Listen(context.Context, int) error { return linux.EOPNOTSUPP }

// Accept implements socket.Socket.
func (e *icmpEndpoint) Accept(context.Context, bool, bool) (*vfs.FileDescription, error) {
	return nil, linux.EOPNOTSUPP
}

// Connect implements socket.Socket (ip4_datagram_connect,
// ip6_datagram_connect): it sets the default destination and, for a
// raw socket, the only source it takes messages from.
func (e *icmpEndpoint) Connect(_ context.Context, b []byte, _ socket.Resolver, _ bool) error {
	if len(b) >= 2 && b[0] == socket.AF_UNSPEC && b[1] == 0 {
		e.mu.Lock()
		e.disconnectLocked()
		e.mu.Unlock()
		return nil
	}
	min := sizeofSockaddrIn
	if e.family == socket.AF_INET6 {
		min = sin6LenRFC2133
	}
	if len(b) < min {
		return linux.EINVAL
	}
	a, _, _, mapped, err := e.parseAddr(b)
	if err != nil {
		return err
	}
	if mapped {
		return linux.EAFNOSUPPORT
	}
	a = localDestination(a)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.autobindLocked(); err != nil {
		return err
	}
	if _, _, err := e.stack.sourceFor(a); err != nil {
		return err
	}
	e.table.mu.Lock()
	e.remote, e.connected = a, true
	if e.raw {
		e.peer = a
	}
	e.table.mu.Unlock()
	return nil
}

// disconnectLocked forgets the peer (and a ping socket's automatic
// identifier, as udp_disconnect does).
func (e *icmpEndpoint) disconnectLocked() {
	e.table.mu.Lock()
	e.remote, e.connected, e.peer = netip.Addr{}, false, netip.Addr{}
	e.table.mu.Unlock()
	if !e.raw && e.bound && !e.userIdent {
		e.table.unbindPing(e)
	}
}

// SockName implements socket.Socket: a ping socket's identifier shows
// as its port; a raw socket's port is its protocol.
func (e *icmpEndpoint) SockName() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.local
	if !a.IsValid() {
		a = anyAddr(e.family)
	}
	port := e.ident
	if e.raw {
		port = uint16(e.proto())
	}
	return formatSockaddr(e.family, netip.AddrPortFrom(a, port))
}

// PeerName implements socket.Socket: inet_getname reports a peer only
// with a destination port, which ICMP sockets never have, so even a
// connected one is ENOTCONN.
func (e *icmpEndpoint) PeerName() ([]byte, error) {
	return nil, linux.ENOTCONN
}

// Shutdown implements socket.Socket, like a UDP socket's.
func (e *icmpEndpoint) Shutdown(how int) error {
	e.mu.Lock()
	err := shutdownDatagram(how, &e.rdShut, &e.wrShut, e.connected)
	e.mu.Unlock()
	if err != linux.EINVAL {
		e.queue.Notify(waiter.AllEvents)
	}
	return err
}

// Release implements vfs.FileDescriptionImpl.
func (e *icmpEndpoint) Release(context.Context) {
	e.mu.Lock()
	if e.raw {
		e.table.mu.Lock()
		e.table.raw = slices.DeleteFunc(e.table.raw, func(o *icmpEndpoint) bool { return o == e })
		e.table.mu.Unlock()
	} else if e.bound {
		e.table.unbindPing(e)
	}
	e.mu.Unlock()
	e.rmu.Lock()
	e.rq, e.rqSize = nil, 0
	e.rmu.Unlock()
}

var _ socket.Socket = (*icmpEndpoint)(nil)

// icmpProtocol is the ICMP protocol of the provider's family.
func (p Provider) icmpProtocol() int {
	if p.Family == socket.AF_INET {
		return ipprotoICMP
	}
	return ipprotoICMPv6
}

// newICMPFD makes an ICMP socket's file description.
func newICMPFD(ctx context.Context, s *Stack, vfsObj *vfs.VirtualFilesystem, family int, raw, nonblock bool) (*vfs.FileDescription, error) {
	e, err := newICMP(ctx, s, vfsObj, family, raw)
	if err != nil {
		return nil, err
	}
	return newFD(ctx, vfsObj, e, nonblock), nil
}
