package unix

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Provider creates AF_UNIX sockets; every sandbox registers it whatever
// its network mode. Net, if set, is the network stack whose interfaces
// the sockets' netdevice(7) ioctls describe, as every Linux socket
// answers them.
type Provider struct {
	Net socket.NetStack
}

var _ socket.Provider = Provider{}

// checkType maps socket(2)'s type and protocol to an AF_UNIX socket type.
func checkType(stype, protocol int) (int, error) {
	if protocol != 0 && protocol != socket.AF_UNIX {
		return 0, linux.EPROTONOSUPPORT
	}
	switch stype {
	case socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET:
		return stype, nil
	case socket.SOCK_RAW:
		// Linux makes an AF_UNIX SOCK_RAW a datagram socket.
		return socket.SOCK_DGRAM, nil
	}
	return 0, linux.ESOCKTNOSUPPORT
}

// Socket implements socket.Provider.Socket.
func (p Provider) Socket(_ context.Context, vfsObj *vfs.VirtualFilesystem, stype, protocol int, nonblock bool) (*vfs.FileDescription, error) {
	stype, err := checkType(stype, protocol)
	if err != nil {
		return nil, err
	}
	fd := New(vfsObj, stype, nonblock)
	fd.Impl().(*Endpoint).net = p.Net
	return fd, nil
}

// Pair implements socket.Provider.Pair.
func (p Provider) Pair(ctx context.Context, vfsObj *vfs.VirtualFilesystem, stype, protocol int, nonblock bool) (*vfs.FileDescription, *vfs.FileDescription, error) {
	stype, err := checkType(stype, protocol)
	if err != nil {
		return nil, nil, err
	}
	a, b := NewPair(ctx, vfsObj, stype, nonblock)
	a.Impl().(*Endpoint).net = p.Net
	b.Impl().(*Endpoint).net = p.Net
	return a, b, nil
}
