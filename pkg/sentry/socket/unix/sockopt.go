package unix

import (
	"context"
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

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

// GetSockOpt implements socket.Socket for the SOL_SOCKET options AF_UNIX
// sockets support so far; the rest are ENOPROTOOPT.
func (e *Endpoint) GetSockOpt(ctx context.Context, level, name int) ([]byte, error) {
	if level != socket.SOL_SOCKET {
		return nil, linux.EOPNOTSUPP
	}
	mu.Lock()
	defer mu.Unlock()
	switch name {
	case socket.SO_TYPE:
		return int32Bytes(int32(e.stype)), nil
	case socket.SO_DOMAIN:
		return int32Bytes(socket.AF_UNIX), nil
	case socket.SO_PROTOCOL:
		return int32Bytes(0), nil
	case socket.SO_ERROR:
		var v int32
		if errno, ok := e.err.(linux.Errno); ok {
			v = int32(errno)
		}
		e.err = nil
		return int32Bytes(v), nil
	case socket.SO_ACCEPTCONN:
		return int32Bytes(boolInt(e.state == listening)), nil
	case socket.SO_SNDBUF:
		return int32Bytes(int32(e.sndbuf)), nil
	case socket.SO_RCVBUF:
		return int32Bytes(int32(e.rq.limit)), nil
	case socket.SO_PEERCRED:
		return e.peerCred.ucred(ctx), nil
	}
	return nil, linux.ENOPROTOOPT
}

// SetSockOpt implements socket.Socket. Buffer sizes are doubled and
// clamped as Linux does; the receive size bounds this socket's queue.
func (e *Endpoint) SetSockOpt(level, name int, val []byte) error {
	if level != socket.SOL_SOCKET {
		return linux.EOPNOTSUPP
	}
	switch name {
	case socket.SO_SNDBUF, socket.SO_RCVBUF:
	default:
		return linux.ENOPROTOOPT
	}
	if len(val) < 4 {
		return linux.EINVAL
	}
	v := int(int32(binary.LittleEndian.Uint32(val)))
	v = max(v, 0)
	v = min(v, maxBufSize) * 2
	mu.Lock()
	defer mu.Unlock()
	if name == socket.SO_SNDBUF {
		e.sndbuf = max(v, minSndBuf)
	} else {
		e.rq.limit = max(v, minRcvBuf)
	}
	return nil
}
