package unix

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// SendMsg implements socket.Socket. Control messages at other levels
// than SOL_SOCKET are skipped, as scm_send skips them. EPIPE is returned
// without raising SIGPIPE; that is the caller's, unless MSG_NOSIGNAL.
func (e *Endpoint) SendMsg(ctx context.Context, src vfs.IOSequence, addr []byte, r socket.Resolver, ctl *socket.SendControl, flags int, nonblock bool) (int64, error) {
	rights := ctl.Files()
	// rights is nil once a message has taken the references.
	defer func() { dropRights(ctx, rights) }()
	nonblock = nonblock || flags&socket.MSG_DONTWAIT != 0
	if flags&socket.MSG_OOB != 0 {
		return 0, linux.EOPNOTSUPP
	}
	switch e.stype {
	case socket.SOCK_DGRAM:
		return e.sendDgram(ctx, src, addr, r, &rights, nonblock)
	case socket.SOCK_SEQPACKET:
		// Linux ignores a seqpacket destination.
		return e.sendSeqpacket(ctx, src, &rights, nonblock)
	}
	if len(addr) != 0 {
		mu.Lock()
		isConn := e.state == connected
		mu.Unlock()
		if isConn {
			return 0, linux.EISCONN
		}
		return 0, linux.EOPNOTSUPP
	}
	return e.sendStream(ctx, src, &rights, nonblock)
}

// copyInAll reads a whole message from src.
func copyInAll(ctx context.Context, src vfs.IOSequence) ([]byte, error) {
	buf := make([]byte, src.NumBytes())
	if n, err := src.CopyIn(ctx, buf); n < len(buf) {
		if err == nil {
			err = linux.EFAULT
		}
		return nil, err
	}
	return buf, nil
}

func (e *Endpoint) sendDgram(ctx context.Context, src vfs.IOSequence, addr []byte, r socket.Resolver, rights *[]*vfs.FileDescription, nonblock bool) (int64, error) {
	var t *Endpoint
	if len(addr) != 0 {
		a, err := parseAddr(addr)
		if err != nil {
			return 0, err
		}
		if a.unspec || a.empty {
			return 0, linux.EINVAL
		}
		if t, err = lookup(ctx, a, r, e.stype); err != nil {
			return 0, err
		}
	}
	mu.Lock()
	if t == nil {
		t = e.peer
	}
	limit := e.sndbuf - dgramOverhead
	dl := socket.Deadline(e.opts.SndTimeo)
	mu.Unlock()
	if t == nil {
		return 0, linux.ENOTCONN
	}
	if src.NumBytes() > int64(limit) {
		return 0, linux.EMSGSIZE
	}
	data, err := copyInAll(ctx, src)
	if err != nil {
		return 0, err
	}
	mu.Lock()
	for {
		switch {
		case t.stype != e.stype:
			mu.Unlock()
			return 0, linux.EPROTOTYPE
		case e.wrShut:
			mu.Unlock()
			return 0, linux.EPIPE
		case t.closed:
			if e.peer == t {
				e.peer = nil
			}
			mu.Unlock()
			return 0, linux.ECONNREFUSED
		case t.peer != nil && t.peer != e:
			mu.Unlock()
			return 0, linux.EPERM
		case t.rdShut:
			mu.Unlock()
			return 0, linux.EPIPE
		}
		// An empty queue takes any message, so that one larger than
		// the receiver's buffer cannot wait forever.
		if t.rq.empty() || t.rq.free() >= len(data) {
			break
		}
		if nonblock {
			mu.Unlock()
			return 0, linux.EAGAIN
		}
		if err := t.waitLocked(ctx, waiter.WritableEvents, dl); err != nil {
			return 0, err
		}
		mu.Lock()
	}
	if e.passCred && e.addr == nil {
		if err := e.autobindLocked(); err != nil {
			mu.Unlock()
			return 0, err
		}
	}
	var from []byte
	if e.addr != nil {
		from = e.addr.sockaddr()
	}
	t.rq.push(message{data: data, from: from, rights: *rights, sender: e.senderLocked(ctx, t)})
	*rights = nil
	mu.Unlock()
	t.queue.Notify(waiter.ReadableEvents)
	return int64(len(data)), nil
}

// connectedPeerLocked returns the peer a connection-oriented send goes
// to, or the error the send fails with.
func (e *Endpoint) connectedPeerLocked() (*Endpoint, error) {
	if e.state != connected {
		return nil, linux.ENOTCONN
	}
	if e.wrShut || e.peer.rdShut {
		return nil, linux.EPIPE
	}
	return e.peer, nil
}

func (e *Endpoint) sendSeqpacket(ctx context.Context, src vfs.IOSequence, rights *[]*vfs.FileDescription, nonblock bool) (int64, error) {
	mu.Lock()
	limit := e.sndbuf - dgramOverhead
	_, err := e.connectedPeerLocked()
	dl := socket.Deadline(e.opts.SndTimeo)
	mu.Unlock()
	if err != nil {
		return 0, err
	}
	if src.NumBytes() > int64(limit) {
		return 0, linux.EMSGSIZE
	}
	data, err := copyInAll(ctx, src)
	if err != nil {
		return 0, err
	}
	mu.Lock()
	for {
		p, err := e.connectedPeerLocked()
		if err != nil {
			mu.Unlock()
			return 0, err
		}
		if p.rq.empty() || p.rq.free() >= len(data) {
			p.rq.push(message{data: data, rights: *rights, sender: e.senderLocked(ctx, p)})
			*rights = nil
			mu.Unlock()
			p.queue.Notify(waiter.ReadableEvents)
			return int64(len(data)), nil
		}
		if nonblock {
			mu.Unlock()
			return 0, linux.EAGAIN
		}
		if err := p.waitLocked(ctx, waiter.WritableEvents, dl); err != nil {
			return 0, err
		}
		mu.Lock()
	}
}

// sendStream queues as much of src as the peer has room for, waiting
// for more room unless nonblock; a send cut short by EPIPE, EAGAIN or a
// signal returns what went in.
func (e *Endpoint) sendStream(ctx context.Context, src vfs.IOSequence, rights *[]*vfs.FileDescription, nonblock bool) (int64, error) {
	total := src.NumBytes()
	var done int64
	partial := func(err error) (int64, error) {
		if done > 0 {
			return done, nil
		}
		return 0, err
	}
	mu.Lock()
	dl := socket.Deadline(e.opts.SndTimeo)
	for {
		p, err := e.connectedPeerLocked()
		if err != nil {
			mu.Unlock()
			if err == linux.EPIPE && done > 0 {
				// Linux reports the bytes sent; the next send fails.
				return done, nil
			}
			return 0, err
		}
		if free := int64(p.rq.free()); free > 0 || total == 0 {
			chunk := make([]byte, min(free, total-done))
			n, cerr := src.DropFirst(done).CopyIn(ctx, chunk)
			if n > 0 {
				p.rq.push(message{data: chunk[:n], rights: *rights, sender: e.senderLocked(ctx, p)})
				*rights = nil
				done += int64(n)
			}
			mu.Unlock()
			if n > 0 {
				p.queue.Notify(waiter.ReadableEvents)
			}
			if cerr != nil || n < len(chunk) {
				if cerr == nil {
					cerr = linux.EFAULT
				}
				return partial(cerr)
			}
			if done == total {
				return done, nil
			}
			mu.Lock()
			continue
		}
		if nonblock {
			mu.Unlock()
			return partial(linux.EAGAIN)
		}
		if err := p.waitLocked(ctx, waiter.WritableEvents, dl); err != nil {
			return partial(err)
		}
		mu.Lock()
	}
}

// RecvMsg implements socket.Socket.
func (e *Endpoint) RecvMsg(ctx context.Context, dst vfs.IOSequence, flags int, nonblock bool) (socket.RecvResult, error) {
	nonblock = nonblock || flags&socket.MSG_DONTWAIT != 0
	peek := flags&socket.MSG_PEEK != 0
	if flags&socket.MSG_OOB != 0 {
		return socket.RecvResult{}, linux.EOPNOTSUPP
	}
	var res socket.RecvResult
	var wake notes
	defer func() { wake.fire() }()
	mu.Lock()
	dl := socket.Deadline(e.opts.RcvTimeo)
	for {
		switch {
		case e.stype == socket.SOCK_STREAM && e.state != connected:
			mu.Unlock()
			return res, linux.EINVAL
		case e.stype == socket.SOCK_SEQPACKET && e.state != connected:
			mu.Unlock()
			return res, linux.ENOTCONN
		}
		if !e.rq.empty() {
			if e.stype == socket.SOCK_STREAM {
				n, rights, sender, err := e.rq.readStream(ctx, dst, peek, e.passCred)
				if e.passCred && res.LeadingControl == nil {
					res.LeadingControl = scmCredentials(ctx, sender)
				}
				res.N += n
				res.Rights = rights
				res.MsgLen = res.N
				if err != nil {
					mu.Unlock()
					return res, err
				}
				dst = dst.DropFirst(n)
				if !peek {
					e.notifyWriters(&wake)
				}
				// MSG_WAITALL keeps reading until the buffer is full,
				// end of file, an error or a signal.
				if flags&socket.MSG_WAITALL == 0 || peek || dst.NumBytes() == 0 || rights != nil {
					mu.Unlock()
					return res, nil
				}
				// Let the writers in before waiting for them.
				mu.Unlock()
				wake.fire()
				wake = nil
				mu.Lock()
				continue
			}
			if e.passCred {
				res.LeadingControl = scmCredentials(ctx, e.rq.msgs[0].sender)
			}
			n, msgLen, from, rights, err := e.rq.readMessage(ctx, dst, peek)
			res.Rights = rights
			if !peek {
				e.notifyWriters(&wake)
			}
			mu.Unlock()
			res.N, res.MsgLen, res.From = n, int64(msgLen), from
			res.Truncated = n < int64(msgLen)
			return res, err
		}
		if res.N > 0 && (e.err != nil || e.rdShut || nonblock) {
			mu.Unlock()
			return res, nil
		}
		if err := e.err; err != nil && e.connOriented() {
			e.err = nil
			mu.Unlock()
			return res, err
		}
		if e.rdShut {
			mu.Unlock()
			return res, nil
		}
		if nonblock {
			mu.Unlock()
			return res, linux.EAGAIN
		}
		if err := e.waitLocked(ctx, waiter.ReadableEvents|waiter.EventRdHUp|waiter.EventHUp|waiter.EventErr, dl); err != nil {
			if res.N > 0 {
				return res, nil
			}
			return res, err
		}
		mu.Lock()
	}
}

// notifyWriters records that bytes left e's queue: senders blocked on
// e, and the peer's pollers waiting for EPOLLOUT, may go on.
func (e *Endpoint) notifyWriters(n *notes) {
	n.add(e, waiter.WritableEvents)
	n.add(e.peer, waiter.WritableEvents)
}

// senderLocked returns the credentials a message from e to its receiver
// r carries: the sender's when either end has SO_PASSCRED.
func (e *Endpoint) senderLocked(ctx context.Context, r *Endpoint) *cred {
	if e.passCred || r.passCred {
		return senderOf(ctx)
	}
	return nil
}
