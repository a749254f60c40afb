package kernel

import (
	"errors"
	"syscall"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
)

// doSyscall runs the system call the application just trapped on and
// stores its result in the return register.
func (t *Task) doSyscall() {
	t.syscallState = t.ac.SyscallState()
	if t.ptraceFlags.Load() != 0 {
		// Traced: syscall stops around the call (ptrace.go).
		if !t.ptraceSyscallEnter() {
			t.runSyscall()
		}
		t.ptraceSyscallExit()
		return
	}
	t.runSyscall()
}

// runSyscall runs the syscall in t.syscallState and stores its result.
func (t *Task) runSyscall() {
	sysno, args := t.syscallState.Nr, t.syscallState.Args
	t.countSyscall(sysno)
	if t.k.strace.Load() {
		t.straceEnter(sysno, args)
	}
	if t.seccompField.Load() != nil {
		if t.seccompEnter(sysno, args) {
			return
		}
		// A tracer may have changed the call at PTRACE_EVENT_SECCOMP.
		sysno, args = t.syscallState.Nr, t.syscallState.Args
	}

	entry, ok := t.k.SyscallTable.Lookup(sysno)
	var rval uintptr
	var err error
	if !ok || entry.Fn == nil {
		err = t.unimplementedSyscall(sysno, entry, ok)
	} else {
		rval, err = entry.Fn(t, sysno, args)
	}

	if err != nil && err != errNoReturnValue {
		errno := errnoOf(err)
		if isRestartErrno(errno) {
			// Whether this becomes EINTR or a restart is decided when
			// signals are delivered before returning to the application.
			t.restartErrno = errno
		}
		rval = errno.Return()
	}
	if t.k.strace.Load() {
		t.straceExit(sysno, rval, err)
	}
	if err == errNoReturnValue {
		// rt_sigreturn restored every register, the return one included.
		return
	}
	t.ac.SetReturn(rval)
}

// errNoReturnValue is returned by handlers, like rt_sigreturn and execve,
// that set every register themselves.
var errNoReturnValue = errors.New("kernel: registers already set")

// ErrNoReturnValue is for syscall handlers outside this package.
var ErrNoReturnValue = errNoReturnValue

// unimplementedSyscall counts and logs a call without a handler and
// returns the error the application sees.
func (t *Task) unimplementedSyscall(sysno uintptr, entry Syscall, known bool) error {
	t.k.SyscallTable.RecordUnimplemented(sysno)
	if !known {
		log.Infof("unknown syscall %d", sysno)
		return syscall.ENOSYS
	}
	log.Infof("unimplemented syscall %s (%d): %s", entry.Name, sysno, entry.Note)
	return entry.UnimplementedErrno()
}

// errnoOf maps a handler's error to the errno the application sees.
func errnoOf(err error) linux.Errno {
	var le linux.Errno
	if errors.As(err, &le) {
		return le
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		return linux.Errno(se)
	}
	if err == ErrInterrupted {
		return linux.ERESTARTSYS
	}
	if ErrTimedOut(err) {
		return linux.ETIMEDOUT
	}
	log.Warningf("syscall handler returned a non-errno error, reporting EIO: %v", err)
	return linux.EIO
}

func isRestartErrno(e linux.Errno) bool {
	switch e {
	case linux.ERESTARTSYS, linux.ERESTARTNOINTR, linux.ERESTARTNOHAND, linux.ERESTART_RESTARTBLOCK:
		return true
	}
	return false
}

// resolveRestart settles a syscall interrupted with a restart errno, once
// it is known whether a handler will run: either rewind so the syscall
// runs again, or turn the return value into EINTR.
func (t *Task) resolveRestart(handlerRuns bool, act *linux.SigAction) {
	errno := t.restartErrno
	if errno == 0 {
		return
	}
	t.restartErrno = 0
	restart := false
	switch errno {
	case linux.ERESTARTNOINTR:
		restart = true
	case linux.ERESTARTSYS:
		restart = !handlerRuns || act.Flags&linux.SA_RESTART != 0
	case linux.ERESTARTNOHAND, linux.ERESTART_RESTARTBLOCK:
		restart = !handlerRuns
	}
	if !restart {
		t.ac.SetReturn(linux.EINTR.Return())
		return
	}
	// ERESTART_RESTARTBLOCK re-runs the original call rather than
	// restart_syscall(2), so a restarted relative sleep starts over.
	t.ac.RestartSyscall(t.syscallState)
}
