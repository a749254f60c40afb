package unix

import (
	"context"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// The per-address requests (SIOCGIFADDR, SIOCGIFDSTADDR,
// SIOCGIFBRDADDR, SIOCGIFNETMASK) belong to the inet families: Linux
// answers them ENOTTY on other sockets.
const (
	siocGIfAddr    = 0x8915
	siocGIfDstAddr = 0x8917
	siocGIfBrdAddr = 0x8919
	siocGIfNetmask = 0x891b
)

// interfaceIoctl passes the requests an AF_UNIX socket does not answer
// itself to the network stack: Linux's sock_ioctl handles SIOCGIFCONF
// and the device SIOCGIF* queries for sockets of every family, and
// static glibc's if_nametoindex asks an AF_UNIX socket.
func (e *Endpoint) interfaceIoctl(ctx context.Context, m vfs.UserMemory, cmd uint32, arg uint64) (uint64, error) {
	switch cmd {
	case siocGIfAddr, siocGIfDstAddr, siocGIfBrdAddr, siocGIfNetmask:
		return 0, linux.ENOTTY
	}
	if e.net == nil {
		return 0, linux.ENOTTY
	}
	return e.net.InterfaceIoctl(ctx, m, cmd, arg)
}
