package hostinet

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

const (
	// streamChunk is the bounce buffer of one host send or receive on
	// a stream; larger transfers loop.
	streamChunk = 256 << 10
	// maxDgram bounds one datagram: more than any UDP payload (65535
	// minus headers) or netlink request; larger sends are EMSGSIZE
	// here, as the host would answer.
	maxDgram = 1 << 17
	// controlRoom is the host control buffer of every receive: room for
	// the few control messages the allowed options produce.
	controlRoom = 512
)

// Message flags, beyond the socket package's.
const (
	msgErrQueue = unix.MSG_ERRQUEUE
	msgConfirm  = unix.MSG_CONFIRM
)

// sendFlags are the send(2) flags passed to the host. MSG_DONTWAIT and
// MSG_NOSIGNAL are always added: the host must neither block nor signal
// the Sentry; SIGPIPE is the system call layer's.
const sendFlags = socket.MSG_OOB | socket.MSG_DONTROUTE | socket.MSG_EOR | socket.MSG_MORE | msgConfirm

// recvFlags are the recv(2) flags passed to the host; MSG_WAITALL is
// looped here and MSG_DONTWAIT always added.
const recvFlags = socket.MSG_OOB | socket.MSG_PEEK | socket.MSG_TRUNC | msgErrQueue

var bouncePool = sync.Pool{New: func() any { b := make([]byte, streamChunk); return &b }}

// buffer returns a bounce buffer of n (<= streamChunk) bytes and the
// function that gives it back.
func buffer(n int) ([]byte, func()) {
	if n < 4096 {
		return make([]byte, n), func() {}
	}
	bp := bouncePool.Get().(*[]byte)
	return (*bp)[:n], func() { bouncePool.Put(bp) }
}

// SendMsg implements socket.Socket.
func (s *Socket) SendMsg(ctx context.Context, src vfs.IOSequence, addr []byte, _ socket.Resolver, ctl *socket.SendControl, flags int, nonblock bool) (int64, error) {
	// Linux's inet and netlink sendmsg accept SCM_RIGHTS and ignore
	// it (__sock_cmsg_send); the files never reach the host.
	for _, f := range ctl.Files() {
		f.DecRef(ctx)
	}
	nonblock = nonblock || flags&socket.MSG_DONTWAIT != 0
	hflags := flags&sendFlags | socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL
	if s.stype == unix.SOCK_STREAM {
		// TCP skips control messages at other levels than
		// SOL_SOCKET; so do they here.
		return s.sendStream(ctx, src, addr, hflags, nonblock)
	}
	var control []byte
	if s.family != unix.AF_NETLINK {
		var err error
		if control, err = s.hostControl(addr, ctl.Messages()); err != nil {
			return 0, err
		}
	}
	if s.family == unix.AF_NETLINK && len(addr) > 0 {
		if err := checkNetlinkDest(addr); err != nil {
			return 0, err
		}
	}
	if src.NumBytes() > maxDgram {
		return 0, linux.EMSGSIZE
	}
	buf := make([]byte, src.NumBytes())
	if n, err := src.CopyIn(ctx, buf); n < len(buf) {
		if err == nil {
			err = linux.EFAULT
		}
		return 0, err
	}
	if s.family == unix.AF_NETLINK {
		if err := checkNetlinkRequests(buf); err != nil {
			return 0, err
		}
	}
	w := s.sleeper(ctx, waiter.WritableEvents, s.sndTimeout.Load())
	defer w.done()
	for {
		n, err := hostSendmsg(s.fd, buf, addr, control, hflags)
		if err == nil {
			return int64(n), nil
		}
		if err != linux.EAGAIN || nonblock {
			return 0, err
		}
		if err := w.wait(); err != nil {
			return 0, err
		}
	}
}

// allowedControl are the control messages of sendmsg that reach a host
// UDP socket, keyed by level and type: the per-datagram TTL, TOS,
// source and interface, which need no privilege; the host checks their
// values. Other messages at the IP, IPv6 and UDP levels are EINVAL here
// where Linux would look at them (IPv6's for an IPv6 destination, IP's
// for an IPv4 one) and skipped where it skips them.
var allowedControl = map[[2]int32]bool{
	{unix.IPPROTO_IP, unix.IP_PKTINFO}:          true,
	{unix.IPPROTO_IP, unix.IP_TTL}:              true,
	{unix.IPPROTO_IP, unix.IP_TOS}:              true,
	{unix.IPPROTO_IPV6, unix.IPV6_PKTINFO}:      true,
	{unix.IPPROTO_IPV6, unix.IPV6_2292PKTINFO}:  true,
	{unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT}:     true,
	{unix.IPPROTO_IPV6, unix.IPV6_2292HOPLIMIT}: true,
	{unix.IPPROTO_IPV6, unix.IPV6_TCLASS}:       true,
	{unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG}:     true,
	{unix.IPPROTO_UDP, unix.UDP_SEGMENT}:        true,
}

// hostControl lays out the control messages of a datagram send to addr
// (nil: the peer) for the host; nil if there are none to pass.
func (s *Socket) hostControl(addr []byte, msgs []socket.ControlMessage) ([]byte, error) {
	var b []byte
	for _, m := range msgs {
		if m.Level != unix.IPPROTO_IP && m.Level != unix.IPPROTO_IPV6 && m.Level != unix.IPPROTO_UDP {
			continue
		}
		if !allowedControl[[2]int32{m.Level, m.Type}] {
			// The level the destination's family uses (and UDP's)
			// refuses an unknown type; the other one is skipped.
			v4, known := s.v4Dest(addr)
			if m.Level == unix.IPPROTO_UDP || known && (m.Level == unix.IPPROTO_IP) == v4 {
				return nil, linux.EINVAL
			}
			continue
		}
		b = socket.AppendCmsg(b, m.Level, m.Type, m.Data)
	}
	return b, nil
}

// v4Dest reports whether a send to addr (nil: the peer) goes to an IPv4
// destination, which for an AF_INET6 socket is a v4-mapped address;
// known is false if there is no destination (the host then says
// EDESTADDRREQ).
func (s *Socket) v4Dest(addr []byte) (v4, known bool) {
	if s.family == unix.AF_INET {
		return true, true
	}
	if len(addr) == 0 {
		var err error
		if addr, err = hostName(unix.SYS_GETPEERNAME, s.fd); err != nil {
			return false, false
		}
	}
	if len(addr) < 24 || binary.LittleEndian.Uint16(addr) != unix.AF_INET6 {
		return false, false
	}
	return netip.AddrFrom16([16]byte(addr[8:24])).Is4In6(), true
}

// sendStream sends all of src unless nonblock (then what the host takes
// at once), a wait is interrupted or times out, or the host fails; a
// send cut short returns the bytes that went, except that EPIPE is
// returned with them so that SIGPIPE is raised as Linux does.
func (s *Socket) sendStream(ctx context.Context, src vfs.IOSequence, addr []byte, hflags int, nonblock bool) (int64, error) {
	total := src.NumBytes()
	buf, put := buffer(int(min(total, streamChunk)))
	defer put()
	w := s.sleeper(ctx, waiter.WritableEvents, s.sndTimeout.Load())
	defer w.done()
	var done int64
	partial := func(err error) (int64, error) {
		if done > 0 && err != linux.EPIPE {
			return done, nil
		}
		return done, err
	}
	for {
		c, cerr := src.DropFirst(done).CopyIn(ctx, buf[:min(total-done, streamChunk)])
		for off := 0; off < c || total == 0; {
			n, err := hostSendmsg(s.fd, buf[off:c], addr, nil, hflags)
			if err == nil {
				off += n
				done += int64(n)
				if total == 0 {
					return 0, nil
				}
				continue
			}
			if err != linux.EAGAIN || nonblock {
				return partial(err)
			}
			if err := w.wait(); err != nil {
				return partial(err)
			}
		}
		if done == total {
			return done, nil
		}
		if cerr != nil || c == 0 {
			if cerr == nil {
				cerr = linux.EFAULT
			}
			return partial(cerr)
		}
	}
}

// RecvMsg implements socket.Socket.
func (s *Socket) RecvMsg(ctx context.Context, dst vfs.IOSequence, flags int, nonblock bool) (socket.RecvResult, error) {
	nonblock = nonblock || flags&socket.MSG_DONTWAIT != 0
	hflags := flags&recvFlags | socket.MSG_DONTWAIT
	// The error queue never waits, on Linux either.
	nonblock = nonblock || flags&msgErrQueue != 0
	if s.stype == unix.SOCK_STREAM {
		return s.recvStream(ctx, dst, flags, hflags, nonblock)
	}
	// With MSG_TRUNC the host returns a datagram's full length, which
	// RecvResult reports whether or not the caller asked.
	hflags |= socket.MSG_TRUNC
	buf := make([]byte, min(dst.NumBytes(), maxDgram))
	control := make([]byte, controlRoom)
	w := s.sleeper(ctx, waiter.ReadableEvents, s.rcvTimeout.Load())
	defer w.done()
	for {
		r, err := hostRecvmsg(s.fd, buf, control, hflags)
		if err == nil {
			n := min(r.n, len(buf))
			res := socket.RecvResult{N: int64(n), MsgLen: int64(r.n), From: r.from, Control: r.control}
			res.Truncated = r.flags&socket.MSG_TRUNC != 0
			res.ControlTruncated = r.flags&socket.MSG_CTRUNC != 0
			if c, err := dst.CopyOut(ctx, buf[:n]); c < n {
				if err == nil {
					err = linux.EFAULT
				}
				return socket.RecvResult{}, err
			}
			return res, nil
		}
		if err != linux.EAGAIN || nonblock {
			return socket.RecvResult{}, err
		}
		if err := w.wait(); err != nil {
			return socket.RecvResult{}, err
		}
	}
}

// recvStream receives from a stream: what is there (a full bounce
// buffer is followed by another non-blocking try), or with MSG_WAITALL
// until dst is full, end of file, an error or a signal.
func (s *Socket) recvStream(ctx context.Context, dst vfs.IOSequence, flags, hflags int, nonblock bool) (socket.RecvResult, error) {
	var res socket.RecvResult
	total := dst.NumBytes()
	buf, put := buffer(int(min(total, streamChunk)))
	defer put()
	control := make([]byte, controlRoom)
	waitAll := flags&socket.MSG_WAITALL != 0 && flags&(socket.MSG_PEEK|socket.MSG_TRUNC|msgErrQueue) == 0
	w := s.sleeper(ctx, waiter.ReadableEvents|waiter.EventRdHUp, s.rcvTimeout.Load())
	defer w.done()
	for {
		want := buf[:min(total-res.N, streamChunk)]
		r, err := hostRecvmsg(s.fd, want, control, hflags)
		if err == nil {
			n := min(r.n, len(want))
			if flags&socket.MSG_TRUNC != 0 {
				// TCP discards the bytes instead of copying them.
				n = 0
				res.N += int64(r.n)
			} else if n > 0 {
				c, cerr := dst.DropFirst(res.N).CopyOut(ctx, want[:n])
				res.N += int64(c)
				if c < n {
					if res.N > 0 {
						break
					}
					if cerr == nil {
						cerr = linux.EFAULT
					}
					return res, cerr
				}
			}
			if len(r.control) > 0 {
				res.Control = r.control
				res.ControlTruncated = r.flags&socket.MSG_CTRUNC != 0
			}
			res.From = r.from
			// The urgent byte's receive reports itself, and a buffer
			// too small for it, as on the host.
			res.OOB = r.flags&socket.MSG_OOB != 0
			res.Truncated = res.OOB && r.flags&socket.MSG_TRUNC != 0
			if r.n == 0 || res.N == total || flags&(socket.MSG_PEEK|socket.MSG_OOB|msgErrQueue|socket.MSG_TRUNC) != 0 {
				break
			}
			// A full buffer may have left more behind: take it
			// without waiting, so one recv gets what one Linux
			// recv would.
			if n == len(want) || waitAll {
				if waitAll && n < len(want) && s.atUrgentMark() {
					// Linux's MSG_WAITALL stops there too.
					break
				}
				if n == len(want) && !waitAll {
					hflags |= socket.MSG_DONTWAIT
					nonblock = true
				}
				continue
			}
			break
		}
		if res.N > 0 && (err != linux.EAGAIN || nonblock) {
			break
		}
		if err != linux.EAGAIN || nonblock {
			return res, err
		}
		if werr := w.wait(); werr != nil {
			if res.N > 0 {
				break
			}
			return res, werr
		}
	}
	res.MsgLen = res.N
	return res, nil
}
