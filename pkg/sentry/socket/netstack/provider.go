package netstack

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Provider creates the TCP and UDP sockets of one address family
// (AF_INET or AF_INET6) on a Stack.
type Provider struct {
	Stack  *Stack
	Family int
}

var _ socket.Provider = Provider{}

// Socket implements socket.Provider.
func (p Provider) Socket(ctx context.Context, vfsObj *vfs.VirtualFilesystem, stype, protocol int, nonblock bool) (*vfs.FileDescription, error) {
	switch stype {
	case socket.SOCK_STREAM:
		if protocol != 0 && protocol != ipprotoTCP {
			return nil, linux.EPROTONOSUPPORT
		}
		return newFD(ctx, vfsObj, newTCP(p.Stack, vfsObj, p.Family), nonblock), nil
	case socket.SOCK_DGRAM:
		if protocol == p.icmpProtocol() {
			return newICMPFD(ctx, p.Stack, vfsObj, p.Family, false, nonblock) // icmp.go
		}
		if protocol != 0 && protocol != ipprotoUDP {
			return nil, linux.EPROTONOSUPPORT
		}
		return newFD(ctx, vfsObj, newUDP(p.Stack, vfsObj, p.Family), nonblock), nil
	case socket.SOCK_RAW:
		// Raw sockets need CAP_NET_RAW; only ICMP (ICMPv6 for
		// AF_INET6) ones exist (icmp.go).
		if protocol == 0 {
			return nil, linux.EPROTONOSUPPORT
		}
		if !auth.CredentialsFromContext(ctx).HasCapability(linux.CAP_NET_RAW) {
			return nil, linux.EPERM
		}
		if protocol == p.icmpProtocol() {
			return newICMPFD(ctx, p.Stack, vfsObj, p.Family, true, nonblock)
		}
		return nil, linux.EPROTONOSUPPORT
	}
	return nil, linux.ESOCKTNOSUPPORT
}

// Pair implements socket.Provider: inet sockets have no socketpair.
func (Provider) Pair(context.Context, *vfs.VirtualFilesystem, int, int, bool) (*vfs.FileDescription, *vfs.FileDescription, error) {
	return nil, nil, linux.EOPNOTSUPP
}
