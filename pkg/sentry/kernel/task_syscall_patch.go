package kernel

import "appkernel.dev/appkernel/pkg/sentry/platform"

// patchSyscallSite asks the address space to rewrite the call site of the
// system call t just trapped on, so that its next calls enter the Sentry
// without a trap (mm.PatchSyscall). A traced task is left alone: its
// tracer reads and steps through the code as written.
func (t *Task) patchSyscallSite() {
	sp, ok := t.k.Platform.(platform.SyscallPatcher)
	if !ok || t.ptraceFlags.Load() != 0 {
		return
	}
	t.mm.PatchSyscall(uintptr(t.ac.IP()), uint64(t.ac.SyscallNo()), sp.SyscallPatchEntry())
}
