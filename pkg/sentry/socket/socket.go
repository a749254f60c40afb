// Package socket holds what every socket family shares: the operations
// the socket system calls perform on a socket file description, and the
// socket ABI constants (address families, types, message flags, option
// names) those calls decode.
package socket

import (
	"context"

	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Address families.
const (
	AF_UNSPEC  = 0
	AF_UNIX    = 1
	AF_INET    = 2
	AF_INET6   = 10
	AF_NETLINK = 16
)

// Socket types and the flags socket(2) accepts alongside them.
const (
	SOCK_STREAM    = 1
	SOCK_DGRAM     = 2
	SOCK_RAW       = 3
	SOCK_SEQPACKET = 5
	SOCK_TYPE_MASK = 0xf
	SOCK_NONBLOCK  = 0o4000
	SOCK_CLOEXEC   = 0o2000000
)

// Message flags of send(2) and recv(2).
const (
	MSG_OOB          = 0x1
	MSG_PEEK         = 0x2
	MSG_DONTROUTE    = 0x4
	MSG_CTRUNC       = 0x8
	MSG_TRUNC        = 0x20
	MSG_DONTWAIT     = 0x40
	MSG_EOR          = 0x80
	MSG_WAITALL      = 0x100
	MSG_NOSIGNAL     = 0x4000
	MSG_MORE         = 0x8000
	MSG_CMSG_CLOEXEC = 0x40000000
)

// shutdown(2) directions.
const (
	SHUT_RD   = 0
	SHUT_WR   = 1
	SHUT_RDWR = 2
)

// Socket option levels and SOL_SOCKET option names.
const (
	SOL_SOCKET = 1

	SO_TYPE       = 3
	SO_ERROR      = 4
	SO_SNDBUF     = 7
	SO_RCVBUF     = 8
	SO_PASSCRED   = 16
	SO_PEERCRED   = 17
	SO_ACCEPTCONN = 30
	SO_PROTOCOL   = 38
	SO_DOMAIN     = 39
)

// RecvResult is what a receive returns besides the error.
type RecvResult struct {
	// N is the bytes copied to the caller; MsgLen is the message's full
	// length (they differ for a truncated datagram, which MSG_TRUNC
	// reports).
	N, MsgLen int64
	// From is the sender's address, nil if unknown or unbound.
	From []byte
	// Truncated reports a datagram longer than the buffer (and a
	// MSG_OOB receive into an empty one).
	Truncated bool
	// OOB reports that a MSG_OOB receive returned TCP's out-of-band
	// byte: recvmsg's msg_flags has MSG_OOB.
	OOB bool
	// Rights are the file descriptions passed with SCM_RIGHTS; the
	// caller owns these references.
	Rights []*vfs.FileDescription
	// LeadingControl holds control messages that go before any
	// SCM_RIGHTS message (SCM_CREDENTIALS), laid out as Control is.
	LeadingControl []byte
	// Control holds further control messages, already laid out as
	// recvmsg(2) returns them (struct cmsghdr, aligned), that go after
	// any SCM_RIGHTS message: e.g. IP_PKTINFO from a host socket.
	// ControlTruncated reports that the family already cut them short
	// (MSG_CTRUNC).
	Control          []byte
	ControlTruncated bool
}

// SendControl is what sendmsg(2)'s control messages carry to a socket.
// The system call layer decodes the SOL_SOCKET ones itself; messages at
// other levels go to the family as they are, which interprets them as
// its protocols do (UDP: IP_TTL, IPV6_PKTINFO, ...) or, as Linux's
// AF_UNIX, netlink and TCP sockets do, skips them.
type SendControl struct {
	// Rights are the files of the SCM_RIGHTS messages, with references.
	Rights []*vfs.FileDescription
	// Msgs are the messages at levels other than SOL_SOCKET, in order.
	Msgs []ControlMessage
}

// ControlMessage is one control message: its level, type and data
// (cmsg_len minus the header, without the padding).
type ControlMessage struct {
	Level, Type int32
	Data        []byte
}

// Files returns c's SCM_RIGHTS files; c may be nil.
func (c *SendControl) Files() []*vfs.FileDescription {
	if c == nil {
		return nil
	}
	return c.Rights
}

// Messages returns c's messages at levels other than SOL_SOCKET; c may
// be nil.
func (c *SendControl) Messages() []ControlMessage {
	if c == nil {
		return nil
	}
	return c.Msgs
}

// Socket is implemented by the vfs.FileDescriptionImpl of every socket.
// Addresses are the raw sockaddr bytes the application passed or gets
// back; errors are Linux errno values.
type Socket interface {
	Bind(ctx context.Context, addr []byte, r Resolver) error
	Listen(ctx context.Context, backlog int) error
	// Accept returns a new file description (O_NONBLOCK if
	// newNonblock) for the next pending connection, waiting for one
	// unless nonblock.
	Accept(ctx context.Context, nonblock, newNonblock bool) (*vfs.FileDescription, error)
	Connect(ctx context.Context, addr []byte, r Resolver, nonblock bool) error
	SockName() []byte
	PeerName() ([]byte, error)
	// SendMsg sends src to addr (nil: the connected peer) with the
	// control messages in ctl (nil: none): its SCM_RIGHTS files are
	// attached to the first byte sent, and SendMsg consumes their
	// references whatever the outcome.
	SendMsg(ctx context.Context, src vfs.IOSequence, addr []byte, r Resolver, ctl *SendControl, flags int, nonblock bool) (int64, error)
	RecvMsg(ctx context.Context, dst vfs.IOSequence, flags int, nonblock bool) (RecvResult, error)
	Shutdown(how int) error
	// GetSockOpt returns the option's value (at most optlen bytes are
	// then copied out by the caller).
	GetSockOpt(ctx context.Context, level, name int) ([]byte, error)
	SetSockOpt(level, name int, val []byte) error
}

// Resolver gives a socket family access to the caller's file-system
// view (root, working directory, credentials, umask), for families
// whose names are paths.
type Resolver interface {
	// MakeSocketNode creates an S_IFSOCK file at path (EEXIST if the
	// name is taken) and returns it with a reference.
	MakeSocketNode(ctx context.Context, path string) (vfs.VirtualDentry, error)
	// LookupSocketNode returns what path names, following symlinks,
	// with a reference.
	LookupSocketNode(ctx context.Context, path string) (vfs.VirtualDentry, error)
}
