package socket

import (
	"encoding/binary"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// SOL_SOCKET options beyond those socket.go names.
const (
	SO_REUSEADDR = 2
	SO_DONTROUTE = 5
	SO_BROADCAST = 6
	SO_KEEPALIVE = 9
	SO_OOBINLINE = 10
	SO_PRIORITY  = 12
	SO_LINGER    = 13
	SO_REUSEPORT = 15
	SO_RCVLOWAT  = 18
	SO_SNDLOWAT  = 19
	SO_RCVTIMEO  = 20
	SO_SNDTIMEO  = 21

	// SCM_CREDENTIALS is the control message of SO_PASSCRED.
	SCM_CREDENTIALS = 2

	SizeofTimeval = 16
	SizeofLinger  = 8
	SizeofUcred   = 12
	// SizeofCmsghdr is struct cmsghdr on 64-bit Linux.
	SizeofCmsghdr = 16
)

// AppendCmsg appends one control message (struct cmsghdr and data) to b,
// padded to 8 bytes, as recvmsg lays them out.
func AppendCmsg(b []byte, level, typ int32, data []byte) []byte {
	var h [SizeofCmsghdr]byte
	binary.LittleEndian.PutUint64(h[:], uint64(SizeofCmsghdr+len(data)))
	binary.LittleEndian.PutUint32(h[8:], uint32(level))
	binary.LittleEndian.PutUint32(h[12:], uint32(typ))
	b = append(b, h[:]...)
	b = append(b, data...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// Int32Bytes encodes an int option value.
func Int32Bytes(v int32) []byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	return b[:]
}

// BoolInt is a boolean option's int value.
func BoolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// IntOpt decodes an integer option value: Linux needs at least an int.
func IntOpt(val []byte) (int32, error) {
	if len(val) < 4 {
		return 0, linux.EINVAL
	}
	return int32(binary.LittleEndian.Uint32(val)), nil
}

// TimevalBytes encodes a socket timeout as struct timeval; zero is none.
func TimevalBytes(d time.Duration) []byte {
	b := make([]byte, SizeofTimeval)
	binary.LittleEndian.PutUint64(b, uint64(d/time.Second))
	binary.LittleEndian.PutUint64(b[8:], uint64(d%time.Second/time.Microsecond))
	return b
}

// ParseTimeval decodes SO_RCVTIMEO/SO_SNDTIMEO as Linux's
// sock_set_timeout does: a short value is EINVAL, microseconds outside
// [0, 1e6) EDOM, zero (or a time too large to count) "no timeout", and
// a negative time an immediate one, which is 1ns here.
func ParseTimeval(val []byte) (time.Duration, error) {
	if len(val) < SizeofTimeval {
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

// Options are the SOL_SOCKET options Linux keeps in struct sock for every
// family (sk_setsockopt). Buffer sizes are each family's own. The owner
// guards them with its lock.
type Options struct {
	ReuseAddr, ReusePort bool
	KeepAlive            bool
	Broadcast, OOBInline bool
	DontRoute            bool
	Linger               bool
	LingerSecs           int32
	Priority             int32
	RcvLowat             int32
	// RcvTimeo and SndTimeo bound blocking receives and sends; zero is
	// none.
	RcvTimeo, SndTimeo time.Duration
}

// DefaultOptions are a new socket's options.
func DefaultOptions() Options { return Options{RcvLowat: 1} }

// Get answers a SOL_SOCKET option o keeps; ok is false for others.
func (o *Options) Get(name int) (v []byte, ok bool) {
	switch name {
	case SO_REUSEADDR:
		return Int32Bytes(BoolInt(o.ReuseAddr)), true
	case SO_REUSEPORT:
		return Int32Bytes(BoolInt(o.ReusePort)), true
	case SO_KEEPALIVE:
		return Int32Bytes(BoolInt(o.KeepAlive)), true
	case SO_BROADCAST:
		return Int32Bytes(BoolInt(o.Broadcast)), true
	case SO_OOBINLINE:
		return Int32Bytes(BoolInt(o.OOBInline)), true
	case SO_DONTROUTE:
		return Int32Bytes(BoolInt(o.DontRoute)), true
	case SO_PRIORITY:
		return Int32Bytes(o.Priority), true
	case SO_RCVLOWAT:
		return Int32Bytes(o.RcvLowat), true
	case SO_SNDLOWAT:
		return Int32Bytes(1), true
	case SO_LINGER:
		b := make([]byte, SizeofLinger)
		binary.LittleEndian.PutUint32(b, uint32(BoolInt(o.Linger)))
		binary.LittleEndian.PutUint32(b[4:], uint32(o.LingerSecs))
		return b, true
	case SO_RCVTIMEO:
		return TimevalBytes(o.RcvTimeo), true
	case SO_SNDTIMEO:
		return TimevalBytes(o.SndTimeo), true
	}
	return nil, false
}

// Set sets a SOL_SOCKET option o keeps; ok is false for others.
func (o *Options) Set(name int, val []byte) (ok bool, err error) {
	switch name {
	case SO_LINGER:
		if len(val) < SizeofLinger {
			return true, linux.EINVAL
		}
		o.Linger = binary.LittleEndian.Uint32(val) != 0
		o.LingerSecs = max(int32(binary.LittleEndian.Uint32(val[4:])), 0)
		return true, nil
	case SO_RCVTIMEO, SO_SNDTIMEO:
		d, err := ParseTimeval(val)
		if err != nil {
			return true, err
		}
		if name == SO_RCVTIMEO {
			o.RcvTimeo = d
		} else {
			o.SndTimeo = d
		}
		return true, nil
	case SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_BROADCAST, SO_OOBINLINE, SO_DONTROUTE,
		SO_PRIORITY, SO_RCVLOWAT, SO_SNDLOWAT:
	default:
		return false, nil
	}
	v, err := IntOpt(val)
	if err != nil {
		return true, err
	}
	switch name {
	case SO_REUSEADDR:
		o.ReuseAddr = v != 0
	case SO_REUSEPORT:
		o.ReusePort = v != 0
	case SO_KEEPALIVE:
		o.KeepAlive = v != 0
	case SO_BROADCAST:
		o.Broadcast = v != 0
	case SO_OOBINLINE:
		o.OOBInline = v != 0
	case SO_DONTROUTE:
		o.DontRoute = v != 0
	case SO_PRIORITY:
		// Values above 6 need CAP_NET_ADMIN on Linux; the sandbox's
		// network has no queueing disciplines to give them meaning.
		if v < 0 || v > 6 {
			return true, linux.EPERM
		}
		o.Priority = v
	case SO_RCVLOWAT:
		o.RcvLowat = max(v, 1)
	case SO_SNDLOWAT:
		// Linux refuses to change SO_SNDLOWAT.
		return true, linux.ENOPROTOOPT
	}
	return true, nil
}
