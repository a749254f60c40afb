package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
)

// seccompAuditArch is seccomp_data.arch for the syscalls tasks make.
const seccompAuditArch = linux.AUDIT_ARCH_AARCH64

// seccompStrictAllowed reports whether strict mode lets syscall nr run:
// read, write, exit and rt_sigreturn.
func seccompStrictAllowed(nr uintptr) bool {
	switch nr {
	case 63, 64, 93, 139:
		return true
	}
	return false
}

// seccompRollback restores the return register to its value at syscall
// entry, as Linux does before a SECCOMP_RET_TRAP or a kill: on arm64 x0
// held the first argument.
func seccompRollback(ac *arch.Context, _ uintptr, args arch.SyscallArguments) {
	ac.SetReturn(args[0].Value)
}
