package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// The ptrace event stops of clone, vfork, execve and exit.

// ptraceCloneEvent returns the PTRACE_EVENT_* a clone with flags f and
// exit signal sig reports to t's tracer, or 0 when the tracer did not ask
// for it (or CLONE_UNTRACED).
func (t *Task) ptraceCloneEvent(f uint64, sig linux.Signal) int {
	if t.ptraceFlags.Load() == 0 || f&linux.CLONE_UNTRACED != 0 {
		return 0
	}
	event := linux.PTRACE_EVENT_FORK
	switch {
	case f&linux.CLONE_VFORK != 0:
		event = linux.PTRACE_EVENT_VFORK
	case sig != linux.SIGCHLD:
		event = linux.PTRACE_EVENT_CLONE
	}
	if t.ptraceOptions()&(1<<event) == 0 {
		return 0
	}
	return event
}

// ptraceAttachChild makes child, not yet started, a tracee of t's tracer
// when event is reported or CLONE_PTRACE asked for it. The child then
// starts with a SIGSTOP pending, or a PTRACE_EVENT_STOP if seized.
func (t *Task) ptraceAttachChild(child *Task, f uint64, event int) {
	if event == 0 && (f&linux.CLONE_PTRACE == 0 || t.ptraceFlags.Load() == 0) {
		return
	}
	k := t.k
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	tracer := t.ptrace.tracer
	if tracer == nil || tracer.exitState != taskRunning {
		return
	}
	child.ptraceLinkLocked(tracer, t.ptrace.seized, t.ptrace.options)
	if t.ptrace.seized {
		child.ptraceFlags.Or(ptraceInterrupt)
	} else {
		info := &linux.SignalInfo{Signo: int32(linux.SIGSTOP), Code: linux.SI_KERNEL}
		child.sendSignalLocked(info, false, false)
	}
}

// ptraceCloneStop makes the parent's event stop for a clone: its message
// is the child's TID as the tracer sees it.
func (t *Task) ptraceCloneStop(event int, child *Task) {
	if event == 0 {
		return
	}
	t.k.tasksMu.RLock()
	var id ThreadID
	if tr := t.ptrace.tracer; tr != nil {
		id = tr.tg.pidns.idOfTask(child)
	}
	t.k.tasksMu.RUnlock()
	t.ptraceEvent(event, uint64(id))
}

// ptraceVforkDone makes the PTRACE_EVENT_VFORK_DONE stop.
func (t *Task) ptraceVforkDone(child *Task) {
	if t.ptraceFlags.Load() == 0 || t.ptraceOptions()&linux.PTRACE_O_TRACEVFORKDONE == 0 {
		return
	}
	t.ptraceCloneStop(linux.PTRACE_EVENT_VFORK_DONE, child)
}

// ptraceExec reports a successful execve: a PTRACE_EVENT_EXEC stop with
// the TID the task had before (a thread that exec'd took the leader's),
// or, without that option and not seized, a plain SIGTRAP.
func (t *Task) ptraceExec(oldTID ThreadID) {
	if t.ptraceFlags.Load() == 0 {
		return
	}
	if t.ptraceOptions()&linux.PTRACE_O_TRACEEXEC != 0 {
		t.ptraceEvent(linux.PTRACE_EVENT_EXEC, uint64(oldTID))
		return
	}
	if !t.ptraceSeized() {
		info := &linux.SignalInfo{Signo: int32(linux.SIGTRAP), Code: linux.SI_USER}
		t.SendSignal(info)
	}
}

// ptraceExecTID returns the TID the tracer sees for t, before execve.
func (t *Task) ptraceExecTID() ThreadID {
	if t.ptraceFlags.Load() == 0 {
		return 0
	}
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return t.ptraceTracerTIDLocked()
}

// ptraceExitEvent makes the PTRACE_EVENT_EXIT stop of a task about to
// exit with status.
func (t *Task) ptraceExitEvent(status linux.WaitStatus) {
	if t.ptraceFlags.Load() == 0 || t.ptraceOptions()&linux.PTRACE_O_TRACEEXIT == 0 {
		return
	}
	tg := t.tg
	tg.signalMu.Lock()
	exiting := tg.exiting
	if exiting {
		status = tg.exitStatus
	}
	tg.signalMu.Unlock()
	if exiting && !t.ptrace.exitCaller && !t.exitRequested {
		// Taken down by another thread's exit, as by SIGKILL in Linux.
		return
	}
	t.ptraceEvent(linux.PTRACE_EVENT_EXIT, uint64(status))
}
