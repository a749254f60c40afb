package netstack

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// RecvMsg implements socket.Socket.
func (e *udpEndpoint) RecvMsg(ctx context.Context, dst vfs.IOSequence, flags int, nonblock bool) (socket.RecvResult, error) {
	if flags&socket.MSG_OOB != 0 {
		return socket.RecvResult{}, linux.EOPNOTSUPP
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
		// A pending error comes first, as __skb_try_recv_datagram
		// checks it before the queue.
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
				e.rq[0] = datagram{}
				e.rq = e.rq[1:]
				e.rqSize -= len(d.data) + dgramOverhead
				if len(e.rq) == 0 {
					e.rq = nil
				}
			}
			e.rmu.Unlock()
			e.mu.Lock()
			ctl := e.rx.control(e.family, &d.at)
			e.mu.Unlock()
			return socket.RecvResult{
				N:         want,
				MsgLen:    int64(len(d.data)),
				From:      formatSockaddr(e.family, d.from),
				Truncated: want < int64(len(d.data)),
				Control:   ctl,
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

// Readiness implements waiter.Waitable, after udp_poll.
func (e *udpEndpoint) Readiness(mask waiter.EventMask) waiter.EventMask {
	e.mu.Lock()
	rd, wr := e.rdShut, e.wrShut
	e.mu.Unlock()
	e.rmu.Lock()
	queued, errPending := len(e.rq) > 0, e.err != nil
	e.rmu.Unlock()
	return datagramReadiness(mask, rd, wr, queued, errPending)
}

// EventRegister implements waiter.Waitable.
func (e *udpEndpoint) EventRegister(w *waiter.Entry) error {
	e.queue.EventRegister(w)
	return nil
}

// EventUnregister implements waiter.Waitable.
func (e *udpEndpoint) EventUnregister(w *waiter.Entry) { e.queue.EventUnregister(w) }

// Read implements vfs.FileDescriptionImpl.
func (e *udpEndpoint) Read(ctx context.Context, dst vfs.IOSequence, _ int64, opts vfs.ReadOptions) (int64, error) {
	res, err := e.RecvMsg(ctx, dst, 0, opts.Nonblocking)
	return res.N, err
}

// Write implements vfs.FileDescriptionImpl.
func (e *udpEndpoint) Write(ctx context.Context, src vfs.IOSequence, _ int64, opts vfs.WriteOptions) (int64, int64, error) {
	n, err := e.SendMsg(ctx, src, nil, nil, nil, 0, opts.Nonblocking)
	return n, 0, err
}

// GetSockOpt implements socket.Socket.
func (e *udpEndpoint) GetSockOpt(_ context.Context, level, name int) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch level {
	case socket.SOL_SOCKET:
		switch name {
		case socket.SO_TYPE:
			return socket.Int32Bytes(socket.SOCK_DGRAM), nil
		case socket.SO_DOMAIN:
			return socket.Int32Bytes(int32(e.family)), nil
		case socket.SO_PROTOCOL:
			return socket.Int32Bytes(ipprotoUDP), nil
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
		}
		if v, ok := e.rx.getSocket(name); ok {
			return v, nil
		}
		if v, ok := e.opts.getSocketOpt(name); ok {
			return v, nil
		}
		return nil, linux.ENOPROTOOPT
	case ipprotoUDP:
		// UDP_CORK, UDP_SEGMENT and the encapsulation options are
		// not implemented.
		return nil, linux.ENOPROTOOPT
	case ipprotoIP, ipprotoIPv6:
		if v, ok := e.rx.getIP(e.family, level, name); ok {
			return v, nil
		}
		return e.opts.getIPOpt(e.family, level, name)
	}
	return nil, errUnknownLevel(e.family)
}

// SetSockOpt implements socket.Socket.
func (e *udpEndpoint) SetSockOpt(level, name int, val []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch level {
	case socket.SOL_SOCKET:
		if ok, err := e.rx.setSocket(name, val); ok {
			return err
		}
		if ok, err := e.opts.setSocketOpt(name, val); ok {
			if err == nil && (name == socket.SO_REUSEADDR || name == socket.SO_REUSEPORT) {
				e.stack.setReuse(e.bind, &e.opts)
			}
			return err
		}
	case ipprotoIP, ipprotoIPv6:
		if ok, err := e.rx.setIP(e.family, level, name, val); ok {
			return err
		}
		return e.opts.setIPOpt(e.family, socket.SOCK_DGRAM, level, name, val, e.bind != nil)
	}
	return linux.ENOPROTOOPT
}

var _ socket.Socket = (*udpEndpoint)(nil)
