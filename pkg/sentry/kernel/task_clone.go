package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/mm"
)

// CloneOptions are clone(2)/clone3(2)'s arguments.
type CloneOptions struct {
	// Flags are the CLONE_* bits, without the exit signal.
	Flags      uint64
	ExitSignal linux.Signal
	// Stack, when not 0, is the child's stack pointer.
	Stack     uintptr
	ParentTID uintptr
	ChildTID  uintptr
	TLS       uintptr
	// PidFD is where CLONE_PIDFD stores the child's pidfd (pidfd.go).
	PidFD uintptr
}

// supportedCloneFlags are the flags Clone implements; namespaces other
// than those listed are refused with EINVAL rather than ignored.
const supportedCloneFlags = linux.CLONE_VM | linux.CLONE_FS | linux.CLONE_FILES | linux.CLONE_SIGHAND |
	linux.CLONE_PTRACE | linux.CLONE_VFORK | linux.CLONE_PARENT | linux.CLONE_THREAD |
	linux.CLONE_SYSVSEM | linux.CLONE_SETTLS | linux.CLONE_PARENT_SETTID |
	linux.CLONE_CHILD_CLEARTID | linux.CLONE_DETACHED | linux.CLONE_UNTRACED |
	linux.CLONE_CHILD_SETTID | linux.CLONE_IO | linux.CLONE_NEWIPC | linux.CLONE_PIDFD

// Clone creates a task as clone(2) does and starts it. It returns the
// child's TID in t's PID namespace.
func (t *Task) Clone(opts *CloneOptions) (ThreadID, error) {
	f := opts.Flags
	// Namespace flags get Linux's EINVAL/EPERM answers before the ones
	// the sandbox cannot honour are refused (clone_namespaces.go).
	if err := t.CheckNamespaceFlags(f); err != nil {
		return 0, err
	}
	if f&^supportedCloneFlags != 0 {
		return 0, linux.EINVAL
	}
	// The consistency rules of clone(2).
	if f&linux.CLONE_THREAD != 0 && f&linux.CLONE_SIGHAND == 0 {
		return 0, linux.EINVAL
	}
	if f&linux.CLONE_SIGHAND != 0 && f&linux.CLONE_VM == 0 {
		return 0, linux.EINVAL
	}
	if opts.ExitSignal != 0 && !opts.ExitSignal.IsValid() {
		return 0, linux.EINVAL
	}
	if f&linux.CLONE_PIDFD != 0 && f&(linux.CLONE_THREAD|linux.CLONE_DETACHED) != 0 {
		return 0, linux.EINVAL
	}
	if err := t.checkCloneIPC(f); err != nil {
		return 0, err
	}

	var childMM *mm.MemoryManager
	if f&linux.CLONE_VM != 0 {
		if !t.mm.IncUsers() {
			return 0, linux.ENOMEM
		}
		childMM = t.mm
	} else {
		m, err := t.mm.Fork()
		if err != nil {
			return 0, err
		}
		childMM = m
	}
	ac := t.ac.Fork()
	ac.SetReturn(0)
	if opts.Stack != 0 {
		ac.SetStack(opts.Stack)
	}
	if f&linux.CLONE_SETTLS != 0 && !ac.SetTLS(opts.TLS) {
		childMM.DecUsers()
		return 0, linux.EPERM
	}

	k := t.k
	k.tasksMu.Lock()
	cfg := &taskConfig{ac: ac, mm: childMM, mask: t.SignalMask(), pidns: t.tg.pidns, exitSignal: opts.ExitSignal}
	cfg.parent = t
	if f&(linux.CLONE_PARENT|linux.CLONE_THREAD) != 0 {
		cfg.parent = t.parent
		if f&linux.CLONE_THREAD == 0 && t.tg.isInitLocked() {
			// Init's siblings would have no reaper in the sandbox.
			k.tasksMu.Unlock()
			childMM.DecUsers()
			return 0, linux.EINVAL
		}
	}
	if f&linux.CLONE_THREAD != 0 {
		cfg.tg = t.tg
	} else if f&linux.CLONE_SIGHAND != 0 {
		cfg.handlers = t.tg.handlers
	} else {
		cfg.handlers = t.tg.handlers.Fork()
	}
	child, err := k.newTaskLocked(cfg)
	if err != nil {
		k.tasksMu.Unlock()
		childMM.DecUsers()
		return 0, err
	}
	tid := t.tg.pidns.idOfTask(child)
	childTID := child.tg.pidns.idOfTask(child)
	k.tasksMu.Unlock()

	child.SetCredentials(t.Credentials())
	child.mu.Lock()
	if f&linux.CLONE_FILES != 0 {
		t.fdTable.IncRef()
		child.fdTable = t.fdTable
	} else {
		child.fdTable = t.fdTable.Fork()
	}
	if f&linux.CLONE_FS != 0 {
		t.fsContext.IncRef()
		child.fsContext = t.fsContext
	} else {
		child.fsContext = t.fsContext.Fork()
	}
	child.image = t.image
	if child.exe = t.exe; child.exe.Ok() {
		child.exe.IncRef()
	}
	child.mu.Unlock()
	t.InheritResourceState(child, f)
	t.cloneIPC(child, f)
	t.inheritSeccomp(child)
	t.rseqFork(child, f) // RSEQ: fork keeps the registration (task_rseq.go)
	if err := child.initPlatformState(); err != nil {
		child.ExitGroup(linux.WaitStatusSignaled(linux.SIGKILL, false))
		child.Start()
		return 0, err
	}
	if f&linux.CLONE_PIDFD != 0 {
		if _, err := t.installClonePidFD(child, opts.PidFD); err != nil {
			child.ExitGroup(linux.WaitStatusSignaled(linux.SIGKILL, false))
			child.Start()
			return 0, err
		}
	}

	if f&linux.CLONE_PARENT_SETTID != 0 {
		t.copyOutTID(opts.ParentTID, tid)
	}
	if f&linux.CLONE_CHILD_SETTID != 0 {
		child.copyOutTID(opts.ChildTID, childTID)
	}
	if f&linux.CLONE_CHILD_CLEARTID != 0 {
		child.clearChildTID = opts.ChildTID
	}
	var vforkDone chan struct{}
	if f&linux.CLONE_VFORK != 0 {
		vforkDone = make(chan struct{})
		child.vforkDone = vforkDone
	}
	event := t.ptraceCloneEvent(f, opts.ExitSignal)
	t.ptraceAttachChild(child, f, event)
	child.Start()
	t.ptraceCloneStop(event, child)
	if vforkDone != nil {
		// The parent sleeps until the child execs or exits; only a fatal
		// signal ends the wait early (vfork_wait.go).
		if t.waitVforkChild(vforkDone) {
			t.ptraceVforkDone(child)
		}
	}
	return tid, nil
}

// copyOutTID stores a TID for CLONE_*_SETTID; a bad address is ignored as
// Linux ignores it.
func (t *Task) copyOutTID(addr uintptr, tid ThreadID) {
	var b [4]byte
	b[0], b[1], b[2], b[3] = byte(tid), byte(tid>>8), byte(tid>>16), byte(tid>>24)
	t.mm.CopyOut(addr, b[:])
}

// releaseVforkParent wakes a parent blocked in vfork on t.
func (t *Task) releaseVforkParent() {
	if t.vforkDone != nil {
		close(t.vforkDone)
		t.vforkDone = nil
	}
}

// isKilled reports whether t must exit.
func (t *Task) isKilled() bool {
	t.tg.signalMu.Lock()
	defer t.tg.signalMu.Unlock()
	return t.killed || t.tg.exiting
}

// SetClearChildTID implements set_tid_address.
func (t *Task) SetClearChildTID(addr uintptr) { t.clearChildTID = addr }

// Exit ends only the calling thread with status (exit(2)).
func (t *Task) Exit(status linux.WaitStatus) error {
	t.exitRequested = true
	t.exitRequestedStatus = status
	return errNoReturnValue
}
