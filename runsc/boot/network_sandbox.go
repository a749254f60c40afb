package boot

import (
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/socket/netlink"
	"appkernel.dev/appkernel/pkg/sentry/socket/netstack"
	"appkernel.dev/appkernel/pkg/sentry/socket/unix"
)

// registerSandboxStack registers the inet families of --network=sandbox
// and --network=none: the Sentry's own TCP/UDP sockets with the loopback
// interface, and NETLINK_ROUTE answering from the same interface table.
// Until the launcher hands over an interface (CtlAttachNetwork,
// network_link.go), both modes reach only the sandbox itself, and
// non-local destinations are ENETUNREACH.
func registerSandboxStack(k *kernel.Kernel, mode string) error {
	s := netstack.NewStack()
	k.Sockets.Register(socket.AF_INET, netstack.Provider{Stack: s, Family: socket.AF_INET})
	k.Sockets.Register(socket.AF_INET6, netstack.Provider{Stack: s, Family: socket.AF_INET6})
	k.Sockets.Register(socket.AF_NETLINK, netlink.Provider{Stack: s})
	// AF_UNIX sockets answer the interface ioctls from the same stack.
	k.Sockets.Register(socket.AF_UNIX, unix.Provider{Net: s})
	k.Sockets.SetNetStack(s)
	return nil
}
