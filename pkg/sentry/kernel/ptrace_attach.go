package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Attaching and detaching tracers.

// ptraceTraceme implements PTRACE_TRACEME: t's parent becomes its tracer.
func (t *Task) ptraceTraceme() error {
	k := t.k
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	if t.ptrace.tracer != nil {
		return linux.EPERM
	}
	parent := t.tg.leader.parent
	if parent == nil || parent.exitState != taskRunning {
		// The parent is outside the sandbox (or gone).
		return linux.EPERM
	}
	t.ptraceLinkLocked(parent, false, 0)
	return nil
}

// ptraceAttach implements PTRACE_ATTACH (seize false: the tracee is sent
// SIGSTOP) and PTRACE_SEIZE (with options opts).
func (t *Task) ptraceAttach(target *Task, seize bool, opts uint32) error {
	if err := t.ptraceMayAccess(target); err != nil {
		return err
	}
	k := t.k
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	if target.tg == t.tg || target.ptrace.tracer != nil || target.exitState != taskRunning {
		return linux.EPERM
	}
	target.tg.signalMu.Lock()
	exiting := target.tg.exiting
	target.tg.signalMu.Unlock()
	if exiting {
		return linux.EPERM
	}
	target.ptraceLinkLocked(t, seize, opts)
	if !seize {
		info := &linux.SignalInfo{Signo: int32(linux.SIGSTOP), Code: linux.SI_KERNEL}
		target.sendSignalLocked(info, false, false)
	} else {
		// A seized tracee in a group-stop traps so the tracer learns of
		// the stop.
		target.interrupt()
	}
	return nil
}

// ptraceMayAccess is Linux's ptrace_may_access for attaching (real
// credentials): the same user and group in every ID, or CAP_SYS_PTRACE
// in the target's user namespace.
func (t *Task) ptraceMayAccess(target *Task) error {
	c, tc := t.Credentials(), target.Credentials()
	if c.HasCapabilityIn(linux.CAP_SYS_PTRACE, tc.UserNamespace) {
		return nil
	}
	if c.RealKUID == tc.RealKUID && c.RealKUID == tc.EffectiveKUID && c.RealKUID == tc.SavedKUID &&
		c.RealKGID == tc.RealKGID && c.RealKGID == tc.EffectiveKGID && c.RealKGID == tc.SavedKGID {
		return nil
	}
	return linux.EPERM
}

// ptraceLinkLocked makes tracer t's tracer. Requires tasksMu held for
// writing.
func (t *Task) ptraceLinkLocked(tracer *Task, seized bool, opts uint32) {
	if tracer.ptrace.tracees == nil {
		tracer.ptrace.tracees = make(map[*Task]struct{})
	}
	tracer.ptrace.tracees[t] = struct{}{}
	p := &t.ptrace
	p.tracer, p.seized, p.options = tracer, seized, opts
	p.exited = false
	t.ptraceFlags.Store(ptraceTraced)
}

// ptraceDetachLocked ends t's tracing of tracee and restarts it with sig
// (PTRACE_DETACH, or the tracer's exit with sig 0). Requires tasksMu held
// for writing.
func (t *Task) ptraceDetachLocked(tracee *Task, sig linux.Signal) {
	delete(t.ptrace.tracees, tracee)
	p := &tracee.ptrace
	p.tracer = nil
	p.seized, p.options = false, 0
	p.exited = false
	tracee.ptraceFlags.Store(0)
	if p.stop != ptraceRunning {
		tracee.ptraceResumeLocked(resumeCont, sig)
	}
}

// ptraceExitLocked handles ptrace when t exits: its tracees are detached
// (killed with PTRACE_O_EXITKILL), and if t is traced its tracer learns
// of the exit. status is t's exit status; last is set when t is the last
// task of its group. Requires tasksMu held for writing.
func (t *Task) ptraceExitLocked(status linux.WaitStatus, last bool) {
	for tracee := range t.ptrace.tracees {
		if tracee.ptrace.exited {
			// Nothing left to report to anyone.
			delete(t.ptrace.tracees, tracee)
			tracee.ptrace.tracer = nil
			tracee.ptrace.exited = false
			continue
		}
		if tracee.ptrace.options&linux.PTRACE_O_EXITKILL != 0 {
			tracee.tg.signalMu.Lock()
			tracee.tg.killLocked(linux.WaitStatusSignaled(linux.SIGKILL, false))
			tracee.tg.signalMu.Unlock()
		}
		t.ptraceDetachLocked(tracee, 0)
	}
	tg := t.tg
	if t.ptrace.tracer != nil && t != tg.leader {
		t.ptraceReportExitLocked(status)
	}
	if last && tg.leader.ptrace.tracer != nil {
		tg.signalMu.Lock()
		ws := tg.exitStatus
		tg.signalMu.Unlock()
		tg.leader.ptraceReportExitLocked(ws)
	}
}

// ptraceReportExitLocked makes t's exit with ws waitable by its tracer,
// unless the tracer's process is t's parent, which learns of the exit by
// reaping it. Requires tasksMu held for writing.
func (t *Task) ptraceReportExitLocked(ws linux.WaitStatus) {
	tracer := t.ptrace.tracer
	if t.IsLeader() && t.parent != nil && t.parent.tg == tracer.tg {
		return
	}
	p := &t.ptrace
	p.exited, p.exitStatus = true, ws
	p.exitID = tracer.tg.pidns.idOfTask(t)
	t.ptraceFlags.Store(0)
	t.ptraceNotifyLocked(childExitCode(ws), exitCodeStatus(ws))
}

// exitCodeStatus is si_status for an exit with ws.
func exitCodeStatus(ws linux.WaitStatus) int32 {
	if ws.Exited() {
		return int32(ws.ExitStatus())
	}
	return int32(ws.Signal())
}

// ptraceReapedLocked unlinks a reaped group leader from its tracer, unless
// the tracer still has its exit to collect. Requires tasksMu held for
// writing.
func (t *Task) ptraceReapedLocked() {
	if tr := t.ptrace.tracer; tr != nil && !t.ptrace.exited {
		delete(tr.ptrace.tracees, t)
		t.ptrace.tracer = nil
		t.ptraceFlags.Store(0)
	}
}
