package netstack

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// Buffer limits with Linux's default sysctls.
const (
	maxBuf    = 212992 // net.core.{r,w}mem_max
	minSndBuf = 4608   // SOCK_MIN_SNDBUF
	minRcvBuf = 2304   // SOCK_MIN_RCVBUF

	tcpDefaultRcvBuf = 131072 // net.ipv4.tcp_rmem[1]
	tcpDefaultSndBuf = 16384  // net.ipv4.tcp_wmem[1]
	udpDefaultBuf    = 212992 // net.core.{r,w}mem_default

	// tcpAutoWindow is how much a TCP receive queue holds while the
	// application has not fixed SO_RCVBUF: Linux grows the buffer
	// towards tcp_rmem[2] for bulk transfers, and a large window keeps
	// sender and receiver from waking each other up too often.
	tcpAutoWindow = 4 << 20

	defaultTTL = 64
)

// sockOpts are the options every inet socket keeps. They are guarded by
// the owning endpoint's mu.
type sockOpts struct {
	socket.Options
	// rcvBuf and sndBuf are the values SO_RCVBUF/SO_SNDBUF report;
	// rcvBufSet means the application fixed the receive buffer.
	rcvBuf, sndBuf int
	rcvBufSet      bool
	tos            int32
	// ttl and hops are -1 for the default.
	ttl, hops int32
	tclass    int32
	v6only    bool

	// TCP options.
	noDelay, cork, quickAck      bool
	keepIdle, keepIntvl, keepCnt int32
	userTimeout                  int32
	maxSeg                       int32
}

func defaultOpts(tcp bool) sockOpts {
	o := sockOpts{Options: socket.DefaultOptions(), ttl: -1, hops: -1, keepIdle: 7200, keepIntvl: 75, keepCnt: 9, quickAck: true}
	if tcp {
		o.rcvBuf, o.sndBuf = tcpDefaultRcvBuf, tcpDefaultSndBuf
	} else {
		o.rcvBuf, o.sndBuf = udpDefaultBuf, udpDefaultBuf
	}
	return o
}

// getSocketOpt answers the SOL_SOCKET options whose value is the same
// for every inet socket; ok is false for options it does not know.
func (o *sockOpts) getSocketOpt(name int) (v []byte, ok bool) {
	switch name {
	case socket.SO_RCVBUF:
		return socket.Int32Bytes(int32(o.rcvBuf)), true
	case socket.SO_SNDBUF:
		return socket.Int32Bytes(int32(o.sndBuf)), true
	}
	return o.Options.Get(name)
}

// setSocketOpt sets a SOL_SOCKET option; ok is false for options it does
// not know.
func (o *sockOpts) setSocketOpt(name int, val []byte) (ok bool, err error) {
	if name != socket.SO_RCVBUF && name != socket.SO_SNDBUF {
		return o.Options.Set(name, val)
	}
	v, err := socket.IntOpt(val)
	if err != nil {
		return true, err
	}
	if name == socket.SO_RCVBUF {
		o.rcvBuf = max(int(min(max(v, 0), maxBuf))*2, minRcvBuf)
		o.rcvBufSet = true
	} else {
		o.sndBuf = max(int(min(max(v, 0), maxBuf))*2, minSndBuf)
	}
	return true, nil
}

// errUnknownLevel is what getsockopt at a level the socket does not
// have fails with: IPv4 sockets pass it to ip_getsockopt, which says
// EOPNOTSUPP; IPv6 sockets say ENOPROTOOPT.
func errUnknownLevel(family int) error {
	if family == socket.AF_INET {
		return linux.EOPNOTSUPP
	}
	return linux.ENOPROTOOPT
}

// getIPOpt answers IPPROTO_IP and IPPROTO_IPV6 options.
func (o *sockOpts) getIPOpt(family, level, name int) ([]byte, error) {
	if level == ipprotoIPv6 && family == socket.AF_INET {
		return nil, linux.EOPNOTSUPP
	}
	switch {
	case level == ipprotoIP && name == ipTOS:
		return socket.Int32Bytes(o.tos), nil
	case level == ipprotoIP && name == ipTTL:
		if o.ttl < 0 {
			return socket.Int32Bytes(defaultTTL), nil
		}
		return socket.Int32Bytes(o.ttl), nil
	case level == ipprotoIPv6 && family == socket.AF_INET6:
		switch name {
		case ipv6V6Only:
			return socket.Int32Bytes(socket.BoolInt(o.v6only)), nil
		case ipv6UnicastHops:
			if o.hops < 0 {
				return socket.Int32Bytes(defaultTTL), nil
			}
			return socket.Int32Bytes(o.hops), nil
		case ipv6TClass:
			return socket.Int32Bytes(o.tclass), nil
		}
	}
	return nil, linux.ENOPROTOOPT
}

// setIPOpt sets IPPROTO_IP and IPPROTO_IPV6 options; bound says whether
// the socket has a local address (IPV6_V6ONLY is then fixed).
func (o *sockOpts) setIPOpt(family, stype, level, name int, val []byte, bound bool) error {
	known := level == ipprotoIP && (name == ipTOS || name == ipTTL) ||
		level == ipprotoIPv6 && family == socket.AF_INET6 && (name == ipv6V6Only || name == ipv6UnicastHops || name == ipv6TClass)
	if !known {
		return linux.ENOPROTOOPT
	}
	var v int32
	if level == ipprotoIP {
		// do_ip_setsockopt takes a byte, or nothing for 0.
		v = ipOptInt(val)
	} else {
		var err error
		if v, err = socket.IntOpt(val); err != nil {
			return err
		}
	}
	switch level<<16 | name {
	case ipprotoIP<<16 | ipTOS:
		if stype == socket.SOCK_STREAM {
			v &^= 3 // the ECN bits belong to TCP
		}
		o.tos = v & 0xff
	case ipprotoIP<<16 | ipTTL:
		if v != -1 && (v < 1 || v > 255) {
			return linux.EINVAL
		}
		o.ttl = v
	case ipprotoIPv6<<16 | ipv6V6Only:
		if bound {
			return linux.EINVAL
		}
		o.v6only = v != 0
	case ipprotoIPv6<<16 | ipv6UnicastHops:
		if v < -1 || v > 255 {
			return linux.EINVAL
		}
		o.hops = v
	case ipprotoIPv6<<16 | ipv6TClass:
		if v < -1 || v > 255 {
			return linux.EINVAL
		}
		o.tclass = max(v, 0)
	}
	return nil
}
