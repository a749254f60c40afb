package boot

import "appkernel.dev/appkernel/pkg/sentry/kernel"

// registerSandboxStack registers the inet families of --network=sandbox
// and --network=none. Not implemented yet: socket(2) on them is
// EAFNOSUPPORT.
func registerSandboxStack(k *kernel.Kernel, mode string) error { return nil }
