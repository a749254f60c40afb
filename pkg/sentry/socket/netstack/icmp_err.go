package netstack

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/waiter"
)

// This file is ping_err: an ICMP error about an echo request a ping
// socket sent becomes the socket's pending error (SO_ERROR) when the
// socket is connected and the error is hard, and, with IP_RECVERR or
// IPV6_RECVERR set, an entry on its error queue, which recvmsg with
// MSG_ERRQUEUE reads (how ping prints "Destination Host Unreachable").

// Option and control message names of the error queue.
const (
	ipRecvErr   = 11 // IP_RECVERR, also its control message type
	ipv6RecvErr = 25 // IPV6_RECVERR

	soEEOriginICMP  = 2
	soEEOriginICMP6 = 3

	// sizeofSockExtendedErr is struct sock_extended_err.
	sizeofSockExtendedErr = 16
)

// ICMP error types.
const (
	icmpDestUnreach  = 3
	icmpTimeExceeded = 11
	icmpParamProb    = 12
	icmpFragNeeded   = 4 // code of icmpDestUnreach

	icmpv6DestUnreach  = 1
	icmpv6PacketTooBig = 2
	icmpv6TimeExceeded = 3
	icmpv6ParamProb    = 4
)

// icmpSockErr is one entry of a socket's error queue.
type icmpSockErr struct {
	errno     linux.Errno
	origin    uint8
	typ, code uint8
	info      uint32
	// offender sent the ICMP error; dest is where the failed echo
	// request went.
	offender, dest netip.Addr
	// payload is the quoted echo request (ICMP header and data).
	payload []byte
	at      time.Time
}

// icmpErrno is icmp_err_convert / icmpv6_err_convert: the errno of an
// ICMP error and whether it is hard (fatal for a connected socket).
func icmpErrno(v4 bool, typ, code uint8) (linux.Errno, bool, bool) {
	if v4 {
		switch typ {
		case icmpDestUnreach:
			errs := [...]linux.Errno{linux.ENETUNREACH, linux.EHOSTUNREACH, linux.ENOPROTOOPT, linux.ECONNREFUSED,
				linux.EMSGSIZE, linux.EOPNOTSUPP, linux.ENETUNREACH, linux.EHOSTDOWN, linux.ENONET,
				linux.ENETUNREACH, linux.EHOSTUNREACH, linux.ENETUNREACH, linux.EHOSTUNREACH,
				linux.EHOSTUNREACH, linux.EHOSTUNREACH, linux.EHOSTUNREACH}
			if int(code) < len(errs) {
				return errs[code], code != icmpFragNeeded, true
			}
			return linux.EHOSTUNREACH, true, true
		case icmpTimeExceeded:
			return linux.EHOSTUNREACH, false, true
		case icmpParamProb:
			return linux.EPROTO, true, true
		}
		return 0, false, false
	}
	switch typ {
	case icmpv6DestUnreach:
		switch code {
		case 0:
			return linux.ENETUNREACH, true, true
		case 1, 5, 6:
			return linux.EACCES, true, true
		case 4:
			return linux.ECONNREFUSED, true, true
		}
		return linux.EHOSTUNREACH, true, true
	case icmpv6PacketTooBig:
		return linux.EMSGSIZE, false, true
	case icmpv6TimeExceeded:
		return linux.EHOSTUNREACH, false, true
	case icmpv6ParamProb:
		return linux.EPROTO, true, true
	}
	return 0, false, false
}

// icmpError hands an ICMP error message (p.msg, checksum verified) to
// the ping socket whose echo request it quotes.
func (t *icmpTable) icmpError(p *icmpPacket) {
	v4 := p.dst.Is4()
	m := p.msg
	errno, hard, ok := icmpErrno(v4, m[0], m[1])
	if !ok {
		return
	}
	q := m[icmpHeaderLen:]
	var dest netip.Addr
	var quoted []byte
	if v4 {
		if len(q) < 20 || q[0]>>4 != 4 || q[9] != ipprotoICMP {
			return
		}
		hl := int(q[0]&0xf) * 4
		if hl < 20 || len(q) < hl+icmpHeaderLen {
			return
		}
		dest, quoted = netip.AddrFrom4([4]byte(q[16:20])), q[hl:]
		if quoted[0] != icmpEchoRequest {
			return
		}
	} else {
		if len(q) < 40+icmpHeaderLen || q[0]>>4 != 6 || q[6] != ipprotoICMPv6 {
			return
		}
		dest, quoted = netip.AddrFrom16([16]byte(q[24:40])), q[40:]
		if quoted[0] != icmpv6EchoRequest {
			return
		}
	}
	src := netip.Addr{}
	if v4 {
		src = netip.AddrFrom4([4]byte(q[12:16]))
	} else {
		src = netip.AddrFrom16([16]byte(q[8:24]))
	}
	e := t.lookupPing(v4, binary.BigEndian.Uint16(quoted[4:]), src)
	if e == nil {
		return
	}
	var info uint32
	if v4 && m[0] == icmpDestUnreach && m[1] == icmpFragNeeded {
		info = uint32(binary.BigEndian.Uint16(m[6:]))
	} else if !v4 && m[0] == icmpv6PacketTooBig {
		info = binary.BigEndian.Uint32(m[4:])
	}
	e.mu.Lock()
	recvErr, connected := e.recvErr, e.connected
	e.mu.Unlock()
	if !recvErr && (!hard || !connected) {
		return
	}
	origin := uint8(soEEOriginICMP)
	if !v4 {
		origin = soEEOriginICMP6
	}
	e.rmu.Lock()
	if recvErr {
		e.errq = append(e.errq, icmpSockErr{
			errno: errno, origin: origin, typ: m[0], code: m[1], info: info,
			offender: p.src, dest: dest, payload: bytes.Clone(quoted), at: time.Now(),
		})
	}
	e.err = errno
	e.rmu.Unlock()
	e.queue.Notify(waiter.EventErr)
}

// recvErrQueue is recvmsg with MSG_ERRQUEUE: the oldest queued error,
// its quoted echo request as data and the extended error as control
// message.
func (e *icmpEndpoint) recvErrQueue(write func([]byte) (int64, error)) (socket.RecvResult, error) {
	e.rmu.Lock()
	if len(e.errq) == 0 {
		e.rmu.Unlock()
		return socket.RecvResult{}, linux.EAGAIN
	}
	q := e.errq[0]
	e.errq = e.errq[1:]
	// sock_dequeue_err_skb: the pending error becomes the next
	// entry's, or none.
	e.err = nil
	if len(e.errq) > 0 {
		e.err = e.errq[0].errno
	} else {
		e.errq = nil
	}
	e.rmu.Unlock()
	n, err := write(q.payload)
	if err != nil {
		return socket.RecvResult{}, err
	}
	ee := make([]byte, sizeofSockExtendedErr)
	binary.LittleEndian.PutUint32(ee, uint32(q.errno))
	ee[4], ee[5], ee[6] = q.origin, q.typ, q.code
	binary.LittleEndian.PutUint32(ee[8:], q.info)
	ee = append(ee, formatSockaddr(e.family, netip.AddrPortFrom(q.offender, 0))...)
	var ctl []byte
	e.mu.Lock()
	ts := e.timestamp
	e.mu.Unlock()
	if ts {
		ctl = socket.AppendCmsg(ctl, socket.SOL_SOCKET, soTimestamp, timevalAt(q.at))
	}
	level, typ := int32(ipprotoIP), int32(ipRecvErr)
	if e.family == socket.AF_INET6 {
		level, typ = ipprotoIPv6, ipv6RecvErr
	}
	ctl = socket.AppendCmsg(ctl, level, typ, ee)
	return socket.RecvResult{
		N:         n,
		MsgLen:    int64(len(q.payload)),
		From:      formatSockaddr(e.family, netip.AddrPortFrom(q.dest, 0)),
		Truncated: n < int64(len(q.payload)),
		Control:   ctl,
	}, nil
}
