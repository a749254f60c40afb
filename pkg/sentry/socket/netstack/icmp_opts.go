package netstack

import (
	"context"
	"encoding/binary"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// Option levels and names only ICMP sockets take.
const (
	solRaw = 255

	soTimestamp = 29 // SO_TIMESTAMP_OLD, also SCM_TIMESTAMP

	ipHdrIncl = 3
	ipRecvTTL = 12
	// ipTTLCmsg is the IP_TTL control message IP_RECVTTL asks for.
	ipTTLCmsg = 2

	ipv6Checksum      = 7
	ipv6RecvHopLimit  = 51
	ipv62292HopLimit  = 8 // RFC 2292's option and control message
	ipv6HopLimitCmsg  = 52
	icmpFilter        = 1 // ICMP_FILTER at SOL_RAW
	icmp6Filter       = 1 // ICMP6_FILTER at IPPROTO_ICMPV6
	sizeofICMP6Filter = 32
)

// GetSockOpt implements socket.Socket.
func (e *icmpEndpoint) GetSockOpt(_ context.Context, level, name int) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch level {
	case socket.SOL_SOCKET:
		switch name {
		case socket.SO_TYPE:
			if e.raw {
				return socket.Int32Bytes(socket.SOCK_RAW), nil
			}
			return socket.Int32Bytes(socket.SOCK_DGRAM), nil
		case socket.SO_DOMAIN:
			return socket.Int32Bytes(int32(e.family)), nil
		case socket.SO_PROTOCOL:
			return socket.Int32Bytes(e.proto()), nil
		case socket.SO_ACCEPTCONN:
			return socket.Int32Bytes(0), nil
		case socket.SO_ERROR:
			e.rmu.Lock()
			err := e.err
			e.err = nil
			e.rmu.Unlock()
			if errno, ok := err.(linux.Errno); ok {
				return socket.Int32Bytes(int32(errno)), nil
			}
			return socket.Int32Bytes(0), nil
		case soTimestamp:
			return socket.Int32Bytes(socket.BoolInt(e.timestamp)), nil
		}
		if v, ok := e.opts.getSocketOpt(name); ok {
			return v, nil
		}
		return nil, linux.ENOPROTOOPT
	case ipprotoIP:
		switch name {
		case ipRecvTTL:
			return socket.Int32Bytes(socket.BoolInt(e.recvTTL)), nil
		case ipRecvErr:
			if e.family == socket.AF_INET && !e.raw {
				return socket.Int32Bytes(socket.BoolInt(e.recvErr)), nil
			}
		case ipHdrIncl:
			if e.raw {
				return socket.Int32Bytes(0), nil
			}
			return nil, linux.ENOPROTOOPT
		}
		return e.opts.getIPOpt(e.family, level, name)
	case ipprotoIPv6:
		if e.family == socket.AF_INET6 {
			switch name {
			case ipv6RecvHopLimit:
				return socket.Int32Bytes(socket.BoolInt(e.recvHopLimit)), nil
			case ipv62292HopLimit:
				return socket.Int32Bytes(socket.BoolInt(e.recv2292HopLimit)), nil
			case ipv6RecvErr:
				if !e.raw {
					return socket.Int32Bytes(socket.BoolInt(e.recvErr)), nil
				}
			case ipv6Checksum:
				if e.raw {
					return socket.Int32Bytes(e.csumOff), nil
				}
			}
		}
		return e.opts.getIPOpt(e.family, level, name)
	case solRaw:
		if !e.raw {
			break
		}
		if e.family == socket.AF_INET && name == icmpFilter {
			return socket.Int32Bytes(int32(e.filter[0])), nil
		}
		if e.family == socket.AF_INET6 && name == ipv6Checksum {
			return socket.Int32Bytes(e.csumOff), nil
		}
		return nil, linux.ENOPROTOOPT
	case ipprotoICMPv6:
		if !e.raw || e.family != socket.AF_INET6 {
			break
		}
		if name != icmp6Filter {
			return nil, linux.ENOPROTOOPT
		}
		b := make([]byte, sizeofICMP6Filter)
		for i, w := range e.filter {
			binary.LittleEndian.PutUint32(b[4*i:], w)
		}
		return b, nil
	}
	return nil, errUnknownLevel(e.family)
}

// SetSockOpt implements socket.Socket.
func (e *icmpEndpoint) SetSockOpt(level, name int, val []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch level {
	case socket.SOL_SOCKET:
		if name == soTimestamp {
			v, err := socket.IntOpt(val)
			if err != nil {
				return err
			}
			e.timestamp = v != 0
			return nil
		}
		if ok, err := e.opts.setSocketOpt(name, val); ok {
			return err
		}
		return linux.ENOPROTOOPT
	case ipprotoIP:
		switch name {
		case ipRecvErr:
			if e.family == socket.AF_INET {
				return e.setRecvErr(val)
			}
		case ipRecvTTL:
			v, err := socket.IntOpt(val)
			if err != nil {
				return err
			}
			e.recvTTL = v != 0
			return nil
		case ipHdrIncl:
			if !e.raw {
				return linux.ENOPROTOOPT
			}
			v, err := socket.IntOpt(val)
			if err != nil {
				return err
			}
			if v != 0 {
				// Sending whole IP packets is not supported.
				return linux.ENOPROTOOPT
			}
			return nil
		}
	case ipprotoIPv6:
		if e.family == socket.AF_INET6 {
			switch name {
			case ipv6RecvErr:
				return e.setRecvErr(val)
			case ipv62292HopLimit:
				v, err := socket.IntOpt(val)
				if err != nil {
					return err
				}
				e.recv2292HopLimit = v != 0
				return nil
			case ipv6RecvHopLimit:
				v, err := socket.IntOpt(val)
				if err != nil {
					return err
				}
				e.recvHopLimit = v != 0
				return nil
			case ipv6Checksum:
				if e.raw {
					// RFC 3542 3.1: not at this level on ICMPv6
					// sockets, whose checksum is always on.
					return linux.EINVAL
				}
				return linux.ENOPROTOOPT
			}
		}
	case solRaw:
		if !e.raw {
			return linux.ENOPROTOOPT
		}
		if e.family == socket.AF_INET && name == icmpFilter {
			// raw_seticmpfilter copies up to sizeof(struct
			// icmp_filter), a short value only partly.
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], e.filter[0])
			copy(b[:], val)
			e.setFilter([8]uint32{binary.LittleEndian.Uint32(b[:])})
			return nil
		}
		if e.family == socket.AF_INET6 && name == ipv6Checksum {
			v, err := socket.IntOpt(val)
			if err != nil {
				return err
			}
			if v > 0 && v&1 != 0 {
				return linux.EINVAL
			}
			e.csumOff = max(v, -1)
			return nil
		}
		return linux.ENOPROTOOPT
	case ipprotoICMPv6:
		if !e.raw || e.family != socket.AF_INET6 {
			return linux.ENOPROTOOPT
		}
		if name != icmp6Filter {
			return linux.ENOPROTOOPT
		}
		var b [sizeofICMP6Filter]byte
		for i, w := range e.filter {
			binary.LittleEndian.PutUint32(b[4*i:], w)
		}
		copy(b[:], val)
		var f [8]uint32
		for i := range f {
			f[i] = binary.LittleEndian.Uint32(b[4*i:])
		}
		e.setFilter(f)
		return nil
	}
	return e.opts.setIPOpt(e.family, socket.SOCK_DGRAM, level, name, val, e.bound)
}

// setFilter sets the ICMP filter and its copy that input reads. Called
// with e.mu held.
func (e *icmpEndpoint) setFilter(f [8]uint32) {
	e.filter = f
	e.table.mu.Lock()
	e.filt = f
	e.table.mu.Unlock()
}

// control lays out the control messages a receive of d returns:
// SCM_TIMESTAMP, then IP_TTL or IPV6_HOPLIMIT (and its RFC 2292 twin),
// in the order Linux's
// raw and ping receives add them.
func (e *icmpEndpoint) control(d *icmpDatagram) []byte {
	e.mu.Lock()
	ts, ttl, hops := e.timestamp, e.recvTTL && e.family == socket.AF_INET, e.recvHopLimit && e.family == socket.AF_INET6
	hops2292 := e.recv2292HopLimit && e.family == socket.AF_INET6
	e.mu.Unlock()
	var b []byte
	if ts {
		b = socket.AppendCmsg(b, socket.SOL_SOCKET, soTimestamp, timevalAt(d.at))
	}
	if ttl {
		b = socket.AppendCmsg(b, ipprotoIP, ipTTLCmsg, socket.Int32Bytes(int32(d.ttl)))
	}
	if hops {
		b = socket.AppendCmsg(b, ipprotoIPv6, ipv6HopLimitCmsg, socket.Int32Bytes(int32(d.ttl)))
	}
	if hops2292 {
		b = socket.AppendCmsg(b, ipprotoIPv6, ipv62292HopLimit, socket.Int32Bytes(int32(d.ttl)))
	}
	return b
}

// timevalAt is t as a struct timeval.
func timevalAt(t time.Time) []byte {
	tv := make([]byte, socket.SizeofTimeval)
	binary.LittleEndian.PutUint64(tv, uint64(t.Unix()))
	binary.LittleEndian.PutUint64(tv[8:], uint64(t.Nanosecond()/1000))
	return tv
}

// setRecvErr is IP_RECVERR and IPV6_RECVERR, which only ping sockets
// support: turning it off empties the error queue. Called with e.mu
// held.
func (e *icmpEndpoint) setRecvErr(val []byte) error {
	if e.raw {
		// Raw sockets see ICMP errors as ordinary messages; their
		// error queue is not implemented.
		return linux.ENOPROTOOPT
	}
	v, err := socket.IntOpt(val)
	if err != nil {
		return err
	}
	e.recvErr = v != 0
	if !e.recvErr {
		e.rmu.Lock()
		e.errq = nil
		e.rmu.Unlock()
	}
	return nil
}
