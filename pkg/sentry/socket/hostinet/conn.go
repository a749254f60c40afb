package hostinet

import (
	"context"
	"encoding/binary"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/pkg/waiter"
)

// unprivilegedPortStart is net.ipv4.ip_unprivileged_port_start's
// default: lower ports need CAP_NET_BIND_SERVICE.
const unprivilegedPortStart = 1024

// inetPort returns the port of an AF_INET or AF_INET6 address, or false
// if addr is not one (the host then reports the error).
func inetPort(addr []byte) (uint16, bool) {
	if len(addr) < 4 {
		return 0, false
	}
	switch binary.LittleEndian.Uint16(addr) {
	case unix.AF_INET, unix.AF_INET6:
		return binary.BigEndian.Uint16(addr[2:]), true
	}
	return 0, false
}

// Bind implements socket.Socket.
func (s *Socket) Bind(ctx context.Context, addr []byte, _ socket.Resolver) error {
	// Netlink sockets may take any port id and multicast groups: Linux
	// lets every process subscribe to NETLINK_ROUTE's groups.
	if port, ok := inetPort(addr); ok && s.family != unix.AF_NETLINK && port != 0 && port < unprivilegedPortStart {
		// The Sentry may hold the host capability; the application
		// must hold the sandbox's.
		if !auth.CredentialsFromContext(ctx).HasCapability(linux.CAP_NET_BIND_SERVICE) {
			return linux.EACCES
		}
	}
	return addrCall(unix.SYS_BIND, s.fd, addr)
}

// Listen implements socket.Socket.
func (s *Socket) Listen(_ context.Context, backlog int) error {
	return hostListen(s.fd, backlog)
}

// Accept implements socket.Socket: the host accepts, the new host
// socket gets its own Socket.
func (s *Socket) Accept(ctx context.Context, nonblock, newNonblock bool) (*vfs.FileDescription, error) {
	w := s.sleeper(ctx, waiter.ReadableEvents, s.rcvTimeout.Load())
	defer w.done()
	for {
		nfd, err := hostAccept(s.fd)
		if err == nil {
			return newFD(s.vfsObj, nfd, s.family, s.stype, newNonblock)
		}
		if err != linux.EAGAIN || nonblock {
			return nil, err
		}
		if err := w.wait(); err != nil {
			return nil, err
		}
	}
}

// Connect implements socket.Socket. A blocking connect waits for the
// host's handshake and reports its outcome (SO_ERROR); SO_SNDTIMEO
// running out leaves it in progress (EINPROGRESS), as on Linux, and so
// does a signal: the restarted call then finds it under way (EALREADY
// from the host) and keeps waiting.
func (s *Socket) Connect(ctx context.Context, addr []byte, _ socket.Resolver, nonblock bool) error {
	if s.family == unix.AF_NETLINK {
		if err := checkNetlinkDest(addr); err != nil {
			return err
		}
	}
	err := addrCall(unix.SYS_CONNECT, s.fd, addr)
	if s.stype != unix.SOCK_STREAM || nonblock {
		return err
	}
	if err != linux.EINPROGRESS && err != linux.EALREADY {
		return err
	}
	w := s.sleeper(ctx, waiter.WritableEvents, s.sndTimeout.Load())
	defer w.done()
	for {
		if err := w.wait(); err != nil {
			if err == linux.EAGAIN {
				return linux.EINPROGRESS
			}
			return err
		}
		// Writable, an error or a hang-up means the handshake is over.
		if s.Readiness(waiter.WritableEvents)&(waiter.WritableEvents|waiter.EventErr|waiter.EventHUp) == 0 {
			continue
		}
		var v [4]byte
		if _, err := hostGetsockopt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR, v[:]); err != nil {
			return err
		}
		if e := binary.LittleEndian.Uint32(v[:]); e != 0 {
			return linux.Errno(e)
		}
		return nil
	}
}

// SockName implements socket.Socket.
func (s *Socket) SockName() []byte {
	b, err := hostName(unix.SYS_GETSOCKNAME, s.fd)
	if err != nil {
		return nil
	}
	return b
}

// PeerName implements socket.Socket.
func (s *Socket) PeerName() ([]byte, error) {
	return hostName(unix.SYS_GETPEERNAME, s.fd)
}

// Shutdown implements socket.Socket.
func (s *Socket) Shutdown(how int) error {
	return hostShutdown(s.fd, how)
}
