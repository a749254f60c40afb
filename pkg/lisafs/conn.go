package lisafs

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// errBadDatagram ends a connection whose peer sent something that cannot
// be a message (see the package comment).
var errBadDatagram = errors.New("lisafs: malformed datagram")

// conn moves whole messages, with descriptors, over a SEQPACKET socket.
// Going through net.UnixConn parks blocked readers in the Go netpoller
// instead of pinning an OS thread per connection; it is safe for
// concurrent senders, and each send is one sendmsg, so messages never
// interleave.
type conn struct {
	uc *net.UnixConn
}

// newConn takes ownership of sock, which must be an AF_UNIX SOCK_SEQPACKET
// socket.
func newConn(sock *os.File) (*conn, error) {
	defer sock.Close() // FileConn dups it.
	typ, err := unix.GetsockoptInt(int(sock.Fd()), unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, fmt.Errorf("lisafs: socket fd %d: %w", sock.Fd(), err)
	}
	if typ != unix.SOCK_SEQPACKET {
		return nil, fmt.Errorf("lisafs: socket fd %d is type %d, want SOCK_SEQPACKET", sock.Fd(), typ)
	}
	c, err := net.FileConn(sock)
	if err != nil {
		return nil, fmt.Errorf("lisafs: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("lisafs: socket is a %T, want a unix socket", c)
	}
	return &conn{uc: uc}, nil
}

// send writes one message, donating fds with it.
func (c *conn) send(msg []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, oobn, err := c.uc.WriteMsgUnix(msg, oob, nil)
	if err != nil {
		return err
	}
	if n != len(msg) || oobn != len(oob) {
		return fmt.Errorf("lisafs: short send %d/%d", n, len(msg))
	}
	return nil
}

// oobSize is the control buffer a receiver needs for MaxFDsPerMessage.
var oobSize = unix.CmsgSpace(MaxFDsPerMessage * 4)

// recv reads one message into buf, which must have room for
// MaxMessageSize+1 bytes so that an oversized datagram shows as
// truncated. Received descriptors are close-on-exec (Go asks for
// MSG_CMSG_CLOEXEC). On error no descriptor is left open.
func (c *conn) recv(buf, oob []byte) (Header, []byte, []int, error) {
	var h Header
	n, oobn, flags, _, err := c.uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return h, nil, nil, err
	}
	fds, ferr := parseRights(oob[:oobn])
	if ferr != nil || flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || n > MaxMessageSize || n < HeaderSize {
		closeAll(fds)
		if n == 0 {
			return h, nil, nil, errClosedByPeer
		}
		return h, nil, nil, errBadDatagram
	}
	h.get(buf)
	if int(h.Size) != n {
		closeAll(fds)
		return h, nil, nil, errBadDatagram
	}
	return h, buf[HeaderSize:n], fds, nil
}

// errClosedByPeer is a zero-length read: the other end closed.
var errClosedByPeer = errors.New("lisafs: connection closed by peer")

func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	var bad error
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			bad = err
			continue
		}
		fds = append(fds, got...)
	}
	return fds, bad
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func (c *conn) close() error { return c.uc.Close() }

// Socketpair returns the two ends of a new connection: give client to
// NewClient and server to Server.Serve (usually in another process).
func Socketpair() (client, server *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("lisafs: socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "lisafs-client"), os.NewFile(uintptr(fds[1]), "lisafs-server"), nil
}
