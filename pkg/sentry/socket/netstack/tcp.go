package netstack

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

type tcpState int

const (
	tcpInit      tcpState = iota // never connected, or back there
	tcpListening                 // listen(2)
	tcpSynSent                   // waiting for room in a listener's queue
	tcpConnected                 // c is set
)

// somaxconn is net.core.somaxconn, the cap on listen's backlog.
const somaxconn = 4096

// tcpEndpoint is a TCP socket and its file description.
type tcpEndpoint struct {
	vfs.FileDescriptionDefaultImpl
	identity

	stack  *Stack
	vfsObj *vfs.VirtualFilesystem
	family int
	queue  waiter.Queue
	// file is the socket's file, once it has one (an accepted
	// connection gets it from accept); its owner gets SIGURG.
	file atomic.Pointer[vfs.FileDescription]

	// mu guards the fields below and opts.
	mu    sync.Mutex
	opts  sockOpts
	state tcpState
	// local is the bound address (port 0: unbound); bind is its port
	// hold; userBound says bind(2) chose the port, which a failed
	// connect keeps (SOCK_BINDPORT_LOCK).
	local     netip.AddrPort
	bind      *binding
	userBound bool
	remote    netip.AddrPort

	// Listener state: the connections accept has not taken yet, and
	// the clients waiting for room in that queue.
	backlog int
	acceptQ []*tcpEndpoint
	synQ    []*tcpEndpoint

	// synTarget is the listener a tcpSynSent socket waits on.
	synTarget *tcpEndpoint
	// connecting is SS_CONNECTING: a connect returned EINPROGRESS (or
	// was interrupted) and the next connect reports the outcome.
	connecting bool
	// err is a pending error outside a connection (a failed
	// non-blocking connect); failed makes such a socket look shut
	// down, as Linux's closed socket after a reset does.
	err    error
	failed bool
	// rdShut and wrShut are shutdown(2) on a socket that is not
	// connected: Linux fails the call with ENOTCONN but keeps the
	// flags, which show in poll and make reads return end of file.
	rdShut, wrShut bool

	// c and side are the connection, once tcpConnected. I/O reads c
	// under mu and then works on it alone: connect(AF_UNSPEC) may drop
	// it, leaving an I/O in flight on the reset connection.
	c    *conn
	side int
	// far is the connection's remote end when it leaves the sandbox
	// (nil on the loopback path): socket options that shape the
	// packets (keep-alive) go to the packet stack through it.
	far *FarEnd
}

func newTCP(s *Stack, vfsObj *vfs.VirtualFilesystem, family int) *tcpEndpoint {
	return &tcpEndpoint{stack: s, vfsObj: vfsObj, family: family, opts: defaultOpts(true)}
}

// newBinding describes a hold on addr for a socket of e's family.
func newBinding(family int, v6only bool, addr netip.Addr, o *sockOpts, owner any) *binding {
	b := &binding{addr: addr, reuseAddr: o.ReuseAddr, reusePort: o.ReusePort, owner: owner}
	switch {
	case family == socket.AF_INET || addr.Is4():
		b.v4 = true
	case addr.IsUnspecified():
		b.v6, b.v4 = true, !v6only
	default:
		b.v6 = true
	}
	return b
}

// parseBindAddr decodes and checks bind(2)'s address for a socket of
// family (inet_bind / inet6_bind).
func parseBindAddr(ctx context.Context, s *Stack, family int, v6only bool, b []byte) (netip.AddrPort, error) {
	ap, mapped, kind, err := parseSockaddr(family, b)
	if err != nil {
		return ap, err
	}
	if kind == kindUnspec {
		// inet_bind takes AF_UNSPEC only with INADDR_ANY.
		if family != socket.AF_INET || len(b) < sizeofSockaddrIn || !ap.Addr().IsUnspecified() {
			return ap, linux.EAFNOSUPPORT
		}
	}
	if mapped && v6only {
		return ap, linux.EINVAL
	}
	if !s.canBind(ap.Addr()) {
		return ap, linux.EADDRNOTAVAIL
	}
	if p := ap.Port(); p != 0 && p < 1024 && !auth.CredentialsFromContext(ctx).HasCapability(linux.CAP_NET_BIND_SERVICE) {
		return ap, linux.EACCES
	}
	return ap, nil
}

// Bind implements socket.Socket.
func (e *tcpEndpoint) Bind(ctx context.Context, b []byte, _ socket.Resolver) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ap, err := parseBindAddr(ctx, e.stack, e.family, e.opts.v6only, b)
	if err != nil {
		return err
	}
	if e.bind != nil || e.state != tcpInit {
		return linux.EINVAL
	}
	bd := newBinding(e.family, e.opts.v6only, ap.Addr(), &e.opts, e)
	port, err := e.stack.reserve(true, ap.Port(), bd, linux.EADDRINUSE)
	if err != nil {
		return err
	}
	e.bind, e.userBound = bd, true
	e.local = netip.AddrPortFrom(ap.Addr(), port)
	return nil
}

// autobindLocked gives an unbound socket an ephemeral port on addr.
func (e *tcpEndpoint) autobindLocked(addr netip.Addr, errFull error) error {
	if e.bind != nil {
		return nil
	}
	bd := newBinding(e.family, e.opts.v6only, addr, &e.opts, e)
	port, err := e.stack.reserve(true, 0, bd, errFull)
	if err != nil {
		return err
	}
	e.bind = bd
	e.local = netip.AddrPortFrom(addr, port)
	return nil
}

// unbindLocked gives the port back.
func (e *tcpEndpoint) unbindLocked() {
	if e.bind != nil {
		e.stack.release(true, e.local.Port(), e.bind)
		e.bind = nil
	}
	e.local = netip.AddrPortFrom(anyAddr(e.family), 0)
	e.userBound = false
}

// Listen implements socket.Socket.
func (e *tcpEndpoint) Listen(_ context.Context, backlog int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != tcpInit && e.state != tcpListening || e.connecting {
		return linux.EINVAL
	}
	// Linux compares the backlog as unsigned: a negative one is
	// somaxconn.
	if uint(backlog) > somaxconn {
		backlog = somaxconn
	}
	e.backlog = backlog
	if e.state == tcpListening {
		return nil
	}
	if err := e.autobindLocked(anyAddr(e.family), linux.EADDRINUSE); err != nil {
		return err
	}
	if err := e.stack.setListening(e.local.Port(), e.bind); err != nil {
		return err
	}
	e.state = tcpListening
	e.failed, e.err = false, nil
	return nil
}

// acceptFullLocked is sk_acceptq_is_full: Linux queues one more
// connection than the backlog.
func (e *tcpEndpoint) acceptFullLocked() bool { return len(e.acceptQ) > e.backlog }

// Accept implements socket.Socket.
func (e *tcpEndpoint) Accept(ctx context.Context, nonblock, newNonblock bool) (*vfs.FileDescription, error) {
	var w waitEntry
	defer w.done()
	e.mu.Lock()
	dl := socket.Deadline(e.opts.RcvTimeo)
	for {
		if e.state != tcpListening {
			e.mu.Unlock()
			return nil, linux.EINVAL
		}
		if len(e.acceptQ) > 0 {
			break
		}
		if nonblock {
			e.mu.Unlock()
			return nil, linux.EAGAIN
		}
		if !w.armed() {
			w.arm(&e.queue, waiter.ReadableEvents)
			continue
		}
		e.mu.Unlock()
		if err := w.block(ctx, dl); err != nil {
			if err == errTimeout {
				err = linux.EAGAIN
			}
			return nil, err
		}
		e.mu.Lock()
	}
	child := e.acceptQ[0]
	e.acceptQ[0] = nil
	e.acceptQ = e.acceptQ[1:]
	e.mu.Unlock()
	e.admitWaiting()
	return newFD(ctx, e.vfsObj, child, newNonblock), nil
}

// admitWaiting lets clients waiting for room in the accept queue in.
func (e *tcpEndpoint) admitWaiting() {
	for {
		e.mu.Lock()
		if e.state != tcpListening || len(e.synQ) == 0 || e.acceptFullLocked() {
			e.mu.Unlock()
			return
		}
		cl := e.synQ[0]
		e.synQ[0] = nil
		e.synQ = e.synQ[1:]
		e.mu.Unlock()
		cl.finishSyn(e)
	}
}

// finishSyn completes a connect that waited for room in l's queue.
func (e *tcpEndpoint) finishSyn(l *tcpEndpoint) {
	e.mu.Lock()
	if e.state != tcpSynSent || e.synTarget != l {
		e.mu.Unlock()
		return
	}
	l.mu.Lock()
	switch {
	case l.state != tcpListening:
		l.mu.Unlock()
		e.failConnectLocked(linux.ECONNREFUSED)
	case l.acceptFullLocked():
		// Someone else took the room; wait again, first in line.
		l.synQ = append([]*tcpEndpoint{e}, l.synQ...)
		l.mu.Unlock()
		e.mu.Unlock()
		return
	default:
		e.establishLocked(l, e.remote)
		l.mu.Unlock()
	}
	e.mu.Unlock()
	e.queue.Notify(waiter.AllEvents)
	l.queue.Notify(waiter.ReadableEvents)
}

// failConnectLocked ends a connect in progress with err: the socket is
// back to unconnected with err pending, and gives back a port connect
// chose.
func (e *tcpEndpoint) failConnectLocked(err error) {
	e.state = tcpInit
	e.synTarget = nil
	if !e.userBound {
		e.unbindLocked()
	}
	e.err, e.failed = err, true
}

// establishLocked connects e to listener l (both locked), queueing the
// server side for accept. dst is the address the client asked for.
func (e *tcpEndpoint) establishLocked(l *tcpEndpoint, dst netip.AddrPort) {
	srv := newTCP(l.stack, l.vfsObj, l.family)
	srv.opts = l.opts
	srv.state = tcpConnected
	srv.local = dst
	srv.remote = e.local
	srv.bind = &binding{addr: dst.Addr(), v4: dst.Addr().Is4(), v6: !dst.Addr().Is4(), reuseAddr: l.opts.ReuseAddr, reusePort: l.opts.ReusePort, owner: srv}
	e.stack.mu.Lock()
	e.stack.tcp[dst.Port()] = append(e.stack.tcp[dst.Port()], srv.bind)
	e.stack.mu.Unlock()

	c := newConn(&e.queue, &srv.queue, e.opts.window(), srv.opts.window())
	c.side[0].urgentOwnerLocked(e)
	c.side[1].urgentOwnerLocked(srv)
	e.c, e.side = c, 0
	srv.c, srv.side = c, 1
	e.state = tcpConnected
	e.synTarget = nil
	e.remote = dst
	l.acceptQ = append(l.acceptQ, srv)
}

// window is the receive queue limit for these options.
func (o *sockOpts) window() int {
	if o.rcvBufSet {
		return o.rcvBuf
	}
	return tcpAutoWindow
}

// Connect implements socket.Socket.
func (e *tcpEndpoint) Connect(ctx context.Context, b []byte, _ socket.Resolver, nonblock bool) error {
	ap, mapped, kind, err := parseSockaddr(e.family, b)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if kind == kindUnspec {
		refuse := e.disconnectLocked()
		e.mu.Unlock()
		e.refuseAll(refuse)
		e.queue.Notify(waiter.AllEvents)
		return nil
	}
	if e.connecting {
		// The outcome of an earlier non-blocking connect.
		switch e.state {
		case tcpSynSent:
			if nonblock {
				e.mu.Unlock()
				return linux.EALREADY
			}
			return e.waitConnected(ctx, linux.EALREADY)
		case tcpConnected:
			e.connecting = false
			e.mu.Unlock()
			return nil
		default:
			err := e.err
			if err == nil {
				err = linux.ECONNABORTED
			}
			e.err, e.failed, e.connecting = nil, false, false
			e.mu.Unlock()
			return err
		}
	}
	if e.state != tcpInit {
		e.mu.Unlock()
		return linux.EISCONN
	}
	e.err, e.failed = nil, false
	if mapped && e.opts.v6only {
		e.mu.Unlock()
		return linux.ENETUNREACH
	}
	dst := netip.AddrPortFrom(localDestination(ap.Addr()), ap.Port())
	src, local, err := e.stack.sourceFor(dst.Addr())
	if err != nil {
		e.mu.Unlock()
		return err
	}
	if e.bind != nil && !e.local.Addr().IsUnspecified() {
		src = e.local.Addr()
	}
	if err := e.autobindLocked(src, linux.EADDRNOTAVAIL); err != nil {
		e.mu.Unlock()
		return err
	}
	e.local = netip.AddrPortFrom(src, e.local.Port())
	e.remote = dst
	if !local {
		return e.connectExternal(ctx, dst)
	}

	l := e.stack.lookupListener(dst)
	if l == nil || l == e {
		return e.refuseLocked(nonblock)
	}
	l.mu.Lock()
	if l.state != tcpListening {
		l.mu.Unlock()
		return e.refuseLocked(nonblock)
	}
	if !l.acceptFullLocked() {
		e.establishLocked(l, dst)
		l.mu.Unlock()
		e.connecting = nonblock
		e.mu.Unlock()
		l.queue.Notify(waiter.ReadableEvents)
		e.queue.Notify(waiter.WritableEvents)
		if nonblock {
			// Linux reports EINPROGRESS even though a loopback
			// handshake is complete before it returns.
			return linux.EINPROGRESS
		}
		return nil
	}
	// The accept queue is full: Linux drops the SYN and the client
	// retries; here the client waits in line for accept to make room.
	l.synQ = append(l.synQ, e)
	l.mu.Unlock()
	e.state = tcpSynSent
	e.synTarget = l
	e.connecting = true
	if nonblock {
		e.mu.Unlock()
		return linux.EINPROGRESS
	}
	return e.waitConnected(ctx, linux.EINPROGRESS)
}

// refuseLocked fails a connect with nobody listening.
func (e *tcpEndpoint) refuseLocked(nonblock bool) error {
	e.remote = netip.AddrPort{}
	if !e.userBound {
		e.unbindLocked()
	}
	if nonblock {
		// The RST arrives after connect returned.
		e.connecting = true
		e.err, e.failed = linux.ECONNREFUSED, true
		e.mu.Unlock()
		e.queue.Notify(waiter.AllEvents)
		return linux.EINPROGRESS
	}
	e.mu.Unlock()
	return linux.ECONNREFUSED
}

// waitConnected waits (mu held on entry, released on return) for a
// connect in progress; a timeout returns timeoutErr, as Linux returns
// EINPROGRESS when SO_SNDTIMEO expires.
func (e *tcpEndpoint) waitConnected(ctx context.Context, timeoutErr error) error {
	var w waitEntry
	defer w.done()
	dl := socket.Deadline(e.opts.SndTimeo)
	for {
		switch e.state {
		case tcpConnected:
			e.connecting = false
			e.mu.Unlock()
			return nil
		case tcpInit:
			err := e.err
			if err == nil {
				err = linux.ECONNABORTED
			}
			e.err, e.failed, e.connecting = nil, false, false
			e.mu.Unlock()
			return err
		}
		if !w.armed() {
			w.arm(&e.queue, waiter.WritableEvents|waiter.EventErr|waiter.EventHUp)
			continue
		}
		e.mu.Unlock()
		if err := w.block(ctx, dl); err != nil {
			if err == errTimeout {
				return timeoutErr
			}
			return err
		}
		e.mu.Lock()
	}
}

// disconnectLocked is connect(AF_UNSPEC): tcp_disconnect aborts a
// connection (the peer sees a reset) and leaves the socket unconnected.
func (e *tcpEndpoint) disconnectLocked() (refuse []*tcpEndpoint) {
	switch e.state {
	case tcpListening:
		refuse = e.stopListeningLocked()
	case tcpSynSent:
		e.leaveSynQLocked()
	case tcpConnected:
		c := e.c
		c.mu.Lock()
		c.closeLocked(e.side, true)
		c.mu.Unlock()
		c.notifyBoth()
		e.c = nil
	}
	e.state = tcpInit
	e.far = nil
	e.connecting, e.err, e.failed = false, nil, false
	e.remote = netip.AddrPort{}
	if !e.userBound {
		e.unbindLocked()
	}
	return refuse
}

// leaveSynQLocked takes a waiting client out of its listener's line.
func (e *tcpEndpoint) leaveSynQLocked() {
	l := e.synTarget
	if l == nil {
		return
	}
	l.mu.Lock()
	for i, x := range l.synQ {
		if x == e {
			l.synQ = append(l.synQ[:i:i], l.synQ[i+1:]...)
			break
		}
	}
	l.mu.Unlock()
	e.synTarget = nil
}

// stopListeningLocked closes a listener: connections not yet accepted
// are reset. It returns the clients waiting for room, to be refused.
func (e *tcpEndpoint) stopListeningLocked() []*tcpEndpoint {
	pending, waiting := e.acceptQ, e.synQ
	e.acceptQ, e.synQ = nil, nil
	e.state = tcpInit
	if e.bind != nil {
		e.stack.mu.Lock()
		e.bind.listening = false
		e.stack.mu.Unlock()
	}
	for _, child := range pending {
		child.closeChild()
	}
	// Refusing takes each client's mu, which comes before ours: the
	// caller does it once unlocked, with refuseAll.
	return waiting
}

// refuseAll fails the connects that waited on listener l, which has
// stopped listening.
func (l *tcpEndpoint) refuseAll(waiting []*tcpEndpoint) {
	for _, cl := range waiting {
		cl.finishSyn(l)
	}
}

// closeChild releases a connection its listener never handed out.
func (e *tcpEndpoint) closeChild() {
	c := e.c
	c.mu.Lock()
	c.closeLocked(e.side, true)
	c.mu.Unlock()
	c.notifyBoth()
	e.stack.release(true, e.local.Port(), e.bind)
}

// connectExternal connects (mu held on entry, released on return)
// through the External stack. The call waits for the stack's handshake
// whether or not the socket is non-blocking.
func (e *tcpEndpoint) connectExternal(ctx context.Context, dst netip.AddrPort) error {
	far, c := newFarConn(&e.queue, e.opts.window())
	c.side[1-farSide].urgentOwnerLocked(e)
	local := e.local
	e.state = tcpSynSent
	// Options set before or during the handshake apply from its end.
	e.far = far
	e.pushKeepaliveLocked()
	e.mu.Unlock()
	err := e.stack.External.ConnectTCP(ctx, local, dst, far)
	e.mu.Lock()
	if e.state != tcpSynSent {
		// Closed or disconnected meanwhile.
		e.mu.Unlock()
		if err == nil {
			far.Reset()
		}
		return linux.ECONNABORTED
	}
	if err != nil {
		e.far = nil
		e.failConnectLocked(err)
		e.err, e.failed = nil, false
		e.mu.Unlock()
		return err
	}
	e.c, e.side, e.state = c, 0, tcpConnected
	e.mu.Unlock()
	e.queue.Notify(waiter.WritableEvents)
	return nil
}
