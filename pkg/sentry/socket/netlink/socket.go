// Package netlink implements AF_NETLINK sockets of protocols
// NETLINK_ROUTE and NETLINK_SOCK_DIAG for the sandbox's own network
// stack. rtnetlink requests (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE) are
// answered from the netstack.Stack's interface and route tables, which
// is what `ip`, glibc's getifaddrs and if_nameindex read. The tables
// never change, so no multicast notification is ever sent; requests to
// change them fail (EPERM, or EOPNOTSUPP with CAP_NET_ADMIN). sock_diag
// requests list the stack's TCP and UDP sockets, which is what ss reads
// (diag.go).
package netlink

import (
	"context"
	"encoding/binary"
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/socket/netstack"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

const (
	netlinkRoute = 0
	solNetlink   = 270

	netlinkAddMembership  = 1
	netlinkDropMembership = 2
	netlinkBroadcastError = 4
	netlinkNoENOBUFS      = 5
	netlinkCapAck         = 10
	netlinkExtAck         = 11
	netlinkGetStrictChk   = 12

	defaultBuf = 212992
	maxBuf     = 212992
	minSndBuf  = 4608
	minRcvBuf  = 2304
)

// Provider creates NETLINK_ROUTE and NETLINK_SOCK_DIAG sockets
// answering from Stack.
type Provider struct {
	Stack *netstack.Stack
	// For --network=host, Stack is nil and only NETLINK_SOCK_DIAG
	// sockets are made here: HostDiag answers their AF_INET and
	// AF_INET6 requests from the host, and HostNet answers their
	// interface ioctls.
	HostDiag InetDiagForwarder
	HostNet  socket.NetStack
}

var _ socket.Provider = Provider{}

// ports are the bound port IDs of one provider's sockets.
type ports struct {
	mu     sync.Mutex
	byID   map[uint32]*Socket
	nextID int32
}

// portsKey names one port ID space: each netlink protocol has its own.
type portsKey struct {
	stack    *netstack.Stack
	protocol int
}

var portTables sync.Map // portsKey -> *ports

func portsOf(s *netstack.Stack, protocol int) *ports {
	p, _ := portTables.LoadOrStore(portsKey{s, protocol}, &ports{byID: map[uint32]*Socket{}, nextID: -4096})
	return p.(*ports)
}

// Socket implements socket.Provider.
func (p Provider) Socket(_ context.Context, vfsObj *vfs.VirtualFilesystem, stype, protocol int, nonblock bool) (*vfs.FileDescription, error) {
	if stype != socket.SOCK_RAW && stype != socket.SOCK_DGRAM {
		return nil, linux.ESOCKTNOSUPPORT
	}
	if protocol != netlinkRoute && protocol != netlinkSockDiag {
		return nil, linux.EPROTONOSUPPORT
	}
	if p.Stack == nil && protocol != netlinkSockDiag {
		return nil, linux.EPROTONOSUPPORT
	}
	s := &Socket{stack: p.Stack, hostDiag: p.HostDiag, hostNet: p.HostNet, ports: portsOf(p.Stack, protocol), stype: stype, protocol: protocol, rcvBuf: defaultBuf, sndBuf: defaultBuf}
	flags := uint32(linux.O_RDWR)
	if nonblock {
		flags |= linux.O_NONBLOCK
	}
	fd := &vfs.FileDescription{}
	fd.Init(s, flags, vfsObj.NewSocketVirtualDentry(0, nil), &vfs.FileDescriptionOptions{Stream: true})
	return fd, nil
}

// Pair implements socket.Provider: netlink has no socketpair.
func (Provider) Pair(context.Context, *vfs.VirtualFilesystem, int, int, bool) (*vfs.FileDescription, *vfs.FileDescription, error) {
	return nil, nil, linux.EOPNOTSUPP
}

// Socket is a NETLINK_ROUTE or NETLINK_SOCK_DIAG socket.
type Socket struct {
	vfs.FileDescriptionDefaultImpl

	stack    *netstack.Stack
	hostDiag InetDiagForwarder
	hostNet  socket.NetStack
	ports    *ports
	stype    int
	protocol int
	queue    waiter.Queue

	// mu guards the fields below.
	mu sync.Mutex
	// portID is the bound port ID (0: unbound); groups are the
	// multicast groups joined.
	portID uint32
	groups uint32
	// dstPID and dstGroups are connect(2)'s default destination.
	dstPID, dstGroups uint32
	rq                [][]byte
	rqSize            int
	rcvBuf, sndBuf    int
	capAck, extAck    bool
	strict, noENOBUFS bool
	bcastErr          bool
}

func sockaddrNl(pid, groups uint32) []byte {
	b := make([]byte, sizeofSockaddrNl)
	binary.LittleEndian.PutUint16(b, socket.AF_NETLINK)
	binary.LittleEndian.PutUint32(b[4:], pid)
	binary.LittleEndian.PutUint32(b[8:], groups)
	return b
}

// parseSockaddrNl decodes a struct sockaddr_nl.
func parseSockaddrNl(b []byte) (pid, groups uint32, err error) {
	if len(b) < sizeofSockaddrNl {
		return 0, 0, linux.EINVAL
	}
	if binary.LittleEndian.Uint16(b) != socket.AF_NETLINK {
		return 0, 0, linux.EINVAL
	}
	return binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:]), nil
}

// autobindLocked gives the socket a port ID: its process's ID if free,
// else a negative one, as netlink_autobind does.
func (s *Socket) autobindLocked(ctx context.Context) error {
	if s.portID != 0 {
		return nil
	}
	p := s.ports
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := kernel.TaskFromContext(ctx); t != nil {
		if id := uint32(t.ThreadGroup().ID()); id != 0 && p.byID[id] == nil {
			p.byID[id] = s
			s.portID = id
			return nil
		}
	}
	for i := 0; i < 1<<20; i++ {
		id := uint32(p.nextID)
		p.nextID--
		if p.nextID >= -4096 {
			p.nextID = -4097
		}
		if p.byID[id] == nil {
			p.byID[id] = s
			s.portID = id
			return nil
		}
	}
	return linux.EADDRINUSE
}

// Bind implements socket.Socket.
func (s *Socket) Bind(ctx context.Context, b []byte, _ socket.Resolver) error {
	pid, groups, err := parseSockaddrNl(b)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.portID != 0 && pid != 0 && pid != s.portID {
		return linux.EINVAL
	}
	if s.portID == 0 {
		if pid == 0 {
			if err := s.autobindLocked(ctx); err != nil {
				return err
			}
		} else {
			p := s.ports
			p.mu.Lock()
			if p.byID[pid] != nil {
				p.mu.Unlock()
				return linux.EADDRINUSE
			}
			p.byID[pid] = s
			p.mu.Unlock()
			s.portID = pid
		}
	}
	s.groups = groups
	return nil
}

// Listen implements socket.Socket.
func (s *Socket) Listen(context.Context, int) error { return linux.EOPNOTSUPP }

// Accept implements socket.Socket.
func (s *Socket) Accept(context.Context, bool, bool) (*vfs.FileDescription, error) {
	return nil, linux.EOPNOTSUPP
}

// Connect implements socket.Socket: it sets the default destination.
func (s *Socket) Connect(ctx context.Context, b []byte, _ socket.Resolver, _ bool) error {
	if len(b) >= 2 && binary.LittleEndian.Uint16(b) == socket.AF_UNSPEC {
		s.mu.Lock()
		s.dstPID, s.dstGroups = 0, 0
		s.mu.Unlock()
		return nil
	}
	pid, groups, err := parseSockaddrNl(b)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.autobindLocked(ctx); err != nil {
		return err
	}
	s.dstPID, s.dstGroups = pid, groups
	return nil
}

// SockName implements socket.Socket.
func (s *Socket) SockName() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sockaddrNl(s.portID, s.groups)
}

// PeerName implements socket.Socket: the default destination, the
// kernel unless connected elsewhere.
func (s *Socket) PeerName() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sockaddrNl(s.dstPID, s.dstGroups), nil
}

// Shutdown implements socket.Socket: netlink sockets have none.
func (s *Socket) Shutdown(int) error { return linux.EOPNOTSUPP }

// Release implements vfs.FileDescriptionImpl.
func (s *Socket) Release(context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.portID != 0 {
		p := s.ports
		p.mu.Lock()
		if p.byID[s.portID] == s {
			delete(p.byID, s.portID)
		}
		p.mu.Unlock()
	}
	s.rq = nil
}

// enqueueLocked queues a datagram for reading; false if the receive
// buffer is full.
func (s *Socket) enqueueLocked(d []byte) bool {
	if s.rqSize > 0 && s.rqSize+len(d) > s.rcvBuf {
		return false
	}
	s.rq = append(s.rq, d)
	s.rqSize += len(d)
	return true
}

// SendMsg implements socket.Socket: each send is a batch of requests
// to the kernel, whose answers are queued at once.
func (s *Socket) SendMsg(ctx context.Context, src vfs.IOSequence, addr []byte, _ socket.Resolver, ctl *socket.SendControl, _ int, _ bool) (int64, error) {
	// Control messages at other levels than SOL_SOCKET are skipped, as
	// scm_send skips them.
	for _, f := range ctl.Files() {
		f.DecRef(ctx)
	}
	s.mu.Lock()
	dst := s.dstPID
	limit := s.sndBuf
	s.mu.Unlock()
	if len(addr) > 0 {
		pid, _, err := parseSockaddrNl(addr)
		if err != nil {
			return 0, err
		}
		dst = pid
	}
	if src.NumBytes() > int64(limit-32) {
		return 0, linux.EMSGSIZE
	}
	buf := make([]byte, src.NumBytes())
	if n, err := src.CopyIn(ctx, buf); n < len(buf) {
		if err == nil {
			err = linux.EFAULT
		}
		return 0, err
	}
	s.mu.Lock()
	if err := s.autobindLocked(ctx); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	portID := s.portID
	s.mu.Unlock()
	if dst != 0 {
		return int64(len(buf)), s.unicast(dst, portID, buf)
	}
	admin := auth.CredentialsFromContext(ctx).HasCapability(linux.CAP_NET_ADMIN)
	var r reply
	for b := buf; len(b) >= sizeofNlmsghdr; {
		h := parseHeader(b)
		if h.len < sizeofNlmsghdr || int(h.len) > len(b) {
			break
		}
		s.mu.Lock()
		capAck := s.capAck
		s.mu.Unlock()
		req := request{h: h, payload: b[sizeofNlmsghdr:h.len], portID: portID}
		if s.protocol == netlinkSockDiag {
			src := diagSource{host: s.hostDiag}
			if s.stack != nil {
				src.ns = s.stack
			}
			handleDiag(src, req, capAck, &r)
		} else {
			handle(s.stack, req, admin, capAck, &r)
		}
		b = b[min(align4(int(h.len)), len(b)):]
	}
	s.mu.Lock()
	for _, d := range r.dgrams {
		if !s.enqueueLocked(d) {
			break
		}
	}
	s.mu.Unlock()
	if len(r.dgrams) > 0 {
		s.queue.Notify(waiter.ReadableEvents)
	}
	return int64(len(buf)), nil
}

// unicast delivers a message to another netlink socket of the sandbox.
func (s *Socket) unicast(dst, from uint32, b []byte) error {
	p := s.ports
	p.mu.Lock()
	t := p.byID[dst]
	p.mu.Unlock()
	if t == nil {
		return linux.ECONNREFUSED
	}
	t.mu.Lock()
	ok := t.enqueueLocked(b)
	t.mu.Unlock()
	if !ok {
		return linux.EAGAIN
	}
	t.queue.Notify(waiter.ReadableEvents)
	return nil
}

// RecvMsg implements socket.Socket: one datagram per call.
func (s *Socket) RecvMsg(ctx context.Context, dst vfs.IOSequence, flags int, nonblock bool) (socket.RecvResult, error) {
	nonblock = nonblock || flags&socket.MSG_DONTWAIT != 0
	var e *waiter.Entry
	var ch <-chan struct{}
	defer func() {
		if e != nil {
			s.queue.EventUnregister(e)
		}
	}()
	for {
		s.mu.Lock()
		if len(s.rq) > 0 {
			d := s.rq[0]
			n := min(int64(len(d)), dst.NumBytes())
			if n > 0 {
				if c, err := dst.CopyOut(ctx, d[:n]); int64(c) < n {
					s.mu.Unlock()
					if err == nil {
						err = linux.EFAULT
					}
					return socket.RecvResult{}, err
				}
			}
			if flags&socket.MSG_PEEK == 0 {
				s.rq[0] = nil
				s.rq = s.rq[1:]
				s.rqSize -= len(d)
			}
			s.mu.Unlock()
			return socket.RecvResult{N: n, MsgLen: int64(len(d)), From: sockaddrNl(0, 0), Truncated: n < int64(len(d))}, nil
		}
		s.mu.Unlock()
		if nonblock {
			return socket.RecvResult{}, linux.EAGAIN
		}
		if e == nil {
			e, ch = waiter.NewChannelEntry(waiter.ReadableEvents)
			s.queue.EventRegister(e)
			continue
		}
		if err := vfs.BlockerFromContext(ctx).Block(ch); err != nil {
			return socket.RecvResult{}, err
		}
	}
}

// Read implements vfs.FileDescriptionImpl.
func (s *Socket) Read(ctx context.Context, dst vfs.IOSequence, _ int64, opts vfs.ReadOptions) (int64, error) {
	res, err := s.RecvMsg(ctx, dst, 0, opts.Nonblocking)
	return res.N, err
}

// Write implements vfs.FileDescriptionImpl.
func (s *Socket) Write(ctx context.Context, src vfs.IOSequence, _ int64, opts vfs.WriteOptions) (int64, int64, error) {
	n, err := s.SendMsg(ctx, src, nil, nil, nil, 0, opts.Nonblocking)
	return n, 0, err
}

// Readiness implements waiter.Waitable.
func (s *Socket) Readiness(mask waiter.EventMask) waiter.EventMask {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := waiter.WritableEvents
	if len(s.rq) > 0 {
		r |= waiter.ReadableEvents
	}
	return r & mask
}

// EventRegister implements waiter.Waitable.
func (s *Socket) EventRegister(w *waiter.Entry) error {
	s.queue.EventRegister(w)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (s *Socket) EventUnregister(w *waiter.Entry) { s.queue.EventUnregister(w) }

// Ioctl implements vfs.FileDescriptionImpl: FIONREAD and the interface
// requests every socket answers.
func (s *Socket) Ioctl(ctx context.Context, m vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	if cmd == linux.FIONREAD {
		s.mu.Lock()
		v := 0
		if len(s.rq) > 0 {
			v = len(s.rq[0])
		}
		s.mu.Unlock()
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(v))
		_, err := m.CopyOutBytes(ctx, arg, b[:])
		return 0, err
	}
	if s.stack == nil {
		if s.hostNet == nil {
			return 0, linux.ENOTTY
		}
		return s.hostNet.InterfaceIoctl(ctx, m, cmd, arg)
	}
	return netstack.InterfaceIoctl(ctx, s.stack, m, cmd, arg)
}

// GetSockOpt implements socket.Socket.
func (s *Socket) GetSockOpt(_ context.Context, level, name int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch level {
	case socket.SOL_SOCKET:
		switch name {
		case socket.SO_TYPE:
			return socket.Int32Bytes(int32(s.stype)), nil
		case socket.SO_DOMAIN:
			return socket.Int32Bytes(socket.AF_NETLINK), nil
		case socket.SO_PROTOCOL:
			return socket.Int32Bytes(int32(s.protocol)), nil
		case socket.SO_ERROR, socket.SO_ACCEPTCONN:
			return socket.Int32Bytes(0), nil
		case socket.SO_RCVBUF:
			return socket.Int32Bytes(int32(s.rcvBuf)), nil
		case socket.SO_SNDBUF:
			return socket.Int32Bytes(int32(s.sndBuf)), nil
		}
	case solNetlink:
		switch name {
		case netlinkCapAck:
			return socket.Int32Bytes(socket.BoolInt(s.capAck)), nil
		case netlinkExtAck:
			return socket.Int32Bytes(socket.BoolInt(s.extAck)), nil
		case netlinkGetStrictChk:
			return socket.Int32Bytes(socket.BoolInt(s.strict)), nil
		case netlinkNoENOBUFS:
			return socket.Int32Bytes(socket.BoolInt(s.noENOBUFS)), nil
		case netlinkBroadcastError:
			return socket.Int32Bytes(socket.BoolInt(s.bcastErr)), nil
		}
	}
	return nil, linux.ENOPROTOOPT
}

// SetSockOpt implements socket.Socket. Group memberships are kept, but
// no notification is ever multicast: the sandbox's tables never change.
func (s *Socket) SetSockOpt(level, name int, val []byte) error {
	if len(val) < 4 {
		return linux.EINVAL
	}
	v := int32(binary.LittleEndian.Uint32(val))
	s.mu.Lock()
	defer s.mu.Unlock()
	switch level {
	case socket.SOL_SOCKET:
		switch name {
		case socket.SO_RCVBUF:
			s.rcvBuf = max(int(min(max(v, 0), maxBuf))*2, minRcvBuf)
			return nil
		case socket.SO_SNDBUF:
			s.sndBuf = max(int(min(max(v, 0), maxBuf))*2, minSndBuf)
			return nil
		}
	case solNetlink:
		switch name {
		case netlinkAddMembership, netlinkDropMembership:
			// Groups beyond 32 exist on Linux; the bitmask here
			// keeps the ones sockaddr_nl can name.
			if v <= 0 {
				return linux.EINVAL
			}
			if v <= 32 {
				if name == netlinkAddMembership {
					s.groups |= 1 << (v - 1)
				} else {
					s.groups &^= 1 << (v - 1)
				}
			}
			return nil
		case netlinkCapAck:
			s.capAck = v != 0
			return nil
		case netlinkExtAck:
			s.extAck = v != 0
			return nil
		case netlinkGetStrictChk:
			s.strict = v != 0
			return nil
		case netlinkNoENOBUFS:
			s.noENOBUFS = v != 0
			return nil
		case netlinkBroadcastError:
			s.bcastErr = v != 0
			return nil
		}
	}
	return linux.ENOPROTOOPT
}

var _ socket.Socket = (*Socket)(nil)
