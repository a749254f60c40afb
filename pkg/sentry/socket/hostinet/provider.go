package hostinet

import (
	"context"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/socket/netlink"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// InetProvider creates host-backed sockets of one inet family.
type InetProvider struct {
	// Family is AF_INET or AF_INET6.
	Family int
}

var _ socket.Provider = InetProvider{}

// inetProtocol checks socket(2)'s type and protocol for an inet family
// and returns the protocol to ask the host for.
func inetProtocol(stype, protocol int) (int, error) {
	// Linux's inet_create: a protocol number outside IPPROTO_MAX is
	// EINVAL, before anything else; then the type must exist
	// (ESOCKTNOSUPPORT) and have the protocol (EPROTONOSUPPORT).
	if protocol < 0 || protocol >= ipprotoMax {
		return 0, linux.EINVAL
	}
	switch stype {
	case unix.SOCK_STREAM:
		if protocol == 0 || protocol == unix.IPPROTO_TCP {
			return protocol, nil
		}
	case unix.SOCK_DGRAM:
		if protocol == 0 || protocol == unix.IPPROTO_UDP {
			return protocol, nil
		}
	case unix.SOCK_RAW:
		// See the package doc: never a raw host socket. Without
		// CAP_NET_RAW this is Linux's answer too.
		return 0, linux.EPERM
	default:
		return 0, linux.ESOCKTNOSUPPORT
	}
	return 0, linux.EPROTONOSUPPORT
}

// ipprotoMax is IPPROTO_MAX (263 since IPPROTO_MPTCP, 262).
const ipprotoMax = 263

// Socket implements socket.Provider.
func (p InetProvider) Socket(ctx context.Context, vfsObj *vfs.VirtualFilesystem, stype, protocol int, nonblock bool) (*vfs.FileDescription, error) {
	protocol, err := inetProtocol(stype, protocol)
	if err != nil {
		return nil, err
	}
	fd, err := hostSocket(p.Family, stype, protocol)
	if err != nil {
		return nil, err
	}
	return newFD(vfsObj, fd, p.Family, stype, nonblock)
}

// Pair implements socket.Provider: inet has no socketpair.
func (InetProvider) Pair(context.Context, *vfs.VirtualFilesystem, int, int, bool) (*vfs.FileDescription, *vfs.FileDescription, error) {
	return nil, nil, linux.EOPNOTSUPP
}

// NetlinkProvider creates host-backed AF_NETLINK sockets of protocol
// NETLINK_ROUTE, and NETLINK_SOCK_DIAG sockets that list the host's
// inet sockets and the sandbox's AF_UNIX ones (diag.go).
type NetlinkProvider struct{}

var _ socket.Provider = NetlinkProvider{}

// Socket implements socket.Provider.
func (NetlinkProvider) Socket(ctx context.Context, vfsObj *vfs.VirtualFilesystem, stype, protocol int, nonblock bool) (*vfs.FileDescription, error) {
	if stype != unix.SOCK_RAW && stype != unix.SOCK_DGRAM {
		return nil, linux.ESOCKTNOSUPPORT
	}
	if protocol == unix.NETLINK_SOCK_DIAG {
		return netlink.Provider{HostDiag: DiagForwarder{}, HostNet: NetStack{}}.Socket(ctx, vfsObj, stype, protocol, nonblock)
	}
	if protocol != unix.NETLINK_ROUTE {
		return nil, linux.EPROTONOSUPPORT
	}
	fd, err := hostSocket(unix.AF_NETLINK, stype, protocol)
	if err != nil {
		return nil, err
	}
	return newFD(vfsObj, fd, unix.AF_NETLINK, stype, nonblock)
}

// Pair implements socket.Provider: netlink has no socketpair.
func (NetlinkProvider) Pair(context.Context, *vfs.VirtualFilesystem, int, int, bool) (*vfs.FileDescription, *vfs.FileDescription, error) {
	return nil, nil, linux.EOPNOTSUPP
}
