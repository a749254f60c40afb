package hostinet

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket/netlink"
)

// NETLINK_SOCK_DIAG for --network=host: the sandbox's TCP and UDP
// sockets are host sockets, so ss inside the sandbox lists them (and
// the rest of the host network namespace's, as on the host) through a
// host NETLINK_SOCK_DIAG socket. Only SOCK_DIAG_BY_FAMILY requests for
// AF_INET and AF_INET6 go there, one at a time on a fresh socket;
// everything else, AF_UNIX included, is the sandbox's netlink package's.

const (
	sockDiagByFamily = 20
	nlmsgError       = 2
	nlmsgDone        = 3
	nlmFDump         = 0x300
	// diagRecvBuf holds one part of a host dump (Linux fills at most
	// 32 KiB per part for a reader this size).
	diagRecvBuf = 64 << 10
	// diagPatience bounds the wait for a part the host has not queued
	// yet: Linux queues the next part of a dump as the previous one is
	// read, so an empty queue is not expected.
	diagPatience = time.Second
)

// DiagForwarder implements netlink.InetDiagForwarder over the host's
// NETLINK_SOCK_DIAG.
type DiagForwarder struct{}

var _ netlink.InetDiagForwarder = DiagForwarder{}

// ForwardInetDiag implements netlink.InetDiagForwarder.
func (DiagForwarder) ForwardInetDiag(msg []byte) ([][]byte, error) {
	le := binary.LittleEndian
	if len(msg) < sizeNlmsghdr+2 || int(le.Uint32(msg)) != len(msg) || le.Uint16(msg[4:]) != sockDiagByFamily {
		return nil, linux.EINVAL
	}
	if f := msg[sizeNlmsghdr]; f != unix.AF_INET && f != unix.AF_INET6 {
		return nil, linux.EINVAL
	}
	dump := le.Uint16(msg[6:])&nlmFDump == nlmFDump
	fd, err := hostSocket(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, err
	}
	defer hostClose(fd)
	kernel := make([]byte, sizeSockaddrN)
	le.PutUint16(kernel, unix.AF_NETLINK)
	if _, err := hostSendmsg(fd, msg, kernel, nil, 0); err != nil {
		return nil, err
	}
	var out [][]byte
	deadline := time.Now().Add(diagPatience)
	buf := make([]byte, diagRecvBuf)
	for {
		r, err := hostRecvmsg(fd, buf, nil, unix.MSG_TRUNC)
		if err == linux.EAGAIN && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			return nil, err
		}
		if r.n > len(buf) {
			return nil, linux.EIO
		}
		d := append([]byte(nil), buf[:r.n]...)
		end, errno := diagAnswerEnds(d, dump)
		if errno != 0 {
			return nil, errno
		}
		out = append(out, d)
		if end {
			return out, nil
		}
	}
}

// diagAnswerEnds reports whether datagram d ends the answer: a lookup's
// answer is one datagram, a dump's ends with NLMSG_DONE. An NLMSG_ERROR
// is the host refusing the request.
func diagAnswerEnds(d []byte, dump bool) (bool, linux.Errno) {
	le := binary.LittleEndian
	for b := d; len(b) >= sizeNlmsghdr; {
		l := int(le.Uint32(b))
		if l < sizeNlmsghdr || l > len(b) {
			return true, linux.EIO
		}
		switch le.Uint16(b[4:]) {
		case nlmsgError:
			if l >= sizeNlmsghdr+4 {
				if e := -int32(le.Uint32(b[sizeNlmsghdr:])); e > 0 {
					return true, linux.Errno(e)
				}
			}
			return true, 0
		case nlmsgDone:
			return true, 0
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return !dump, 0
}
