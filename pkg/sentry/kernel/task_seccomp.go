package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/arch"
)

// maxErrno is the largest errno a SECCOMP_RET_ERRNO can return
// (MAX_ERRNO): larger data is capped to it.
const maxErrno = 4095

// seccompEnter applies t's seccomp state to the syscall it is entering,
// before the handler runs. It reports whether the syscall must not run:
// then the action has already set the return value, queued a signal or
// ended the thread. Only doSyscall calls it, when t has seccomp state.
func (t *Task) seccompEnter(sysno uintptr, args arch.SyscallArguments) bool {
	s := t.seccompField.Load()
	if s.mode == linux.SECCOMP_MODE_STRICT {
		if seccompStrictAllowed(sysno) {
			return false
		}
		log.Infof("task %d: seccomp strict mode: syscall %d kills the thread", t.ThreadID(), sysno)
		t.seccompKillThread(linux.SIGKILL)
		return true
	}

	data := linux.SeccompData{
		Nr:                 int32(sysno),
		Arch:               seccompAuditArch,
		InstructionPointer: uint64(t.ac.IP()),
	}
	for i := range data.Args {
		data.Args[i] = args[i].Uint64()
	}
	ret, f := seccompRun(s.filters, &data)

	action := ret & linux.SECCOMP_RET_ACTION_FULL
	val := ret & linux.SECCOMP_RET_DATA
	if (f.log && action != linux.SECCOMP_RET_ALLOW) || action == linux.SECCOMP_RET_LOG {
		log.Infof("task %d: seccomp: syscall %d arch %#x ip %#x: action %#x", t.ThreadID(), sysno, data.Arch, data.InstructionPointer, ret)
	}
	switch action {
	case linux.SECCOMP_RET_ALLOW, linux.SECCOMP_RET_LOG:
		return false
	case linux.SECCOMP_RET_ERRNO:
		t.seccompFail(sysno, linux.Errno(min(val, maxErrno)))
		return true
	case linux.SECCOMP_RET_TRACE:
		if t.ptraceFlags.Load() != 0 {
			return t.ptraceSeccompTrace(val)
		}
		// Without a tracer Linux fails the call with ENOSYS.
		t.seccompFail(sysno, linux.ENOSYS)
		return true
	case linux.SECCOMP_RET_USER_NOTIF:
		// No filter can have a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER
		// is refused), and without one Linux fails the call with ENOSYS.
		t.seccompFail(sysno, linux.ENOSYS)
		return true
	case linux.SECCOMP_RET_TRAP:
		// The registers are as at entry, so a handler that inspects or
		// emulates the call sees it; the return register too.
		seccompRollback(t.ac, sysno, args)
		info := &linux.SignalInfo{Signo: int32(linux.SIGSYS), Errno: int32(val), Code: linux.SYS_SECCOMP}
		info.SetCallAddr(data.InstructionPointer)
		info.SetSyscall(data.Nr)
		info.SetArch(data.Arch)
		t.forceSignal(info)
		return true
	case linux.SECCOMP_RET_KILL_THREAD:
		log.Infof("task %d: seccomp: syscall %d kills the thread", t.ThreadID(), sysno)
		t.seccompKillThread(linux.SIGSYS)
		return true
	default:
		// SECCOMP_RET_KILL_PROCESS, and any action Linux does not know.
		log.Infof("task %d: seccomp: syscall %d (action %#x) kills the process", t.ThreadID(), sysno, ret)
		seccompRollback(t.ac, sysno, args)
		t.ExitGroup(linux.WaitStatusSignaled(linux.SIGSYS, true))
		return true
	}
}

// seccompRun runs every filter of the chain on data, newest first, and
// returns the value of highest precedence: the lowest action taken as a
// signed number (KILL_PROCESS is negative); among equal actions the first
// one found, i.e. the newest filter's. It also returns the filter that
// decided.
func seccompRun(newest *SeccompFilter, data *linux.SeccompData) (uint32, *SeccompFilter) {
	ret := uint32(linux.SECCOMP_RET_ALLOW)
	decided := newest
	for f := newest; f != nil; f = f.prev {
		cur := f.prog.Run(data)
		if int32(cur&linux.SECCOMP_RET_ACTION_FULL) < int32(ret&linux.SECCOMP_RET_ACTION_FULL) {
			ret, decided = cur, f
		}
	}
	return ret, decided
}

// seccompFail completes a syscall that a filter failed with errno without
// running it.
func (t *Task) seccompFail(sysno uintptr, errno linux.Errno) {
	rval := uintptr(0)
	var err error
	if errno != 0 {
		rval, err = errno.Return(), errno
	}
	if t.k.strace.Load() {
		t.straceExit(sysno, rval, err)
	}
	t.ac.SetReturn(rval)
}

// seccompKillThread ends t as SECCOMP_RET_KILL_THREAD does: the thread
// alone exits killed by sig, unless it is the last live thread of its
// process, in which case the whole process dies of sig (with a core, for
// SIGSYS).
func (t *Task) seccompKillThread(sig linux.Signal) {
	t.k.tasksMu.RLock()
	t.tg.signalMu.Lock()
	last := len(t.tg.tasks) == 1
	t.tg.signalMu.Unlock()
	t.k.tasksMu.RUnlock()
	if last {
		t.ExitGroup(linux.WaitStatusSignaled(sig, sig.DefaultAction() == linux.SignalActCore))
		return
	}
	t.Exit(linux.WaitStatusSignaled(sig, false))
}
