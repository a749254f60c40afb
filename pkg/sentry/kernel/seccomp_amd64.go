package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
)

// seccompAuditArch is seccomp_data.arch for the syscalls tasks make.
const seccompAuditArch = linux.AUDIT_ARCH_X86_64

// seccompStrictAllowed reports whether strict mode lets syscall nr run:
// read, write, exit and rt_sigreturn.
func seccompStrictAllowed(nr uintptr) bool {
	switch nr {
	case 0, 1, 60, 15:
		return true
	}
	return false
}

// seccompRollback restores the return register to its value at syscall
// entry, as Linux does before a SECCOMP_RET_TRAP or a kill: on x86-64 rax
// held the syscall number.
func seccompRollback(ac *arch.Context, nr uintptr, _ arch.SyscallArguments) {
	ac.SetReturn(nr)
}
