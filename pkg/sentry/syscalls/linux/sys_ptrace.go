package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// Ptrace implements ptrace(2). The raw syscall stores PEEK results at
// data (glibc's wrapper hides that), so every request returns 0 or an
// error, except PTRACE_GET_SYSCALL_INFO, which returns a size.
func Ptrace(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	req := args[0].Int64()
	pid := kernel.ThreadID(args[1].Int())
	return t.Ptrace(req, pid, args[2].Pointer(), args[3].Pointer())
}

// ProcessVMReadv implements process_vm_readv(2).
func ProcessVMReadv(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return processVM(t, args, false)
}

// ProcessVMWritev implements process_vm_writev(2).
func ProcessVMWritev(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return processVM(t, args, true)
}

func processVM(t *kernel.Task, args arch.SyscallArguments, write bool) (uintptr, error) {
	pid := kernel.ThreadID(args[0].Int())
	if args[5].Uint64() != 0 {
		return 0, abilinux.EINVAL
	}
	m := t.MemoryManager()
	local, err := m.CopyInIovecs(args[1].Pointer(), int(args[2].Uint64()), nil)
	if err != nil {
		return 0, err
	}
	rcount := args[4].Uint64()
	if rcount > abilinux.UIO_MAXIOV {
		return 0, abilinux.EINVAL
	}
	remote := make([]abilinux.Iovec, 0, rcount)
	for i := uint64(0); i < rcount; i++ {
		var iov abilinux.Iovec
		if err := m.CopyObjectIn(args[3].Pointer()+uintptr(i*abilinux.SizeofIovec), &iov); err != nil {
			return 0, err
		}
		if int64(iov.Len) < 0 {
			return 0, abilinux.EINVAL
		}
		remote = append(remote, iov)
	}
	n, err := t.ProcessVMIO(pid, local, remote, write)
	return uintptr(n), err
}
