package linux

import (
	"time"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// uapiSigactionFlags are the sa_flags Linux keeps (UAPI_SA_FLAGS): it
// clears every other bit, SA_UNSUPPORTED included, so a program can probe
// for a flag by setting it and reading the action back.
const uapiSigactionFlags = abilinux.SA_NOCLDSTOP | abilinux.SA_NOCLDWAIT | abilinux.SA_SIGINFO |
	abilinux.SA_ONSTACK | abilinux.SA_RESTART | abilinux.SA_NODEFER | abilinux.SA_RESETHAND |
	abilinux.SA_EXPOSE_TAGBITS | abilinux.SA_RESTORER

// copyInSignalSet reads a sigset_t whose size the caller gave; only the
// kernel's 8-byte size is accepted.
func copyInSignalSet(t *kernel.Task, addr uintptr, size uint) (abilinux.SignalSet, error) {
	if size != abilinux.SignalSetSize {
		return 0, abilinux.EINVAL
	}
	var set abilinux.SignalSet
	if err := t.MemoryManager().CopyObjectIn(addr, &set); err != nil {
		return 0, abilinux.EFAULT
	}
	return set, nil
}

// senderInfo is the siginfo of a signal sent by t with kill-like calls:
// code, the sender's TGID and real UID.
func senderInfo(t *kernel.Task, sig abilinux.Signal, code int32) *abilinux.SignalInfo {
	info := &abilinux.SignalInfo{Signo: int32(sig), Code: code}
	info.SetPID(int32(t.ThreadGroup().ID()))
	if c := t.Credentials(); c != nil {
		info.SetUID(c.UserNamespace.MapFromKUID(c.RealKUID))
	}
	return info
}

// RtSigaction implements rt_sigaction(2).
func RtSigaction(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	sig := abilinux.Signal(args[0].Int())
	actAddr, oldAddr := args[1].Pointer(), args[2].Pointer()
	if args[3].SizeT() != abilinux.SignalSetSize {
		return 0, abilinux.EINVAL
	}
	var act *abilinux.SigAction
	if actAddr != 0 {
		act = new(abilinux.SigAction)
		if err := t.MemoryManager().CopyObjectIn(actAddr, act); err != nil {
			return 0, abilinux.EFAULT
		}
		act.Flags &= uapiSigactionFlags
	}
	old, err := t.SetSignalAction(sig, act)
	if err != nil {
		return 0, err
	}
	if oldAddr != 0 {
		if err := t.MemoryManager().CopyObjectOut(oldAddr, &old); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	return 0, nil
}

// RtSigprocmask implements rt_sigprocmask(2).
func RtSigprocmask(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	how := args[0].Int()
	setAddr, oldAddr := args[1].Pointer(), args[2].Pointer()
	if args[3].SizeT() != abilinux.SignalSetSize {
		return 0, abilinux.EINVAL
	}
	old := t.SignalMask()
	if setAddr != 0 {
		set, err := copyInSignalSet(t, setAddr, abilinux.SignalSetSize)
		if err != nil {
			return 0, err
		}
		mask, err := applySigprocmask(old, how, set)
		if err != nil {
			return 0, err
		}
		t.SetSignalMask(mask)
	}
	if oldAddr != 0 {
		if err := t.MemoryManager().CopyObjectOut(oldAddr, &old); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	return 0, nil
}

// applySigprocmask computes the mask rt_sigprocmask's how and set ask for.
func applySigprocmask(old abilinux.SignalSet, how int32, set abilinux.SignalSet) (abilinux.SignalSet, error) {
	switch how {
	case abilinux.SIG_BLOCK:
		return old | set, nil
	case abilinux.SIG_UNBLOCK:
		return old &^ set, nil
	case abilinux.SIG_SETMASK:
		return set, nil
	}
	return 0, abilinux.EINVAL
}

// RtSigreturn implements rt_sigreturn(2).
func RtSigreturn(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.SignalReturn()
}

// Sigaltstack implements sigaltstack(2).
func Sigaltstack(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	ssAddr, oldAddr := args[0].Pointer(), args[1].Pointer()
	sp := uint64(t.Arch().Stack())
	old := t.SigAltStack(sp)
	if ssAddr != 0 {
		var ss abilinux.SignalStack
		if err := t.MemoryManager().CopyObjectIn(ssAddr, &ss); err != nil {
			return 0, abilinux.EFAULT
		}
		if err := t.SetSigAltStack(sp, ss); err != nil {
			return 0, err
		}
	}
	if oldAddr != 0 {
		if err := t.MemoryManager().CopyObjectOut(oldAddr, &old); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	return 0, nil
}

// RtSigpending implements rt_sigpending(2): the pending signals that are
// blocked (an unblocked one would already have been delivered). Like
// Linux it accepts a size up to sizeof(sigset_t) and writes that many
// bytes.
func RtSigpending(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	size := args[1].SizeT()
	if size > abilinux.SignalSetSize {
		return 0, abilinux.EINVAL
	}
	set := t.PendingSignals() & t.SignalMask()
	var buf [abilinux.SignalSetSize]byte
	set.MarshalBytes(buf[:])
	if _, err := t.CopyOut(args[0].Pointer(), buf[:size]); err != nil {
		return 0, abilinux.EFAULT
	}
	return 0, nil
}

// RtSigsuspend implements rt_sigsuspend(2).
func RtSigsuspend(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	mask, err := copyInSignalSet(t, args[0].Pointer(), args[1].SizeT())
	if err != nil {
		return 0, err
	}
	return 0, t.SignalSuspend(mask)
}

// Pause implements pause(2).
func Pause(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.Pause()
}

// RtSigtimedwait implements rt_sigtimedwait(2).
func RtSigtimedwait(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	set, err := copyInSignalSet(t, args[0].Pointer(), args[3].SizeT())
	if err != nil {
		return 0, err
	}
	infoAddr, tsAddr := args[1].Pointer(), args[2].Pointer()
	var timeout *time.Duration
	if tsAddr != 0 {
		var ts abilinux.Timespec
		if err := t.MemoryManager().CopyObjectIn(tsAddr, &ts); err != nil {
			return 0, abilinux.EFAULT
		}
		if !ts.Valid() || ts.Sec < 0 {
			return 0, abilinux.EINVAL
		}
		d := ts.ToDuration()
		timeout = &d
	}
	info, err := t.SignalTimedWait(set, timeout)
	if err != nil {
		return 0, err
	}
	if infoAddr != 0 {
		if err := t.MemoryManager().CopyObjectOut(infoAddr, info); err != nil {
			return 0, abilinux.EFAULT
		}
	}
	return uintptr(info.Signo), nil
}

// Kill implements kill(2).
func Kill(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	pid := args[0].Int()
	sig := abilinux.Signal(args[1].Int())
	info := senderInfo(t, sig, abilinux.SI_USER)
	switch {
	case pid > 0:
		return 0, t.SignalProcess(kernel.ThreadID(pid), info)
	case pid == 0:
		return 0, t.SignalProcessGroup(0, info)
	case pid == -1:
		return 0, t.SignalAllProcesses(info)
	case pid == -1<<31:
		// -pid does not exist.
		return 0, abilinux.ESRCH
	default:
		return 0, t.SignalProcessGroup(kernel.ThreadID(-pid), info)
	}
}

// Tkill implements tkill(2).
func Tkill(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	tid := args[0].Int()
	if tid <= 0 {
		return 0, abilinux.EINVAL
	}
	info := senderInfo(t, abilinux.Signal(args[1].Int()), abilinux.SI_TKILL)
	return 0, t.SignalThread(0, kernel.ThreadID(tid), info)
}

// Tgkill implements tgkill(2).
func Tgkill(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	tgid, tid := args[0].Int(), args[1].Int()
	if tgid <= 0 || tid <= 0 {
		return 0, abilinux.EINVAL
	}
	info := senderInfo(t, abilinux.Signal(args[2].Int()), abilinux.SI_TKILL)
	return 0, t.SignalThread(kernel.ThreadID(tgid), kernel.ThreadID(tid), info)
}

// copyInQueuedInfo reads rt_sigqueueinfo's siginfo; si_signo is always
// the signal argument.
func copyInQueuedInfo(t *kernel.Task, addr uintptr, sig abilinux.Signal) (*abilinux.SignalInfo, error) {
	info := new(abilinux.SignalInfo)
	if err := t.MemoryManager().CopyObjectIn(addr, info); err != nil {
		return nil, abilinux.EFAULT
	}
	info.Signo = int32(sig)
	return info, nil
}

// forgedInfo applies Linux's rule against forgery: a program may not
// pretend to be the kernel (si_code >= 0) or tkill (SI_TKILL) towards
// anyone but itself, where "itself" is the target ID equal to the
// caller's TID.
func forgedInfo(t *kernel.Task, info *abilinux.SignalInfo, target int32) bool {
	return (info.Code >= 0 || info.Code == abilinux.SI_TKILL) && int32(t.ThreadID()) != target
}

// RtSigqueueinfo implements rt_sigqueueinfo(2).
func RtSigqueueinfo(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	pid := args[0].Int()
	info, err := copyInQueuedInfo(t, args[2].Pointer(), abilinux.Signal(args[1].Int()))
	if err != nil {
		return 0, err
	}
	if forgedInfo(t, info, pid) {
		return 0, abilinux.EPERM
	}
	return 0, t.SignalProcess(kernel.ThreadID(pid), info)
}

// RtTgsigqueueinfo implements rt_tgsigqueueinfo(2).
func RtTgsigqueueinfo(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	tgid, tid := args[0].Int(), args[1].Int()
	info, err := copyInQueuedInfo(t, args[3].Pointer(), abilinux.Signal(args[2].Int()))
	if err != nil {
		return 0, err
	}
	if tgid <= 0 || tid <= 0 {
		return 0, abilinux.EINVAL
	}
	if forgedInfo(t, info, tid) {
		return 0, abilinux.EPERM
	}
	return 0, t.SignalThread(kernel.ThreadID(tgid), kernel.ThreadID(tid), info)
}
