package kernel

import "appkernel.dev/appkernel/pkg/sentry/platform"

// SetSyscallPatching turns syscall patching on (the default) or off,
// before any task runs.
func (k *Kernel) SetSyscallPatching(on bool) { k.noSyscallPatch = !on }

// patchSyscallSite asks the address space to rewrite the call site of the
// system call t just trapped on, so that its next calls enter the Sentry
// without a trap (mm.PatchSyscall). A traced task is left alone: its
// tracer reads and steps through the code as written.
func (t *Task) patchSyscallSite() {
	sp, ok := t.k.Platform.(platform.SyscallPatcher)
	if !ok || t.k.noSyscallPatch || t.ptraceFlags.Load() != 0 {
		return
	}
	t.mm.PatchSyscall(uintptr(t.ac.IP()), uint64(t.ac.SyscallNo()), sp.SyscallPatchEntry())
}

// leaveTrampoline moves a thread that a signal caught inside a patched
// site's trampoline back to the site, so that the signal's handler, and a
// tracer, see the application's own code address.
func (t *Task) leaveTrampoline() {
	if t.mm == nil {
		return
	}
	if site, ok := t.mm.SiteOfTrampoline(t.ac.IP()); ok {
		t.ac.SetIP(site)
	}
}
