package netlink

import (
	"encoding/binary"
	"net/netip"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// NETLINK_SOCK_DIAG (sock_diag(7)): SOCK_DIAG_BY_FAMILY requests for
// AF_INET and AF_INET6 TCP and UDP sockets, answered from the same
// socket list /proc/net/{tcp,udp}{,6} shows (socket.NetStack's
// InetSockets), which is what ss reads first. Only what that list holds
// is reported: no extension attributes (INET_DIAG_INFO, MEMINFO, ...);
// uid and inode are the socket file's, as in /proc/net. AF_UNIX
// requests are unix_diag (diag_unix.go). Other families and protocols answer ENOENT,
// as Linux does when no diag module handles them, and ss falls back to
// /proc/net.

const (
	netlinkSockDiag = 4

	sockDiagByFamily = 20
	sockDestroy      = 21

	sizeofInetDiagReqV2 = 56
	sizeofInetDiagMsg   = 72

	// inetDiagReqBytecode is the request attribute carrying a filter
	// program (INET_DIAG_REQ_BYTECODE).
	inetDiagReqBytecode = 1

	ipprotoTCP = 6
	ipprotoUDP = 17
	// afMax is AF_MAX: families at or above it are EINVAL.
	afMax = 46

	// diagChunk bounds one datagram of a dump, about what Linux puts
	// in one skb, so a reader with a modest buffer gets it whole.
	diagChunk = 16384
)

// inetDiagReq is a decoded struct inet_diag_req_v2.
type inetDiagReq struct {
	family, protocol uint8
	states           uint32
	sport, dport     uint16
	src, dst         [16]byte
	ifindex          uint32
	bytecode         []byte
}

func parseInetDiagReq(p []byte) (inetDiagReq, linux.Errno) {
	if len(p) < sizeofInetDiagReqV2 {
		return inetDiagReq{}, linux.EINVAL
	}
	r := inetDiagReq{
		family:   p[0],
		protocol: p[1],
		states:   binary.LittleEndian.Uint32(p[4:]),
		sport:    binary.BigEndian.Uint16(p[8:]),
		dport:    binary.BigEndian.Uint16(p[10:]),
		ifindex:  binary.LittleEndian.Uint32(p[44:]),
	}
	copy(r.src[:], p[12:28])
	copy(r.dst[:], p[28:44])
	var bad bool
	attrs(p[sizeofInetDiagReqV2:], func(typ uint16, v []byte) {
		if typ == inetDiagReqBytecode {
			r.bytecode = v
			bad = !auditBytecode(v)
		}
	})
	if bad {
		return r, linux.EINVAL
	}
	return r, 0
}

// diagEntry is one socket as the filter sees it.
type diagEntry struct {
	family       int
	sport, dport uint16
	src, dst     [16]byte // network order; IPv4 in the first 4 bytes
}

func newDiagEntry(family int, info *socket.InetSocketInfo) diagEntry {
	e := diagEntry{family: family, sport: info.Local.Port(), dport: info.Remote.Port()}
	put := func(b *[16]byte, a netip.Addr) {
		if family == socket.AF_INET {
			a4 := a.Unmap().As4()
			copy(b[:], a4[:])
		} else {
			*b = a.As16()
		}
	}
	put(&e.src, info.Local.Addr())
	put(&e.dst, info.Remote.Addr())
	return e
}

// inetDiagMsg is the struct inet_diag_msg for one socket.
func inetDiagMsg(e *diagEntry, info *socket.InetSocketInfo, seq, pid uint32, flags uint16) []byte {
	m := newMessage(sockDiagByFamily, flags, seq, pid)
	var b [sizeofInetDiagMsg]byte
	b[0] = byte(e.family)
	b[1] = byte(info.State)
	binary.BigEndian.PutUint16(b[4:], e.sport)
	binary.BigEndian.PutUint16(b[6:], e.dport)
	copy(b[8:24], e.src[:])
	copy(b[24:40], e.dst[:])
	// idiag_if 0 (not bound to a device); the stack keeps no socket
	// cookies, so both words are INET_DIAG_NOCOOKIE.
	binary.LittleEndian.PutUint32(b[44:], ^uint32(0))
	binary.LittleEndian.PutUint32(b[48:], ^uint32(0))
	binary.LittleEndian.PutUint32(b[56:], uint32(info.RxQueue))
	binary.LittleEndian.PutUint32(b[60:], uint32(info.TxQueue))
	binary.LittleEndian.PutUint32(b[64:], info.UID)
	binary.LittleEndian.PutUint32(b[68:], uint32(info.Ino))
	m.put(b[:])
	return m.done()
}

// diagSource is where sock_diag answers come from: the sandbox's
// stack (ns, nil without one), or for --network=host the host's
// NETLINK_SOCK_DIAG (host) for AF_INET and AF_INET6. AF_UNIX sockets
// are always the sandbox's own.
type diagSource struct {
	ns   socket.NetStack
	host InetDiagForwarder
}

// handleDiag answers one NETLINK_SOCK_DIAG message.
func handleDiag(src diagSource, req request, capAck bool, r *reply) {
	h := req.h
	if h.flags&nlmFRequest == 0 || h.typ < nlmsgMinType {
		if h.flags&nlmFAck != 0 {
			r.ack(req, 0, capAck)
		}
		return
	}
	err := diag(src, req, r)
	if err != 0 || h.flags&nlmFAck != 0 && h.flags&nlmFDump != nlmFDump {
		r.ack(req, err, capAck)
	}
}

func diag(src diagSource, req request, r *reply) linux.Errno {
	ns := src.ns
	h := req.h
	if h.typ != sockDiagByFamily && h.typ != sockDestroy {
		// TCPDIAG_GETSOCK and DCCPDIAG_GETSOCK, the old inet_diag_req
		// interface, are not served; nor is anything else.
		return linux.EINVAL
	}
	if len(req.payload) < 2 {
		return linux.EINVAL
	}
	family := int(req.payload[0])
	if family >= afMax {
		return linux.EINVAL
	}
	if family != socket.AF_UNIX && family != socket.AF_INET && family != socket.AF_INET6 {
		return linux.ENOENT
	}
	if h.typ == sockDestroy {
		// Applications never abort sockets through the sandbox:
		// unix_diag has no destroy, and inet's needs CAP_NET_ADMIN
		// over the network, which the sandbox does not grant.
		if family == socket.AF_UNIX {
			return linux.EOPNOTSUPP
		}
		return linux.EPERM
	}
	if family == socket.AF_UNIX {
		return unixDiag(req, r)
	}
	if src.host != nil {
		return forwardDiag(src.host, req, r)
	}
	dr, err := parseInetDiagReq(req.payload)
	if err != 0 {
		return err
	}
	dump := h.flags&nlmFDump == nlmFDump
	var proto string
	switch dr.protocol {
	case ipprotoTCP:
		proto = "tcp"
	case ipprotoUDP:
		proto = "udp"
	default:
		if dump {
			// Linux finds the protocol's handler once the dump
			// has started, so the error ends the dump instead.
			r.dumpDone(req, linux.ENOENT)
			return 0
		}
		return linux.ENOENT
	}
	version := 4
	if family == socket.AF_INET6 {
		version = 6
	}
	var socks []socket.InetSocketInfo
	if ns != nil {
		var ok bool
		if socks, ok = ns.InetSockets(proto, version); !ok {
			// The stack cannot see its sockets (host network):
			// as if no handler served the protocol.
			if dump {
				r.dumpDone(req, linux.ENOENT)
				return 0
			}
			return linux.ENOENT
		}
	}
	var msgs [][]byte
	for i := range socks {
		info := &socks[i]
		e := newDiagEntry(family, info)
		if dump {
			if dr.states&(1<<uint(info.State)) == 0 || dr.bytecode != nil && !runBytecode(dr.bytecode, &e) {
				continue
			}
			msgs = append(msgs, inetDiagMsg(&e, info, h.seq, req.portID, nlmFMulti))
			continue
		}
		// A lookup names one socket by its ports and addresses
		// (and, when set, its device, which no socket here has).
		if e.sport == dr.sport && e.dport == dr.dport && e.src == dr.src && e.dst == dr.dst && dr.ifindex == 0 {
			r.dgrams = append(r.dgrams, inetDiagMsg(&e, info, h.seq, req.portID, 0))
			return 0
		}
	}
	if !dump {
		return linux.ENOENT
	}
	r.dumpChunked(req, msgs)
	return 0
}

// dumpChunked sends a dump's messages, several to a datagram, then
// NLMSG_DONE on its own.
func (r *reply) dumpChunked(req request, msgs [][]byte) {
	var d []byte
	for _, m := range msgs {
		if len(d) > 0 && len(d)+len(m) > diagChunk {
			r.dgrams = append(r.dgrams, d)
			d = nil
		}
		d = append(d, m...)
	}
	if len(d) > 0 {
		r.dgrams = append(r.dgrams, d)
	}
	r.dumpDone(req, 0)
}

// dumpDone ends a dump with NLMSG_DONE carrying err (0, or a Linux errno
// that stopped the dump, negated as Linux puts it there).
func (r *reply) dumpDone(req request, err linux.Errno) {
	m := newMessage(nlmsgDone, nlmFMulti, req.h.seq, req.portID)
	var st [4]byte
	binary.LittleEndian.PutUint32(st[:], uint32(-int32(err)))
	m.put(st[:])
	r.dgrams = append(r.dgrams, m.done())
}
