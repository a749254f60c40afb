package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// unshareFlags are the flags unshare(2) knows; others are EINVAL.
const unshareFlags = abilinux.CLONE_THREAD | abilinux.CLONE_FS | abilinux.CLONE_NEWNS |
	abilinux.CLONE_SIGHAND | abilinux.CLONE_VM | abilinux.CLONE_FILES | abilinux.CLONE_SYSVSEM |
	abilinux.CLONE_NEWUTS | abilinux.CLONE_NEWIPC | abilinux.CLONE_NEWNET | abilinux.CLONE_NEWUSER |
	abilinux.CLONE_NEWPID | abilinux.CLONE_NEWCGROUP | abilinux.CLONE_NEWTIME

// Unshare implements unshare(2) for what the kernel can separate:
// CLONE_NEWIPC (which implies CLONE_SYSVSEM), CLONE_SYSVSEM, CLONE_FILES,
// and CLONE_THREAD/CLONE_SIGHAND/CLONE_VM, which only a single-threaded
// process may ask for and which then change nothing. The other namespaces
// and CLONE_FS are refused with EINVAL rather than ignored.
func Unshare(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	flags := uint64(args[0].Uint())
	if flags&^unshareFlags != 0 {
		return 0, abilinux.EINVAL
	}
	// As Linux, a namespace other than a user namespace needs
	// CAP_SYS_ADMIN, which is checked before whether the kind is
	// supported.
	if flags&(abilinux.CLONE_NEWNS|abilinux.CLONE_NEWUTS|abilinux.CLONE_NEWIPC|abilinux.CLONE_NEWNET|abilinux.CLONE_NEWPID|
		abilinux.CLONE_NEWCGROUP|abilinux.CLONE_NEWTIME) != 0 && flags&abilinux.CLONE_NEWUSER == 0 &&
		!t.Credentials().HasCapability(abilinux.CAP_SYS_ADMIN) {
		return 0, abilinux.EPERM
	}
	if flags&(abilinux.CLONE_NEWNS|abilinux.CLONE_NEWUTS|abilinux.CLONE_NEWNET|abilinux.CLONE_NEWUSER|
		abilinux.CLONE_NEWPID|abilinux.CLONE_NEWCGROUP|abilinux.CLONE_NEWTIME|abilinux.CLONE_FS) != 0 {
		return 0, abilinux.EINVAL
	}
	if flags&(abilinux.CLONE_THREAD|abilinux.CLONE_SIGHAND|abilinux.CLONE_VM) != 0 {
		tg := t.ThreadGroup()
		if len(tg.ProcTaskIDs(tg.ProcPIDNamespace())) > 1 {
			return 0, abilinux.EINVAL
		}
	}
	if flags&abilinux.CLONE_NEWIPC != 0 {
		if err := t.UnshareIPCNamespace(); err != nil {
			return 0, err
		}
	} else if flags&abilinux.CLONE_SYSVSEM != 0 {
		t.UnshareSemUndo()
	}
	if flags&abilinux.CLONE_FILES != 0 {
		t.UnshareFDTable()
	}
	return 0, nil
}
