package boot

import (
	"fmt"

	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/socket"
	"appkernel.dev/appkernel/pkg/sentry/socket/unix"
)

// registerSocketFamilies gives the kernel the socket families the network
// mode offers. AF_UNIX is always there; the inet families come from the
// network stack of the mode.
func registerSocketFamilies(k *kernel.Kernel, mode string) error {
	k.Sockets.Register(socket.AF_UNIX, unix.Provider{})
	switch mode {
	case "host":
		return registerHostStack(k)
	case "", "none", "sandbox":
		return registerSandboxStack(k, mode)
	}
	return fmt.Errorf("unknown network mode %q", mode)
}
