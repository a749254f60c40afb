package boot

import (
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/socket/hostinet"
	"appkernel.dev/appkernel/pkg/sentry/socket/unix"
)

// registerHostStack registers the inet families of --network=host: each
// AF_INET, AF_INET6 and AF_NETLINK (NETLINK_ROUTE) socket is a host
// socket in the sandbox process's network namespace (pkg/sentry/socket/
// hostinet). The seccomp filter allows the matching host calls only in
// this mode (filter.Options.HostNetwork).
func registerHostStack(k *kernel.Kernel) error {
	k.Sockets.Register(socket.AF_INET, hostinet.InetProvider{Family: socket.AF_INET})
	k.Sockets.Register(socket.AF_INET6, hostinet.InetProvider{Family: socket.AF_INET6})
	k.Sockets.Register(socket.AF_NETLINK, hostinet.NetlinkProvider{})
	// AF_UNIX sockets answer the interface ioctls from the host's.
	k.Sockets.Register(socket.AF_UNIX, unix.Provider{Net: hostinet.NetStack{}})
	k.Sockets.SetNetStack(hostinet.NetStack{})
	return nil
}
