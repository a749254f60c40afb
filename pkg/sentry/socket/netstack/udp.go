package netstack

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// Largest UDP payloads: what fits in a 65535-byte IPv4 packet, and in
// an IPv6 payload.
const (
	maxUDP4 = 65535 - 20 - 8
	maxUDP6 = 65535 - 8
	// dgramOverhead approximates what Linux charges a receive buffer
	// for one datagram beyond its payload (the skb's truesize).
	dgramOverhead = 768
)

// datagram is one received UDP message.
type datagram struct {
	from netip.AddrPort
	data []byte
	// at is what its control messages report.
	at arrival
}

// udpEndpoint is a UDP socket and its file description.
type udpEndpoint struct {
	vfs.FileDescriptionDefaultImpl
	identity

	stack  *Stack
	vfsObj *vfs.VirtualFilesystem
	family int
	queue  waiter.Queue

	// mu guards the fields below, opts and rx.
	mu   sync.Mutex
	opts sockOpts
	// rx are the options that ask for control messages (udp_cmsg.go).
	rx rxOpts
	// local is the bound address; bind is the port hold (nil:
	// unbound); userPort/userAddr say bind(2) chose them, which
	// disconnect keeps (SOCK_BINDPORT_LOCK, SOCK_BINDADDR_LOCK).
	local              netip.AddrPort
	bind               *binding
	userPort, userAddr bool
	// remote is the connected peer; connected says there is one.
	remote    netip.AddrPort
	connected bool
	// rdShut and wrShut are shutdown(2)'s directions.
	rdShut, wrShut bool

	// rmu guards the receive queue and err, which senders on other
	// sockets touch.
	rmu    sync.Mutex
	rq     []datagram
	rqSize int
	// err is the pending error (SO_ERROR): an ICMP-like error from a
	// send to a port nobody listens on.
	err error
}

func newUDP(s *Stack, vfsObj *vfs.VirtualFilesystem, family int) *udpEndpoint {
	return &udpEndpoint{stack: s, vfsObj: vfsObj, family: family, opts: defaultOpts(false)}
}

// Bind implements socket.Socket.
func (e *udpEndpoint) Bind(ctx context.Context, b []byte, _ socket.Resolver) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ap, err := parseBindAddr(ctx, e.stack, e.family, e.opts.v6only, b)
	if err != nil {
		return err
	}
	if e.bind != nil {
		return linux.EINVAL
	}
	bd := newBinding(e.family, e.opts.v6only, ap.Addr(), &e.opts, e)
	port, err := e.stack.reserve(false, ap.Port(), bd, linux.EADDRINUSE)
	if err != nil {
		return err
	}
	e.bind = bd
	e.local = netip.AddrPortFrom(ap.Addr(), port)
	e.userPort = ap.Port() != 0
	e.userAddr = !ap.Addr().IsUnspecified()
	return nil
}

// autobindLocked gives an unbound socket an ephemeral port on the
// wildcard address.
func (e *udpEndpoint) autobindLocked() error {
	if e.bind != nil {
		return nil
	}
	a := anyAddr(e.family)
	if e.userAddr {
		a = e.local.Addr()
	}
	bd := newBinding(e.family, e.opts.v6only, a, &e.opts, e)
	port, err := e.stack.reserve(false, 0, bd, linux.EAGAIN)
	if err != nil {
		return err
	}
	e.bind = bd
	e.local = netip.AddrPortFrom(a, port)
	return nil
}

// Listen implements socket.Socket.
func (e *udpEndpoint) Listen(context.Context, int) error { return linux.EOPNOTSUPP }

// Accept implements socket.Socket.
func (e *udpEndpoint) Accept(context.Context, bool, bool) (*vfs.FileDescription, error) {
	return nil, linux.EOPNOTSUPP
}

// parseDest decodes a destination for connect or sendto, mapping the
// unspecified address to loopback.
func (e *udpEndpoint) parseDest(b []byte) (netip.AddrPort, sockaddrKind, error) {
	ap, mapped, kind, err := parseSockaddr(e.family, b)
	if err != nil || kind == kindUnspec {
		return ap, kind, err
	}
	if mapped && e.opts.v6only {
		return ap, kind, linux.ENETUNREACH
	}
	return netip.AddrPortFrom(localDestination(ap.Addr()), ap.Port()), kind, nil
}

// Connect implements socket.Socket: it sets the default destination and
// the only source datagrams are accepted from; AF_UNSPEC undoes it.
func (e *udpEndpoint) Connect(_ context.Context, b []byte, _ socket.Resolver, _ bool) error {
	dst, kind, err := e.parseDest(b)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if kind == kindUnspec {
		e.disconnectLocked()
		return nil
	}
	if dst.Port() == 0 {
		return linux.ECONNREFUSED
	}
	src, _, err := e.stack.sourceFor(dst.Addr())
	if err != nil {
		return err
	}
	if err := e.autobindLocked(); err != nil {
		return err
	}
	if e.local.Addr().IsUnspecified() {
		e.local = netip.AddrPortFrom(src, e.local.Port())
	}
	e.remote, e.connected = dst, true
	e.stack.setPeer(e.bind, dst, true)
	return nil
}

// disconnectLocked is udp_disconnect: the peer is forgotten, and so are
// the address and port connect chose.
func (e *udpEndpoint) disconnectLocked() {
	e.remote, e.connected = netip.AddrPort{}, false
	if e.bind != nil {
		e.stack.setPeer(e.bind, netip.AddrPort{}, false)
	}
	if !e.userAddr {
		e.local = netip.AddrPortFrom(anyAddr(e.family), e.local.Port())
	}
	if !e.userPort && e.bind != nil {
		e.stack.release(false, e.local.Port(), e.bind)
		e.bind = nil
		e.local = netip.AddrPortFrom(e.local.Addr(), 0)
	}
}

// SockName implements socket.Socket.
func (e *udpEndpoint) SockName() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.local.IsValid() {
		return formatSockaddr(e.family, netip.AddrPortFrom(anyAddr(e.family), 0))
	}
	return formatSockaddr(e.family, e.local)
}

// PeerName implements socket.Socket.
func (e *udpEndpoint) PeerName() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.connected {
		return nil, linux.ENOTCONN
	}
	return formatSockaddr(e.family, e.remote), nil
}

// Shutdown implements socket.Socket. An unconnected socket fails with
// ENOTCONN but, as on Linux, is shut down all the same.
func (e *udpEndpoint) Shutdown(how int) error {
	e.mu.Lock()
	err := shutdownDatagram(how, &e.rdShut, &e.wrShut, e.connected)
	e.mu.Unlock()
	if err != linux.EINVAL {
		e.queue.Notify(waiter.AllEvents)
	}
	return err
}

// Release implements vfs.FileDescriptionImpl.
func (e *udpEndpoint) Release(context.Context) {
	e.mu.Lock()
	if e.bind != nil {
		e.stack.release(false, e.local.Port(), e.bind)
		e.bind = nil
	}
	e.mu.Unlock()
	e.rmu.Lock()
	e.rq, e.rqSize = nil, 0
	e.rmu.Unlock()
}

// maxPayload is the largest datagram the socket's family sends.
func maxPayload(dst netip.Addr) int64 {
	if dst.Is4() {
		return maxUDP4
	}
	return maxUDP6
}

// SendMsg implements socket.Socket. IPPROTO_IP and IPPROTO_IPV6 control
// messages override the socket's options for the one datagram
// (dgram_cmsg.go).
func (e *udpEndpoint) SendMsg(ctx context.Context, src vfs.IOSequence, addr []byte, _ socket.Resolver, ctl *socket.SendControl, flags int, _ bool) (int64, error) {
	// SCM_RIGHTS means nothing to inet sockets: __sock_cmsg_send
	// accepts and ignores it.
	for _, f := range ctl.Files() {
		f.DecRef(ctx)
	}
	if flags&socket.MSG_OOB != 0 {
		return 0, linux.EOPNOTSUPP
	}
	var dst netip.AddrPort
	haveDst := false
	var addrErr error
	if len(addr) > 0 {
		d, kind, err := e.parseDest(addr)
		switch {
		case err != nil:
			addrErr = err
		case kind != kindUnspec && d.Port() == 0:
			addrErr = linux.EINVAL
		case kind != kindUnspec:
			dst, haveDst = d, true
		}
	}
	e.mu.Lock()
	// inet_sendmsg binds a port before the protocol looks at the
	// message, so even a send that fails leaves the socket bound.
	if err := e.autobindLocked(); err != nil {
		e.mu.Unlock()
		return 0, err
	}
	if addrErr != nil {
		e.mu.Unlock()
		return 0, addrErr
	}
	if e.wrShut {
		e.mu.Unlock()
		return 0, linux.EPIPE
	}
	if !haveDst {
		if !e.connected {
			e.mu.Unlock()
			return 0, linux.EDESTADDRREQ
		}
		dst = e.remote
	}
	// udp_sendmsg refuses what can never fit before it reads the
	// control messages, and what does not fit this destination after.
	if src.NumBytes() > 0xffff {
		e.mu.Unlock()
		return 0, linux.EMSGSIZE
	}
	c, err := e.stack.parseSendControl(e.family, dst.Addr().Is4(), true, ctl.Messages())
	if err != nil {
		e.mu.Unlock()
		return 0, err
	}
	if src.NumBytes() > maxPayload(dst.Addr()) {
		e.mu.Unlock()
		return 0, linux.EMSGSIZE
	}
	routeSrc, local, err := e.stack.sourceFor(dst.Addr())
	if err != nil {
		e.mu.Unlock()
		return 0, err
	}
	srcAddr, oif, lost, err := e.stack.applyControl(dst.Addr(), routeSrc, e.local.Addr(), local, &c)
	if err != nil {
		e.mu.Unlock()
		return 0, err
	}
	ttl, tos := e.opts.hopsAndClass(dst.Addr(), &c)
	from := netip.AddrPortFrom(srcAddr, e.local.Port())
	connected := e.connected
	e.mu.Unlock()

	// A pending error fails this send, as sock_alloc_send_skb does.
	e.rmu.Lock()
	if err := e.err; err != nil {
		e.err = nil
		e.rmu.Unlock()
		return 0, err
	}
	e.rmu.Unlock()

	data := make([]byte, src.NumBytes())
	if n, err := src.CopyIn(ctx, data); n < len(data) {
		return 0, copyErr(err)
	}
	if lost {
		return int64(len(data)), nil
	}
	if !local {
		return int64(len(data)), e.stack.External.SendUDP(from, dst, data)
	}
	r := e.stack.lookupUDP(dst, from)
	if r == nil {
		if connected {
			// The port-unreachable error comes back to a
			// connected socket: its next call fails.
			e.rmu.Lock()
			e.err = linux.ECONNREFUSED
			e.rmu.Unlock()
			e.queue.Notify(waiter.EventErr)
		}
		return int64(len(data)), nil
	}
	r.deliver(datagram{from: from, data: data, at: e.stack.arrivalAt(dst.Addr(), srcAddr, oif, ttl, tos)})
	return int64(len(data)), nil
}

// deliver queues d unless the receive buffer is full (the datagram is
// then dropped, as UDP does).
func (e *udpEndpoint) deliver(d datagram) {
	e.mu.Lock()
	limit, shut := e.opts.rcvBuf, e.rdShut
	stamp := e.rx.timestamp
	// ipv4_pktinfo_prepare keeps an IPv4 datagram's interface and
	// ipi_spec_dst only for a socket that asks for packet info when
	// it arrives; later they read as 0.
	pktInfo := e.rx.pktInfo || e.family == socket.AF_INET6 && e.rx.pktInfo6
	e.mu.Unlock()
	if shut {
		return
	}
	if stamp {
		d.at.at = time.Now()
	}
	if d.at.dst.Is4() && !pktInfo {
		d.at.ifindex, d.at.specDst = 0, netip.IPv4Unspecified()
	}
	cost := len(d.data) + dgramOverhead
	e.rmu.Lock()
	if e.rqSize > 0 && e.rqSize+cost > limit {
		e.rmu.Unlock()
		return
	}
	e.rq = append(e.rq, d)
	e.rqSize += cost
	e.rmu.Unlock()
	e.queue.Notify(waiter.ReadableEvents)
}

// lookupUDP finds the socket a datagram from src to dst goes to: among
// those bound to dst's port and address (or a wildcard) and, if
// connected, to src, the most specific.
func (s *Stack) lookupUDP(dst, src netip.AddrPort) *udpEndpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *udpEndpoint
	score := 0
	for _, b := range s.udp[dst.Port()] {
		m := b.matches(dst.Addr())
		if m == 0 {
			continue
		}
		if b.hasPeer {
			if b.peer != src {
				continue
			}
			m += 2
		}
		if m > score {
			best, score = b.owner.(*udpEndpoint), m
		}
	}
	return best
}
