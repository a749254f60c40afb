package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// patchedSiteTrap handles a signal trap that a rewritten call site
// explains (mm.PatchedTrap): it reports whether the trap is done with,
// and whether it was a system call, with the registers set as a syscall
// trap there would leave them.
func (t *Task) patchedSiteTrap(trap *platform.Trap) (handled, syscall bool) {
	sig := linux.Signal(trap.Info.Signo)
	if sig != linux.SIGILL && sig != linux.SIGTRAP || t.mm == nil {
		return false, false
	}
	what, ip := t.mm.PatchedTrap(t.ac.IP(), sig == linux.SIGTRAP)
	switch what {
	case mm.PatchTrapSyscall:
		t.ac.SetIP(ip)
		t.ac.Regs.OrigRax = t.ac.Regs.Rax
		return true, true
	case mm.PatchTrapRetry:
		t.ac.SetIP(ip)
		return true, false
	}
	return false, false
}
