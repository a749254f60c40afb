package unix

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// message is one send's worth of data. Stream sockets merge messages on
// read; datagram and seqpacket sockets keep their boundaries.
type message struct {
	data []byte
	// from is the sender's bound address, nil if it had none.
	from []byte
	// rights are SCM_RIGHTS file descriptions in flight, each holding a
	// reference until received or discarded.
	rights []*vfs.FileDescription
	// sender is who sent it, if either end had SO_PASSCRED then.
	sender *cred
}

// takeRights returns m's rights: the queue's own references when
// consuming, new ones when peeking.
func (m *message) takeRights(peek bool) []*vfs.FileDescription {
	r := m.rights
	if peek {
		for _, f := range r {
			f.IncRef()
		}
		return r[:len(r):len(r)]
	}
	m.rights = nil
	return r
}

// drain empties the queue and returns the rights it held.
func (q *msgQueue) drain() []*vfs.FileDescription {
	var r []*vfs.FileDescription
	for _, m := range q.msgs {
		r = append(r, m.rights...)
	}
	q.msgs, q.bytes = nil, 0
	return r
}

// msgQueue is a socket's receive queue, bounded in bytes. It is guarded
// by the package mutex mu.
type msgQueue struct {
	msgs  []message
	bytes int
	limit int
}

func (q *msgQueue) empty() bool { return len(q.msgs) == 0 }

func (q *msgQueue) free() int { return max(q.limit-q.bytes, 0) }

// push appends a message.
func (q *msgQueue) push(m message) {
	q.msgs = append(q.msgs, m)
	q.bytes += len(m.data)
}

// readStream copies queued bytes, across message boundaries, into dst
// (consuming them unless peek). As on Linux, the read stops after the
// first message that carries rights, which it returns, and with
// bySender before a message from another sender than the first, whose
// credentials it returns.
func (q *msgQueue) readStream(ctx context.Context, dst vfs.IOSequence, peek, bySender bool) (int64, []*vfs.FileDescription, *cred, error) {
	var done int64
	var rights []*vfs.FileDescription
	sender := q.msgs[0].sender
	i, off := 0, 0
	for i < len(q.msgs) && dst.NumBytes() > 0 && rights == nil {
		if bySender && !sameSender(q.msgs[i].sender, sender) {
			break
		}
		if len(q.msgs[i].rights) > 0 {
			rights = q.msgs[i].takeRights(peek)
		}
		m := q.msgs[i].data[off:]
		n, err := dst.CopyOut(ctx, m[:min(int64(len(m)), dst.NumBytes())])
		done += int64(n)
		dst = dst.DropFirst(int64(n))
		off += n
		if off == len(q.msgs[i].data) {
			i, off = i+1, 0
		}
		if err != nil || n == 0 {
			if err == nil {
				err = linux.EFAULT
			}
			if done == 0 {
				return 0, rights, sender, err
			}
			break
		}
	}
	if !peek {
		q.consume(int(done))
	}
	return done, rights, sender, nil
}

// consume drops the first n bytes of a stream queue.
func (q *msgQueue) consume(n int) {
	q.bytes -= n
	for n > 0 {
		if l := len(q.msgs[0].data); l <= n {
			n -= l
			q.msgs[0] = message{}
			q.msgs = q.msgs[1:]
			continue
		}
		q.msgs[0].data = q.msgs[0].data[n:]
		n = 0
	}
	if len(q.msgs) == 0 {
		q.msgs = nil
	}
}

// readMessage copies the first message into dst, discarding what does
// not fit, and removes it unless peek. It reports the message's length
// and sender.
func (q *msgQueue) readMessage(ctx context.Context, dst vfs.IOSequence, peek bool) (n int64, msgLen int, from []byte, rights []*vfs.FileDescription, err error) {
	m := q.msgs[0]
	want := min(int64(len(m.data)), dst.NumBytes())
	if want > 0 {
		c, cerr := dst.CopyOut(ctx, m.data[:want])
		if int64(c) < want {
			if cerr == nil {
				cerr = linux.EFAULT
			}
			return 0, 0, nil, nil, cerr
		}
	}
	rights = q.msgs[0].takeRights(peek)
	if !peek {
		q.msgs[0] = message{}
		q.msgs = q.msgs[1:]
		q.bytes -= len(m.data)
		if len(q.msgs) == 0 {
			q.msgs = nil
		}
	}
	return want, len(m.data), m.from, rights, nil
}
