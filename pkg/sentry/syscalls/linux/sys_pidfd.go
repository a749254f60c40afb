package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/proc"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Process file descriptors: pidfd_open(2), pidfd_send_signal(2),
// pidfd_getfd(2). CLONE_PIDFD and waitid(P_PIDFD) are in sys_process.go.
// Only pidfd_send_signal also accepts an open /proc/PID directory.

// PidfdOpen implements pidfd_open(2). The descriptor is close-on-exec.
func PidfdOpen(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	pid, flags := args[0].Int(), args[1].Uint()
	if flags&^uint32(abilinux.PIDFD_NONBLOCK) != 0 || pid <= 0 {
		return 0, abilinux.EINVAL
	}
	tg, err := t.PidFDOpen(kernel.ThreadID(pid))
	if err != nil {
		return 0, err
	}
	file := t.Kernel().NewPidFD(tg, flags)
	defer file.DecRef(t.Context())
	fd, err := t.FDTable().NewFD(t.Context(), 0, file, vfs.FDFlags{CloseOnExec: true})
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// pidfdThreadGroup returns the process pidfd names: EBADF for a closed
// descriptor, which is also what Linux answers for a file that is not a
// pidfd. With procDir, an open /proc/PID directory names that process
// too, as Linux allows for pidfd_send_signal only.
func pidfdThreadGroup(t *kernel.Task, fd int32, procDir bool) (*kernel.ThreadGroup, error) {
	file, err := t.GetFile(fd)
	if err != nil {
		return nil, err
	}
	defer file.DecRef(t.Context())
	tg := kernel.PidFDThreadGroup(file)
	if tg == nil && procDir {
		tg = proc.ProcessDirThreadGroup(file)
	}
	if tg == nil {
		return nil, abilinux.EBADF
	}
	return tg, nil
}

// PidfdSendSignal implements pidfd_send_signal(2) with flags 0, to a
// pidfd or an open /proc/PID directory. A given siginfo must carry the
// signal number and, towards another process, a negative si_code other
// than SI_TKILL (no forging kernel signals). The checks come in Linux's
// order: flags, descriptor, siginfo, then the signal number.
func PidfdSendSignal(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	sig := abilinux.Signal(args[1].Int())
	infoAddr, flags := args[2].Pointer(), args[3].Uint()
	if flags != 0 {
		return 0, abilinux.EINVAL
	}
	tg, err := pidfdThreadGroup(t, args[0].Int(), true)
	if err != nil {
		return 0, err
	}
	var info *abilinux.SignalInfo
	if infoAddr != 0 {
		info = new(abilinux.SignalInfo)
		if err := t.MemoryManager().CopyObjectIn(infoAddr, info); err != nil {
			return 0, abilinux.EFAULT
		}
		if info.Signo != int32(sig) {
			return 0, abilinux.EINVAL
		}
		if !t.IsSameThreadGroup(tg) && (info.Code >= 0 || info.Code == abilinux.SI_TKILL) {
			return 0, abilinux.EPERM
		}
	} else {
		info = senderInfo(t, sig, abilinux.SI_USER)
	}
	if sig != 0 && !sig.IsValid() {
		return 0, abilinux.EINVAL
	}
	return 0, t.SignalThreadGroup(tg, info)
}

// PidfdGetfd implements pidfd_getfd(2): a duplicate of the process's
// descriptor, close-on-exec, in the caller's table.
func PidfdGetfd(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	targetFD, flags := args[1].Int(), args[2].Uint()
	if flags != 0 {
		return 0, abilinux.EINVAL
	}
	tg, err := pidfdThreadGroup(t, args[0].Int(), false)
	if err != nil {
		return 0, err
	}
	file, err := t.ThreadGroupFile(tg, targetFD)
	if err != nil {
		return 0, err
	}
	defer file.DecRef(t.Context())
	fd, err := t.FDTable().NewFD(t.Context(), 0, file, vfs.FDFlags{CloseOnExec: true})
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// pidfdWaitTarget resolves waitid(P_PIDFD, fd): the process's TGID in
// the caller's namespace (ECHILD if it has none there, which Wait would
// also report for a non-child) and whether the pidfd is non-blocking.
func pidfdWaitTarget(t *kernel.Task, fd int32) (kernel.ThreadID, bool, error) {
	if fd < 0 {
		return 0, false, abilinux.EINVAL
	}
	file, err := t.GetFile(fd)
	if err != nil {
		return 0, false, err
	}
	defer file.DecRef(t.Context())
	tg := kernel.PidFDThreadGroup(file)
	if tg == nil {
		return 0, false, abilinux.EBADF
	}
	pid := t.ThreadGroupIDOf(tg)
	if pid == 0 {
		return 0, false, abilinux.ECHILD
	}
	return pid, file.StatusFlags()&abilinux.O_NONBLOCK != 0, nil
}
