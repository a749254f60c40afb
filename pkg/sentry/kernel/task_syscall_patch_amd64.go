package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// patchedSyscallTrap reports whether a signal trap is a thread reaching
// the syscall instruction of a rewritten site (now ud2), which is that
// system call: it sets the registers as a syscall trap there would.
func (t *Task) patchedSyscallTrap(trap *platform.Trap) bool {
	if linux.Signal(trap.Info.Signo) != linux.SIGILL || !t.mm.IsPatchedSyscall(uintptr(t.ac.IP())) {
		return false
	}
	t.ac.SetIP(t.ac.IP() + 2)
	t.ac.Regs.OrigRax = t.ac.Regs.Rax
	return true
}
