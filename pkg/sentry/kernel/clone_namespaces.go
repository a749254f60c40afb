package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// What clone(2) answers for namespace flags, in Linux's order: the flag
// combinations it never accepts are EINVAL, then every namespace but a
// user namespace needs CAP_SYS_ADMIN (EPERM), and only then does it matter
// whether that kind of namespace exists. The sandbox makes new IPC
// namespaces only; for the others Clone fails with EINVAL, as a Linux
// built without them (CONFIG_NET_NS=n, ...) does, so an unprivileged
// caller sees the same EPERM as on Linux and a privileged one a clean,
// documented error instead of a namespace that is not one.

// capNamespaceFlags are the namespaces whose creation needs CAP_SYS_ADMIN
// (in the caller's user namespace, unless CLONE_NEWUSER makes a new one).
const capNamespaceFlags = linux.CLONE_NEWNS | linux.CLONE_NEWUTS | linux.CLONE_NEWIPC |
	linux.CLONE_NEWPID | linux.CLONE_NEWNET | linux.CLONE_NEWCGROUP | linux.CLONE_NEWTIME

// CheckNamespaceFlags returns the error Linux gives t for namespace flags
// before it tries to make them: EINVAL for impossible combinations, EPERM
// without CAP_SYS_ADMIN. unshare(2) can use it for the same answers.
func (t *Task) CheckNamespaceFlags(f uint64) error {
	if f&(linux.CLONE_NEWNS|linux.CLONE_FS) == linux.CLONE_NEWNS|linux.CLONE_FS ||
		f&(linux.CLONE_NEWUSER|linux.CLONE_FS) == linux.CLONE_NEWUSER|linux.CLONE_FS {
		return linux.EINVAL
	}
	if f&linux.CLONE_THREAD != 0 && f&(linux.CLONE_NEWUSER|linux.CLONE_NEWPID) != 0 {
		return linux.EINVAL
	}
	if f&capNamespaceFlags != 0 && f&linux.CLONE_NEWUSER == 0 &&
		!t.Credentials().HasCapability(linux.CAP_SYS_ADMIN) {
		return linux.EPERM
	}
	return nil
}
