// Package unix implements AF_UNIX sockets (unix(7)): stream, datagram
// and seqpacket sockets, connected pairs, abstract and pathname names,
// listen/connect/accept, shutdown, and readiness for poll and epoll.
//
// Every endpoint's state is guarded by one package-wide mutex, mu. Most
// operations touch two or three endpoints (connect, close, datagram
// sends to any bound socket), and a single lock keeps them free of lock
// ordering; the cost is that unrelated AF_UNIX traffic is serialised.
//
// Pathname sockets are kept in a table keyed by the VFS dentry of the
// socket file, because the file systems have no socket-inode hook yet:
// the file is an S_IFSOCK node and the binding lives beside it.
package unix

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// Buffer sizes, as Linux reports them with default sysctls.
const (
	defaultBufSize = 212992 // net.core.{w,r}mem_default
	maxBufSize     = 212992 // net.core.{w,r}mem_max
	minSndBuf      = 4608   // SOCK_MIN_SNDBUF on 64-bit
	minRcvBuf      = 2304   // SOCK_MIN_RCVBUF on 64-bit
	// dgramOverhead is what Linux leaves out of the send buffer when
	// checking a datagram's size (EMSGSIZE).
	dgramOverhead = 32
)

var (
	// mu guards every Endpoint field marked "mu", the name tables and
	// autobindNext.
	mu sync.Mutex
	// abstractNames maps bound abstract names to their sockets. As on
	// Linux, each socket type has its own abstract namespace.
	abstractNames = map[abstractKey]*Endpoint{}
	// pathNames maps the dentries of socket files to the sockets bound
	// there. The key keeps the dentry alive only until the socket
	// closes; an unlinked name simply becomes unreachable.
	pathNames    = map[*vfs.Dentry]*Endpoint{}
	autobindNext uint32
)

type abstractKey struct {
	stype int
	name  string
}

type connState int

const (
	unconnected connState = iota
	listening
	connected
)

// Endpoint is one AF_UNIX socket and the implementation of its file
// description.
type Endpoint struct {
	vfs.FileDescriptionDefaultImpl

	vfsObj *vfs.VirtualFilesystem
	stype  int
	queue  waiter.Queue
	// net answers the interface ioctls (ifreq.go); set once, nil
	// without a network stack.
	net socket.NetStack
	// ino names the socket in sock_diag and /proc/net/unix (registry.go);
	// set once.
	ino uint32

	// The fields below are guarded by mu.

	state connState
	// addr is the bound name, nil if unbound; node is the socket file of
	// a pathname binding.
	addr *address
	node vfs.VirtualDentry
	// backlog and pending are a listener's limit and its connections
	// that accept has not taken yet (server-side endpoints already
	// paired with their clients).
	backlog int
	pending []*Endpoint
	// peer is the other end of a connection, or a datagram socket's
	// default destination. It stays set after the peer closes.
	peer *Endpoint
	// dgramEstablished is a datagram socket's TCP_ESTABLISHED state,
	// which Linux gives both ends of a datagram connect and takes
	// back from the connecting end only when it disconnects.
	dgramEstablished bool
	rq               msgQueue
	// rdShut and wrShut are Linux's RCV_SHUTDOWN and SEND_SHUTDOWN:
	// set by shutdown on either end and by the peer's close.
	rdShut, wrShut bool
	// err is the pending error (SO_ERROR), reported once.
	err    error
	closed bool
	sndbuf int
	// opts are the SOL_SOCKET options every family keeps; passCred is
	// SO_PASSCRED: received messages carry SCM_CREDENTIALS.
	opts     socket.Options
	passCred bool
	// listenCred is a listener's owner at listen(2), which its clients
	// see as their peer; peerCred is the peer's identity (SO_PEERCRED).
	listenCred, peerCred *cred
}

// New returns a socket file description of type stype (SOCK_STREAM,
// SOCK_DGRAM or SOCK_SEQPACKET; the caller has validated it).
func New(vfsObj *vfs.VirtualFilesystem, stype int, nonblock bool) *vfs.FileDescription {
	return newEndpoint(vfsObj, stype).newFD(nonblock)
}

// NewPair returns two connected sockets (socketpair(2)); each sees the
// caller of ctx as its peer.
func NewPair(ctx context.Context, vfsObj *vfs.VirtualFilesystem, stype int, nonblock bool) (*vfs.FileDescription, *vfs.FileDescription) {
	a, b := newEndpoint(vfsObj, stype), newEndpoint(vfsObj, stype)
	a.peer, b.peer = b, a
	a.peerCred = credOf(ctx)
	b.peerCred = a.peerCred
	a.state, b.state = connected, connected
	return a.newFD(nonblock), b.newFD(nonblock)
}

func newEndpoint(vfsObj *vfs.VirtualFilesystem, stype int) *Endpoint {
	e := &Endpoint{vfsObj: vfsObj, stype: stype, rq: msgQueue{limit: defaultBufSize}, sndbuf: defaultBufSize, opts: socket.DefaultOptions()}
	register(e)
	return e
}

func (e *Endpoint) newFD(nonblock bool) *vfs.FileDescription {
	flags := uint32(linux.O_RDWR)
	if nonblock {
		flags |= linux.O_NONBLOCK
	}
	fd := &vfs.FileDescription{}
	fd.Init(e, flags, e.vfsObj.NewSocketVirtualDentry(uint64(e.ino), nil), &vfs.FileDescriptionOptions{Stream: true})
	return fd
}

// notes collects wake-ups to deliver once mu is released, so that
// waiter callbacks never run under it.
type notes []note

type note struct {
	q    *waiter.Queue
	mask waiter.EventMask
}

func (n *notes) add(e *Endpoint, mask waiter.EventMask) {
	if e != nil {
		*n = append(*n, note{&e.queue, mask})
	}
}

func (n notes) fire() {
	for _, x := range n {
		x.q.Notify(x.mask)
	}
}

// waitLocked registers on e's queue for mask, releases mu and sleeps
// until an event or the deadline (zero: none; see socket.Block).
func (e *Endpoint) waitLocked(ctx context.Context, mask waiter.EventMask, deadline time.Time) error {
	w, ch := waiter.NewChannelEntry(mask)
	e.queue.EventRegister(w)
	mu.Unlock()
	defer e.queue.EventUnregister(w)
	return socket.Block(ctx, ch, deadline)
}

func (e *Endpoint) connOriented() bool { return e.stype != socket.SOCK_DGRAM }

// Release implements vfs.FileDescriptionImpl: the peer of a connection
// sees end of file (and ECONNRESET first if this end had unread data),
// connections waiting on a listener are reset, and the name is freed.
func (e *Endpoint) Release(ctx context.Context) {
	var n notes
	var drop []*vfs.FileDescription
	mu.Lock()
	node := e.closeLocked(&n, false, &drop)
	mu.Unlock()
	n.fire()
	if node.Ok() {
		node.DecRef()
	}
	// Rights still queued die with the socket. Dropping them may close
	// other sockets, hence outside mu.
	dropRights(ctx, drop)
}

func dropRights(ctx context.Context, rights []*vfs.FileDescription) {
	for _, f := range rights {
		f.DecRef(ctx)
	}
}

// closeLocked returns the socket file reference to drop once mu is
// released. embryo marks a connection its listener never handed out,
// whose client is reset as if it had unread data.
func (e *Endpoint) closeLocked(n *notes, embryo bool, drop *[]*vfs.FileDescription) vfs.VirtualDentry {
	e.closed = true
	unregister(e)
	node := e.unbindLocked()
	for _, srv := range e.pending {
		srv.closeLocked(n, true, drop)
	}
	e.pending = nil
	if p := e.peer; p != nil && e.connOriented() {
		p.rdShut, p.wrShut = true, true
		if embryo || !e.rq.empty() {
			p.err = linux.ECONNRESET
		}
		n.add(p, waiter.ReadableEvents|waiter.WritableEvents|waiter.EventHUp|waiter.EventRdHUp|waiter.EventErr)
	}
	*drop = append(*drop, e.rq.drain()...)
	n.add(e, waiter.AllEvents)
	return node
}

// unbindLocked frees e's name and returns the reference on its socket
// file, if any.
func (e *Endpoint) unbindLocked() vfs.VirtualDentry {
	node := e.node
	e.node = vfs.VirtualDentry{}
	if e.addr == nil {
		return node
	}
	if node.Ok() {
		if pathNames[node.Dentry()] == e {
			delete(pathNames, node.Dentry())
		}
	} else if k := (abstractKey{e.stype, e.addr.name}); abstractNames[k] == e {
		delete(abstractNames, k)
	}
	return node
}

// Bind implements socket.Socket.
func (e *Endpoint) Bind(ctx context.Context, b []byte, r socket.Resolver) error {
	a, err := parseAddr(b)
	if err != nil || a.unspec {
		return linux.EINVAL
	}
	if !a.empty && !a.abstract {
		return e.bindPath(ctx, a, r)
	}
	mu.Lock()
	defer mu.Unlock()
	if e.addr != nil {
		return linux.EINVAL
	}
	if a.empty {
		return e.autobindLocked()
	}
	if abstractNames[abstractKey{e.stype, a.name}] != nil {
		return linux.EADDRINUSE
	}
	abstractNames[abstractKey{e.stype, a.name}] = e
	e.addr = &a
	return nil
}

// autobindLocked binds the unbound e to the next free automatic abstract
// name, as bind with an empty address does, and connect and sendmsg do
// for a socket with SO_PASSCRED, so that the peer can tell the sender.
func (e *Endpoint) autobindLocked() error {
	for i := 0; i <= 0xfffff; i++ {
		name := autobindName(autobindNext)
		autobindNext++
		if abstractNames[abstractKey{e.stype, name}] == nil {
			abstractNames[abstractKey{e.stype, name}] = e
			e.addr = &address{abstract: true, name: name}
			return nil
		}
	}
	return linux.ENOSPC
}

func (e *Endpoint) bindPath(ctx context.Context, a address, r socket.Resolver) error {
	mu.Lock()
	bound := e.addr != nil
	mu.Unlock()
	if bound {
		return linux.EINVAL
	}
	vd, err := r.MakeSocketNode(ctx, a.name)
	if err != nil {
		if errors.Is(err, linux.EEXIST) {
			return linux.EADDRINUSE
		}
		return err
	}
	mu.Lock()
	if e.addr != nil || e.closed {
		// A concurrent bind won; the node stays, as a failed Linux
		// bind after mknod leaves it.
		mu.Unlock()
		vd.DecRef()
		return linux.EINVAL
	}
	e.addr, e.node = &a, vd
	pathNames[vd.Dentry()] = e
	mu.Unlock()
	return nil
}

// lookup finds the socket of type stype a name refers to: ECONNREFUSED
// if nothing is bound there, or the path's resolution error. A pathname
// socket of another type is returned for the caller to refuse with
// EPROTOTYPE; abstract names of other types are not visible.
func lookup(ctx context.Context, a address, r socket.Resolver, stype int) (*Endpoint, error) {
	if a.abstract {
		mu.Lock()
		defer mu.Unlock()
		if t := abstractNames[abstractKey{stype, a.name}]; t != nil {
			return t, nil
		}
		return nil, linux.ECONNREFUSED
	}
	vd, err := r.LookupSocketNode(ctx, a.name)
	if err != nil {
		return nil, err
	}
	defer vd.DecRef()
	mu.Lock()
	defer mu.Unlock()
	if t := pathNames[vd.Dentry()]; t != nil {
		return t, nil
	}
	return nil, linux.ECONNREFUSED
}

// Listen implements socket.Socket.
func (e *Endpoint) Listen(ctx context.Context, backlog int) error {
	if !e.connOriented() {
		return linux.EOPNOTSUPP
	}
	mu.Lock()
	defer mu.Unlock()
	if e.state == connected {
		return linux.EINVAL
	}
	if e.addr == nil {
		return linux.EINVAL
	}
	// Linux caps the backlog at net.core.somaxconn (4096).
	e.backlog = max(min(backlog, 4096), 0)
	e.state = listening
	e.listenCred = credOf(ctx)
	return nil
}

// Connect implements socket.Socket. A stream or seqpacket connect is
// complete when it returns: the server end is created at once and
// queued on the listener for accept, as Linux does. A full queue (more
// than backlog pending) makes the caller wait, or fail with EAGAIN.
func (e *Endpoint) Connect(ctx context.Context, b []byte, r socket.Resolver, nonblock bool) error {
	a, err := parseAddr(b)
	if err != nil {
		return err
	}
	if a.unspec && !e.connOriented() {
		mu.Lock()
		e.peer = nil
		e.dgramEstablished = false
		mu.Unlock()
		return nil
	}
	if a.unspec || a.empty {
		return linux.EINVAL
	}
	t, err := lookup(ctx, a, r, e.stype)
	if err != nil {
		return err
	}
	var n notes
	defer func() { n.fire() }()
	mu.Lock()
	if t.stype != e.stype {
		mu.Unlock()
		return linux.EPROTOTYPE
	}
	if e.passCred && e.addr == nil {
		if err := e.autobindLocked(); err != nil {
			mu.Unlock()
			return err
		}
	}
	dl := socket.Deadline(e.opts.SndTimeo)
	if !e.connOriented() {
		defer mu.Unlock()
		if t.closed {
			return linux.ECONNREFUSED
		}
		e.peer = t
		e.dgramEstablished, t.dgramEstablished = true, true
		return nil
	}
	for {
		switch {
		case e.state == connected:
			mu.Unlock()
			return linux.EISCONN
		case e.state == listening:
			mu.Unlock()
			return linux.EINVAL
		case t.closed || t.state != listening:
			mu.Unlock()
			return linux.ECONNREFUSED
		}
		if len(t.pending) <= t.backlog {
			break
		}
		if nonblock {
			mu.Unlock()
			return linux.EAGAIN
		}
		// accept and close notify the listener's queue.
		if err := t.waitLocked(ctx, waiter.WritableEvents|waiter.EventHUp, dl); err != nil {
			return err
		}
		mu.Lock()
	}
	srv := newEndpoint(e.vfsObj, e.stype)
	srv.net = e.net
	srv.state, srv.peer = connected, e
	// The listener's SO_PASSCRED when the connection is made.
	srv.passCred = t.passCred
	srv.peerCred = credOf(ctx)
	e.peerCred = t.listenCred
	if t.addr != nil {
		srvAddr := *t.addr
		srv.addr = &srvAddr
	}
	e.state, e.peer = connected, srv
	t.pending = append(t.pending, srv)
	n.add(t, waiter.ReadableEvents)
	n.add(e, waiter.WritableEvents)
	mu.Unlock()
	return nil
}

// Accept implements socket.Socket.
func (e *Endpoint) Accept(ctx context.Context, nonblock, newNonblock bool) (*vfs.FileDescription, error) {
	mu.Lock()
	dl := socket.Deadline(e.opts.RcvTimeo)
	for {
		if e.state != listening {
			mu.Unlock()
			return nil, linux.EINVAL
		}
		if len(e.pending) > 0 {
			break
		}
		if nonblock {
			mu.Unlock()
			return nil, linux.EAGAIN
		}
		if err := e.waitLocked(ctx, waiter.ReadableEvents, dl); err != nil {
			return nil, err
		}
		mu.Lock()
	}
	srv := e.pending[0]
	e.pending = e.pending[1:]
	mu.Unlock()
	// Wake connecters waiting for room in the backlog.
	e.queue.Notify(waiter.WritableEvents)
	return srv.newFD(newNonblock), nil
}

// SockName implements socket.Socket.
func (e *Endpoint) SockName() []byte {
	mu.Lock()
	defer mu.Unlock()
	return sockaddrOf(e.addr)
}

func sockaddrOf(a *address) []byte {
	if a == nil {
		var b [2]byte
		binary.LittleEndian.PutUint16(b[:], socket.AF_UNIX)
		return b[:]
	}
	return a.sockaddr()
}

// PeerName implements socket.Socket.
func (e *Endpoint) PeerName() ([]byte, error) {
	mu.Lock()
	defer mu.Unlock()
	if e.peer == nil || (e.connOriented() && e.state != connected) {
		return nil, linux.ENOTCONN
	}
	return sockaddrOf(e.peer.addr), nil
}

// Shutdown implements socket.Socket. As on Linux, shutting one end's
// direction shuts the peer's opposite direction, and an unconnected
// socket accepts the call.
func (e *Endpoint) Shutdown(how int) error {
	if how < socket.SHUT_RD || how > socket.SHUT_RDWR {
		return linux.EINVAL
	}
	var n notes
	mu.Lock()
	rd := how == socket.SHUT_RD || how == socket.SHUT_RDWR
	wr := how == socket.SHUT_WR || how == socket.SHUT_RDWR
	e.rdShut = e.rdShut || rd
	e.wrShut = e.wrShut || wr
	n.add(e, waiter.AllEvents)
	if p := e.peer; p != nil && e.connOriented() && e.state == connected {
		p.wrShut = p.wrShut || rd
		p.rdShut = p.rdShut || wr
		n.add(p, waiter.AllEvents)
	}
	mu.Unlock()
	n.fire()
	return nil
}

// Readiness implements waiter.Waitable, after unix_poll.
func (e *Endpoint) Readiness(mask waiter.EventMask) waiter.EventMask {
	mu.Lock()
	defer mu.Unlock()
	var r waiter.EventMask
	if e.state == listening {
		if len(e.pending) > 0 {
			r |= waiter.ReadableEvents
		}
		return r & mask
	}
	if e.err != nil {
		r |= waiter.EventErr
	}
	if e.rdShut && e.wrShut {
		r |= waiter.EventHUp
	}
	if e.rdShut {
		r |= waiter.ReadableEvents | waiter.EventRdHUp
	}
	if !e.rq.empty() {
		r |= waiter.ReadableEvents
	}
	if e.connOriented() && e.state == unconnected {
		r |= waiter.EventHUp
	}
	if e.writableLocked() {
		r |= waiter.WritableEvents
	}
	return r & (mask | waiter.EventErr | waiter.EventHUp)
}

// writableLocked reports whether a send would not block: the peer's
// queue is at most a quarter full, or the send would fail at once.
func (e *Endpoint) writableLocked() bool {
	p := e.peer
	if p == nil || e.wrShut || p.closed || p.rdShut {
		return true
	}
	if e.connOriented() {
		return p.rq.bytes*4 <= p.rq.limit
	}
	return p.rq.free() > 0
}

// EventRegister implements waiter.Waitable.
func (e *Endpoint) EventRegister(w *waiter.Entry) error {
	e.queue.EventRegister(w)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (e *Endpoint) EventUnregister(w *waiter.Entry) { e.queue.EventUnregister(w) }

// Read implements vfs.FileDescriptionImpl (read(2) is recv with no
// flags).
func (e *Endpoint) Read(ctx context.Context, dst vfs.IOSequence, _ int64, opts vfs.ReadOptions) (int64, error) {
	res, err := e.RecvMsg(ctx, dst, 0, opts.Nonblocking)
	// read(2) has nowhere to put passed files; Linux closes them.
	dropRights(ctx, res.Rights)
	return res.N, err
}

// Write implements vfs.FileDescriptionImpl (write(2) is send with no
// flags; the caller raises SIGPIPE on EPIPE).
func (e *Endpoint) Write(ctx context.Context, src vfs.IOSequence, _ int64, opts vfs.WriteOptions) (int64, int64, error) {
	n, err := e.SendMsg(ctx, src, nil, nil, nil, 0, opts.Nonblocking)
	return n, 0, err
}

// Ioctl implements vfs.FileDescriptionImpl: FIONREAD (SIOCINQ) is the
// bytes queued for a stream, or the next message's length.
func (e *Endpoint) Ioctl(ctx context.Context, m vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	if cmd != linux.FIONREAD {
		return e.interfaceIoctl(ctx, m, cmd, arg)
	}
	mu.Lock()
	v := e.rq.bytes
	if !e.connOriented() {
		v = 0
		if !e.rq.empty() {
			v = len(e.rq.msgs[0].data)
		}
	}
	mu.Unlock()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	_, err := m.CopyOutBytes(ctx, arg, b[:])
	return 0, err
}

var _ socket.Socket = (*Endpoint)(nil)
