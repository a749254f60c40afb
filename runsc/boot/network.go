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
	case "", "none", "sandbox", "host":
		// The inet families are not implemented yet: socket(2) on them
		// is EAFNOSUPPORT.
		return nil
	}
	return fmt.Errorf("unknown network mode %q", mode)
}
