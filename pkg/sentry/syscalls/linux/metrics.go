package linux

import "appkernel.dev/appkernel/pkg/sentry/kernel"

// The per-syscall metrics take their label values (the syscall names)
// from the table, at initialisation, before the registry is frozen.
func init() {
	kernel.RegisterSyscallMetrics(Table)
}
