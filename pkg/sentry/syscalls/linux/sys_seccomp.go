package linux

import (
	"errors"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/bpf"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// seccompFilterFlags are the SECCOMP_SET_MODE_FILTER flags Linux knows.
const seccompFilterFlags = abilinux.SECCOMP_FILTER_FLAG_TSYNC | abilinux.SECCOMP_FILTER_FLAG_LOG |
	abilinux.SECCOMP_FILTER_FLAG_SPEC_ALLOW | abilinux.SECCOMP_FILTER_FLAG_NEW_LISTENER |
	abilinux.SECCOMP_FILTER_FLAG_TSYNC_ESRCH | abilinux.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV

// Sizes of the user-notification structures (SECCOMP_GET_NOTIF_SIZES):
// struct seccomp_notif, struct seccomp_notif_resp and struct
// seccomp_data.
const (
	sizeofSeccompNotif     = 80
	sizeofSeccompNotifResp = 24
)

// Seccomp implements seccomp(2).
func Seccomp(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return doSeccomp(t, sysno, args[0].Uint(), args[1].Uint(), args[2].Pointer())
}

// prctlSetSeccomp implements prctl(PR_SET_SECCOMP, mode, filter); sysno
// is prctl's, for the compatibility record.
func prctlSetSeccomp(t *kernel.Task, sysno uintptr, mode uint64, filter uintptr) (uintptr, error) {
	switch mode {
	case abilinux.SECCOMP_MODE_STRICT:
		return doSeccomp(t, sysno, abilinux.SECCOMP_SET_MODE_STRICT, 0, 0)
	case abilinux.SECCOMP_MODE_FILTER:
		return doSeccomp(t, sysno, abilinux.SECCOMP_SET_MODE_FILTER, 0, filter)
	}
	return 0, abilinux.EINVAL
}

func doSeccomp(t *kernel.Task, sysno uintptr, op, flags uint32, uargs uintptr) (uintptr, error) {
	switch op {
	case abilinux.SECCOMP_SET_MODE_STRICT:
		if flags != 0 || uargs != 0 {
			return 0, abilinux.EINVAL
		}
		return 0, t.SetSeccompStrict()
	case abilinux.SECCOMP_SET_MODE_FILTER:
		return seccompSetFilter(t, sysno, flags, uargs)
	case abilinux.SECCOMP_GET_ACTION_AVAIL:
		if flags != 0 {
			return 0, abilinux.EINVAL
		}
		var b [4]byte
		if _, err := t.CopyIn(uargs, b[:]); err != nil {
			return 0, abilinux.EFAULT
		}
		switch uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 {
		case abilinux.SECCOMP_RET_KILL_PROCESS, abilinux.SECCOMP_RET_KILL_THREAD, abilinux.SECCOMP_RET_TRAP,
			abilinux.SECCOMP_RET_ERRNO, abilinux.SECCOMP_RET_TRACE, abilinux.SECCOMP_RET_LOG, abilinux.SECCOMP_RET_ALLOW:
			return 0, nil
		}
		// SECCOMP_RET_USER_NOTIF included: a filter may return it, but
		// no listener can be created to answer it, so a program probing
		// for it must not count on it.
		return 0, abilinux.EOPNOTSUPP
	case abilinux.SECCOMP_GET_NOTIF_SIZES:
		if flags != 0 {
			return 0, abilinux.EINVAL
		}
		b := [6]byte{sizeofSeccompNotif, 0, sizeofSeccompNotifResp, 0, abilinux.SizeofSeccompData, 0}
		if _, err := t.CopyOut(uargs, b[:]); err != nil {
			return 0, abilinux.EFAULT
		}
		return 0, nil
	}
	return 0, abilinux.EINVAL
}

// seccompSetFilter implements SECCOMP_SET_MODE_FILTER, with Linux's order
// of checks.
func seccompSetFilter(t *kernel.Task, sysno uintptr, flags uint32, uargs uintptr) (uintptr, error) {
	if flags&^seccompFilterFlags != 0 {
		return 0, abilinux.EINVAL
	}
	if flags&abilinux.SECCOMP_FILTER_FLAG_TSYNC != 0 && flags&abilinux.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 &&
		flags&abilinux.SECCOMP_FILTER_FLAG_TSYNC_ESRCH == 0 {
		return 0, abilinux.EINVAL
	}
	if flags&abilinux.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 && flags&abilinux.SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
		return 0, abilinux.EINVAL
	}
	var fb [abilinux.SizeofSockFprog]byte
	if _, err := t.CopyIn(uargs, fb[:]); err != nil {
		return 0, abilinux.EFAULT
	}
	var fprog abilinux.SockFprog
	fprog.UnmarshalBytes(fb[:])
	if fprog.Len == 0 || fprog.Len > abilinux.BPF_MAXINSNS {
		return 0, abilinux.EINVAL
	}
	if !t.NoNewPrivs() && !t.Credentials().HasCapability(abilinux.CAP_SYS_ADMIN) {
		return 0, abilinux.EACCES
	}
	if fprog.Filter == 0 {
		return 0, abilinux.EINVAL
	}
	raw := make([]byte, int(fprog.Len)*abilinux.SizeofSockFilter)
	if _, err := t.CopyIn(uintptr(fprog.Filter), raw); err != nil {
		return 0, abilinux.EFAULT
	}
	insns := make([]abilinux.SockFilter, fprog.Len)
	for i := range insns {
		insns[i].UnmarshalBytes(raw[i*abilinux.SizeofSockFilter:])
	}
	prog, err := bpf.Compile(insns)
	if err != nil {
		if errors.Is(err, bpf.ErrInvalid) {
			return 0, abilinux.EINVAL
		}
		return 0, err
	}
	if flags&abilinux.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
		// User notification needs a listener file the sandbox does not
		// implement; refuse the flag as kernels without it do.
		t.RecordUnsupported(kernel.CompatSyscall, uint64(sysno), "SECCOMP_FILTER_FLAG_NEW_LISTENER")
		return 0, abilinux.EINVAL
	}
	tid, err := t.AddSeccompFilter(prog, flags)
	if err != nil {
		return 0, err
	}
	return uintptr(tid), nil
}
