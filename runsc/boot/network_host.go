package boot

import "appkernel.dev/appkernel/pkg/sentry/kernel"

// registerHostStack registers the inet families of --network=host.
// Not implemented yet: socket(2) on them is EAFNOSUPPORT.
func registerHostStack(k *kernel.Kernel) error { return nil }
