package kernel

import "appkernel.dev/appkernel/pkg/sentry/platform"

// patchedSyscallTrap reports false: arm64 has no rewritten call sites.
func (t *Task) patchedSyscallTrap(*platform.Trap) bool { return false }
