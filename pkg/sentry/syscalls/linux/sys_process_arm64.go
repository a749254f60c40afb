package linux

import "appkernel.dev/appkernel/pkg/sentry/arch"

// cloneArgs decodes clone(2)'s arguments in arm64's order (the generic
// CONFIG_CLONE_BACKWARDS one): flags, stack, parent_tid, tls, child_tid.
func cloneArgs(args arch.SyscallArguments) (flags uint64, stack, parentTID, childTID, tls uintptr) {
	return uint64(args[0].Uint()), args[1].Pointer(), args[2].Pointer(), args[4].Pointer(), args[3].Pointer()
}
