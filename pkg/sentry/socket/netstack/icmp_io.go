package netstack

import (
	"context"
	"encoding/binary"
	"net/netip"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// msgErrQueue is recv's MSG_ERRQUEUE (icmp_err.go).
const msgErrQueue = 0x2000

// sendDest decodes sendmsg's destination as ping_v4_sendmsg,
// ping_v6_sendmsg, raw_sendmsg and rawv6_sendmsg check it.
func (e *icmpEndpoint) sendDest(addr []byte) (netip.Addr, error) {
	if len(addr) < 2 {
		return netip.Addr{}, linux.EINVAL
	}
	fam := int(binary.LittleEndian.Uint16(addr))
	if e.family == socket.AF_INET {
		if len(addr) < sizeofSockaddrIn {
			return netip.Addr{}, linux.EINVAL
		}
		if fam != socket.AF_INET && !(e.raw && fam == socket.AF_UNSPEC) {
			return netip.Addr{}, linux.EAFNOSUPPORT
		}
		return netip.AddrFrom4([4]byte(addr[4:8])), nil
	}
	min := sizeofSockaddrIn6
	if e.raw {
		min = sin6LenRFC2133
	}
	if len(addr) < min {
		return netip.Addr{}, linux.EINVAL
	}
	if fam != socket.AF_INET6 && !(e.raw && fam == socket.AF_UNSPEC) {
		return netip.Addr{}, linux.EAFNOSUPPORT
	}
	if e.raw {
		// The port field is the protocol, if set.
		if p := binary.BigEndian.Uint16(addr[2:]); p != 0 && p != ipprotoICMPv6 {
			return netip.Addr{}, linux.EINVAL
		}
	}
	a := netip.AddrFrom16([16]byte(addr[8:24]))
	if a.Is4In6() {
		return netip.Addr{}, linux.EINVAL
	}
	return a, nil
}

// isBroadcast reports whether dst is a broadcast address of the
// sandbox's routes.
func (s *Stack) isBroadcast(dst netip.Addr) bool {
	if dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	for _, r := range s.routes {
		if r.Type == RTN_BROADCAST && r.Dst.Contains(dst) {
			return true
		}
	}
	return false
}

// SendMsg implements socket.Socket. IPPROTO_IP and IPPROTO_IPV6 control
// messages override the socket's TTL, TOS, source and interface for the
// one message, as for UDP (dgram_cmsg.go).
func (e *icmpEndpoint) SendMsg(ctx context.Context, src vfs.IOSequence, addr []byte, _ socket.Resolver, ctl *socket.SendControl, flags int, _ bool) (int64, error) {
	// SCM_RIGHTS means nothing to inet sockets: __sock_cmsg_send
	// accepts and ignores it.
	for _, f := range ctl.Files() {
		f.DecRef(ctx)
	}
	n := src.NumBytes()
	if n > 0xffff {
		return 0, linux.EMSGSIZE
	}
	if !e.raw && n < icmpHeaderLen {
		return 0, linux.EINVAL
	}
	if flags&socket.MSG_OOB != 0 {
		return 0, linux.EOPNOTSUPP
	}
	var dst netip.Addr
	if len(addr) > 0 {
		d, err := e.sendDest(addr)
		if err != nil {
			return 0, err
		}
		dst = d
	}

	e.mu.Lock()
	if err := e.autobindLocked(); err != nil {
		e.mu.Unlock()
		return 0, err
	}
	if e.wrShut {
		e.mu.Unlock()
		return 0, linux.EPIPE
	}
	if !dst.IsValid() {
		if !e.connected {
			e.mu.Unlock()
			return 0, linux.EDESTADDRREQ
		}
		dst = e.remote
	}
	dst = localDestination(dst)
	c, err := e.stack.parseSendControl(e.family, dst.Is4(), false, ctl.Messages())
	if err != nil {
		e.mu.Unlock()
		return 0, err
	}
	routeSrc, local, err := e.stack.sourceFor(dst)
	if err != nil {
		e.mu.Unlock()
		return 0, err
	}
	broadcast := dst.Is4() && e.stack.isBroadcast(dst)
	if broadcast && !e.opts.Broadcast {
		e.mu.Unlock()
		return 0, linux.EACCES
	}
	bound := anyAddr(e.family)
	if a := e.local; a.IsValid() {
		bound = a
	}
	srcAddr, _, lost, err := e.stack.applyControl(dst, routeSrc, bound, local, &c)
	if err != nil {
		e.mu.Unlock()
		return 0, err
	}
	ttl, tos := e.opts.hopsAndClass(dst, &c)
	ident, csumOff := e.ident, e.csumOff
	e.mu.Unlock()

	msg := make([]byte, n)
	if c, err := src.CopyIn(ctx, msg); c < len(msg) {
		return 0, copyErr(err)
	}
	if e.raw {
		if e.family == socket.AF_INET6 && csumOff >= 0 {
			if int(csumOff)+1 >= len(msg) {
				return 0, linux.EINVAL
			}
			setChecksumAt(srcAddr, dst, msg, int(csumOff))
		}
	} else {
		// ping_common_sendmsg: echo requests only; the kernel owns
		// the identifier and the checksum.
		want := uint8(icmpEchoRequest)
		if e.family == socket.AF_INET6 {
			want = icmpv6EchoRequest
		}
		if msg[0] != want || msg[1] != 0 {
			return 0, linux.EINVAL
		}
		binary.BigEndian.PutUint16(msg[4:], ident)
		setICMPChecksum(srcAddr, dst, msg)
	}
	if lost {
		return int64(n), nil
	}
	if local {
		e.table.input(e.stack, &icmpPacket{
			src: srcAddr, dst: dst, ttl: uint8(ttl), tos: uint8(tos),
			unicast: !broadcast, df: dst.Is4(), msg: msg,
		})
		return int64(n), nil
	}
	x, ok := e.stack.External.(ICMPExternal)
	if !ok {
		return 0, linux.ENETUNREACH
	}
	if err := x.SendICMP(srcAddr, dst, msg, uint8(ttl), uint8(tos)); err != nil {
		return 0, err
	}
	return int64(n), nil
}

// deliver queues d unless the receive buffer is full (it is then
// dropped) or reading is shut down.
func (e *icmpEndpoint) deliver(d icmpDatagram) {
	e.mu.Lock()
	limit, shut := e.opts.rcvBuf, e.rdShut
	e.mu.Unlock()
	if shut {
		return
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

// RecvMsg implements socket.Socket.
func (e *icmpEndpoint) RecvMsg(ctx context.Context, dst vfs.IOSequence, flags int, nonblock bool) (socket.RecvResult, error) {
	if flags&socket.MSG_OOB != 0 {
		return socket.RecvResult{}, linux.EOPNOTSUPP
	}
	if flags&msgErrQueue != 0 {
		return e.recvErrQueue(func(b []byte) (int64, error) {
			want := min(int64(len(b)), dst.NumBytes())
			if want > 0 {
				if n, err := dst.CopyOut(ctx, b[:want]); int64(n) < want {
					return 0, copyErr(err)
				}
			}
			return want, nil
		})
	}
	nonblock = nonblock || flags&socket.MSG_DONTWAIT != 0
	peek := flags&socket.MSG_PEEK != 0
	e.mu.Lock()
	dl := socket.Deadline(e.opts.RcvTimeo)
	e.mu.Unlock()
	var w waitEntry
	defer w.done()
	for {
		e.rmu.Lock()
		if err := e.err; err != nil {
			e.err = nil
			e.rmu.Unlock()
			return socket.RecvResult{}, err
		}
		if len(e.rq) > 0 {
			d := e.rq[0]
			want := min(int64(len(d.data)), dst.NumBytes())
			if want > 0 {
				if n, err := dst.CopyOut(ctx, d.data[:want]); int64(n) < want {
					e.rmu.Unlock()
					return socket.RecvResult{}, copyErr(err)
				}
			}
			if !peek {
				e.rq[0] = icmpDatagram{}
				e.rq = e.rq[1:]
				e.rqSize -= len(d.data) + dgramOverhead
				if len(e.rq) == 0 {
					e.rq = nil
				}
			}
			e.rmu.Unlock()
			msgLen := int64(len(d.data))
			if !e.raw {
				// ping_recvmsg returns what it copied even
				// with MSG_TRUNC; raw_recvmsg the whole length.
				msgLen = want
			}
			return socket.RecvResult{
				N:         want,
				MsgLen:    msgLen,
				From:      formatSockaddr(e.family, netip.AddrPortFrom(d.from, 0)),
				Truncated: want < int64(len(d.data)),
				Control:   e.control(&d),
			}, nil
		}
		e.rmu.Unlock()
		e.mu.Lock()
		shut := e.rdShut
		e.mu.Unlock()
		if retry, err := w.waitDatagram(ctx, &e.queue, shut, nonblock, dl); !retry {
			return socket.RecvResult{}, err
		}
	}
}

// Readiness implements waiter.Waitable, as udp_poll (datagram_poll).
func (e *icmpEndpoint) Readiness(mask waiter.EventMask) waiter.EventMask {
	e.mu.Lock()
	rd, wr := e.rdShut, e.wrShut
	e.mu.Unlock()
	e.rmu.Lock()
	queued, errPending := len(e.rq) > 0, e.err != nil || len(e.errq) > 0
	e.rmu.Unlock()
	return datagramReadiness(mask, rd, wr, queued, errPending)
}

// EventRegister implements waiter.Waitable.
func (e *icmpEndpoint) EventRegister(w *waiter.Entry) error {
	e.queue.EventRegister(w)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (e *icmpEndpoint) EventUnregister(w *waiter.Entry) { e.queue.EventUnregister(w) }

// Read implements vfs.FileDescriptionImpl.
func (e *icmpEndpoint) Read(ctx context.Context, dst vfs.IOSequence, _ int64, opts vfs.ReadOptions) (int64, error) {
	res, err := e.RecvMsg(ctx, dst, 0, opts.Nonblocking)
	return res.N, err
}

// Write implements vfs.FileDescriptionImpl.
func (e *icmpEndpoint) Write(ctx context.Context, src vfs.IOSequence, _ int64, opts vfs.WriteOptions) (int64, int64, error) {
	n, err := e.SendMsg(ctx, src, nil, nil, nil, 0, opts.Nonblocking)
	return n, 0, err
}

// Ioctl implements vfs.FileDescriptionImpl. On a raw socket SIOCINQ is
// the size of the next message and SIOCOUTQ is 0 (messages leave at
// once); ping sockets have no ioctls of their own (ENOTTY).
func (e *icmpEndpoint) Ioctl(ctx context.Context, m vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	if !e.raw {
		return InterfaceIoctl(ctx, e.stack, m, cmd, arg)
	}
	switch cmd {
	case siocInQ:
		e.rmu.Lock()
		v := 0
		if len(e.rq) > 0 {
			v = len(e.rq[0].data)
		}
		e.rmu.Unlock()
		return 0, copyOutInt(ctx, m, arg, int32(v))
	case siocOutQ:
		return 0, copyOutInt(ctx, m, arg, 0)
	}
	return InterfaceIoctl(ctx, e.stack, m, cmd, arg)
}
