package netstack

import (
	"encoding/binary"
	"time"

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
	reuseAddr, reusePort bool
	keepAlive            bool
	broadcast, oobInline bool
	linger               bool
	lingerSecs           int32
	priority             int32
	rcvLowat             int32
	// rcvBuf and sndBuf are the values SO_RCVBUF/SO_SNDBUF report;
	// rcvBufSet means the application fixed the receive buffer.
	rcvBuf, sndBuf int
	rcvBufSet      bool
	rcvTimeo       time.Duration
	sndTimeo       time.Duration
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
	o := sockOpts{rcvLowat: 1, ttl: -1, hops: -1, keepIdle: 7200, keepIntvl: 75, keepCnt: 9, quickAck: true}
	if tcp {
		o.rcvBuf, o.sndBuf = tcpDefaultRcvBuf, tcpDefaultSndBuf
	} else {
		o.rcvBuf, o.sndBuf = udpDefaultBuf, udpDefaultBuf
	}
	return o
}

func int32Bytes(v int32) []byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	return b[:]
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// optInt decodes an integer option value: Linux needs at least an int.
func optInt(val []byte) (int32, error) {
	if len(val) < 4 {
		return 0, linux.EINVAL
	}
	return int32(binary.LittleEndian.Uint32(val)), nil
}

func timevalBytes(d time.Duration) []byte {
	b := make([]byte, sizeofTimeval)
	binary.LittleEndian.PutUint64(b, uint64(d/time.Second))
	binary.LittleEndian.PutUint64(b[8:], uint64(d%time.Second/time.Microsecond))
	return b
}

// parseTimeval decodes SO_RCVTIMEO/SO_SNDTIMEO as sock_set_timeout
// does: zero is "no timeout", a negative time an immediate one.
func parseTimeval(val []byte) (time.Duration, error) {
	if len(val) < sizeofTimeval {
		return 0, linux.EINVAL
	}
	sec := int64(binary.LittleEndian.Uint64(val))
	usec := int64(binary.LittleEndian.Uint64(val[8:]))
	if usec < 0 || usec >= 1000000 {
		return 0, linux.EDOM
	}
	if sec < 0 {
		return time.Nanosecond, nil
	}
	if sec > int64(time.Duration(1<<62)/time.Second) {
		return 0, nil
	}
	return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, nil
}

// getSocketOpt answers the SOL_SOCKET options whose value is the same
// for every inet socket; ok is false for options it does not know.
func (o *sockOpts) getSocketOpt(name int) (v []byte, ok bool) {
	switch name {
	case soReuseAddr:
		return int32Bytes(boolInt(o.reuseAddr)), true
	case soReusePort:
		return int32Bytes(boolInt(o.reusePort)), true
	case soKeepAlive:
		return int32Bytes(boolInt(o.keepAlive)), true
	case soBroadcast:
		return int32Bytes(boolInt(o.broadcast)), true
	case soOOBInline:
		return int32Bytes(boolInt(o.oobInline)), true
	case soPriority:
		return int32Bytes(o.priority), true
	case soRcvLowat:
		return int32Bytes(o.rcvLowat), true
	case soSndLowat:
		return int32Bytes(1), true
	case socket.SO_RCVBUF:
		return int32Bytes(int32(o.rcvBuf)), true
	case socket.SO_SNDBUF:
		return int32Bytes(int32(o.sndBuf)), true
	case soLinger:
		b := make([]byte, sizeofLinger)
		binary.LittleEndian.PutUint32(b, uint32(boolInt(o.linger)))
		binary.LittleEndian.PutUint32(b[4:], uint32(o.lingerSecs))
		return b, true
	case soRcvTimeo:
		return timevalBytes(o.rcvTimeo), true
	case soSndTimeo:
		return timevalBytes(o.sndTimeo), true
	}
	return nil, false
}

// setSocketOpt sets a SOL_SOCKET option; ok is false for options it does
// not know.
func (o *sockOpts) setSocketOpt(name int, val []byte) (ok bool, err error) {
	switch name {
	case soLinger:
		if len(val) < sizeofLinger {
			return true, linux.EINVAL
		}
		o.linger = binary.LittleEndian.Uint32(val) != 0
		o.lingerSecs = max(int32(binary.LittleEndian.Uint32(val[4:])), 0)
		return true, nil
	case soRcvTimeo, soSndTimeo:
		d, err := parseTimeval(val)
		if err != nil {
			return true, err
		}
		if name == soRcvTimeo {
			o.rcvTimeo = d
		} else {
			o.sndTimeo = d
		}
		return true, nil
	}
	switch name {
	case soReuseAddr, soReusePort, soKeepAlive, soBroadcast, soOOBInline, soPriority,
		soRcvLowat, soSndLowat, socket.SO_RCVBUF, socket.SO_SNDBUF:
	default:
		return false, nil
	}
	v, err := optInt(val)
	if err != nil {
		return true, err
	}
	switch name {
	case soReuseAddr:
		o.reuseAddr = v != 0
	case soReusePort:
		o.reusePort = v != 0
	case soKeepAlive:
		o.keepAlive = v != 0
	case soBroadcast:
		o.broadcast = v != 0
	case soOOBInline:
		o.oobInline = v != 0
	case soPriority:
		// Values above 6 need CAP_NET_ADMIN on Linux; the sandbox's
		// network has no queueing disciplines to give them meaning.
		if v < 0 || v > 6 {
			return true, linux.EPERM
		}
		o.priority = v
	case soRcvLowat:
		o.rcvLowat = max(v, 1)
	case soSndLowat:
		// Linux refuses to change SO_SNDLOWAT.
		return true, linux.ENOPROTOOPT
	case socket.SO_RCVBUF:
		o.rcvBuf = max(int(min(max(v, 0), maxBuf))*2, minRcvBuf)
		o.rcvBufSet = true
	case socket.SO_SNDBUF:
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
		return int32Bytes(o.tos), nil
	case level == ipprotoIP && name == ipTTL:
		if o.ttl < 0 {
			return int32Bytes(defaultTTL), nil
		}
		return int32Bytes(o.ttl), nil
	case level == ipprotoIPv6 && family == socket.AF_INET6:
		switch name {
		case ipv6V6Only:
			return int32Bytes(boolInt(o.v6only)), nil
		case ipv6UnicastHops:
			if o.hops < 0 {
				return int32Bytes(defaultTTL), nil
			}
			return int32Bytes(o.hops), nil
		case ipv6TClass:
			return int32Bytes(o.tclass), nil
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
	v, err := optInt(val)
	if err != nil {
		return err
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
