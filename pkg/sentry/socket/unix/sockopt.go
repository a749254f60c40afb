package unix

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
)

// GetSockOpt implements socket.Socket: AF_UNIX sockets have only
// SOL_SOCKET options. SO_PEERSEC is ENOPROTOOPT, as on Linux without a
// security module.
func (e *Endpoint) GetSockOpt(ctx context.Context, level, name int) ([]byte, error) {
	if level != socket.SOL_SOCKET {
		return nil, linux.EOPNOTSUPP
	}
	mu.Lock()
	defer mu.Unlock()
	switch name {
	case socket.SO_TYPE:
		return socket.Int32Bytes(int32(e.stype)), nil
	case socket.SO_DOMAIN:
		return socket.Int32Bytes(socket.AF_UNIX), nil
	case socket.SO_PROTOCOL:
		return socket.Int32Bytes(0), nil
	case socket.SO_ERROR:
		var v int32
		if errno, ok := e.err.(linux.Errno); ok {
			v = int32(errno)
		}
		e.err = nil
		return socket.Int32Bytes(v), nil
	case socket.SO_ACCEPTCONN:
		return socket.Int32Bytes(socket.BoolInt(e.state == listening)), nil
	case socket.SO_SNDBUF:
		return socket.Int32Bytes(int32(e.sndbuf)), nil
	case socket.SO_RCVBUF:
		return socket.Int32Bytes(int32(e.rq.limit)), nil
	case socket.SO_PEERCRED:
		return e.peerCred.ucred(ctx), nil
	case socket.SO_PASSCRED:
		return socket.Int32Bytes(socket.BoolInt(e.passCred)), nil
	}
	if v, ok := e.opts.Get(name); ok {
		return v, nil
	}
	return nil, linux.ENOPROTOOPT
}

// SetSockOpt implements socket.Socket. Buffer sizes are doubled and
// clamped as Linux does; the receive size bounds this socket's queue.
func (e *Endpoint) SetSockOpt(level, name int, val []byte) error {
	if level != socket.SOL_SOCKET {
		return linux.EOPNOTSUPP
	}
	mu.Lock()
	defer mu.Unlock()
	switch name {
	case socket.SO_SNDBUF, socket.SO_RCVBUF, socket.SO_PASSCRED, socket.SO_REUSEPORT:
		v, err := socket.IntOpt(val)
		if err != nil {
			return err
		}
		switch name {
		case socket.SO_PASSCRED:
			e.passCred = v != 0
		case socket.SO_REUSEPORT:
			// Linux takes SO_REUSEPORT on inet sockets only.
			if v != 0 {
				return linux.EOPNOTSUPP
			}
		case socket.SO_SNDBUF:
			e.sndbuf = max(min(max(int(v), 0), maxBufSize)*2, minSndBuf)
		default:
			e.rq.limit = max(min(max(int(v), 0), maxBufSize)*2, minRcvBuf)
		}
		return nil
	}
	if ok, err := e.opts.Set(name, val); ok {
		return err
	}
	return linux.ENOPROTOOPT
}
