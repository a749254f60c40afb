package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
)

// ptrace(2): a tracer task observes and controls its tracees.
//
// A tracee stops only on its own goroutine (ptraceStop): it records what
// stopped it, tells its tracer (SIGCHLD and a wait4 wake-up), and parks
// until the tracer resumes it or it is killed. While it is parked its
// registers belong to the tracer, which reads and writes them holding
// tasksMu; the tracee takes tasksMu for writing before it touches them
// again, so the two never overlap.
//
// The syscall path and the run loop pay one atomic load of
// Task.ptraceFlags when the task is not traced.

// Bits of Task.ptraceFlags.
const (
	// ptraceTraced: the task has a tracer.
	ptraceTraced = 1 << iota
	// ptraceSyscallTrace: stop at syscall entry and exit
	// (PTRACE_SYSCALL).
	ptraceSyscallTrace
	// ptraceStepping: the task runs one instruction at a time
	// (PTRACE_SINGLESTEP).
	ptraceStepping
	// ptraceInterrupt: the tracer asked for a PTRACE_INTERRUPT stop.
	ptraceInterrupt
)

// ptraceStopKind is the kind of ptrace-stop a tracee is in.
type ptraceStopKind uint8

const (
	ptraceRunning ptraceStopKind = iota
	ptraceSignalStop
	ptraceGroupStop
	ptraceSyscallEntryStop
	ptraceSyscallExitStop
	// ptraceEventStop is a PTRACE_EVENT_* stop, PTRACE_EVENT_STOP
	// included.
	ptraceEventStop
)

// ptraceResume is how a tracer restarted its tracee.
type ptraceResume uint8

const (
	resumeCont ptraceResume = iota
	resumeSyscall
	resumeStep
	// resumeListen leaves the tracee in its group-stop, not traced-stopped
	// (PTRACE_LISTEN).
	resumeListen
)

// taskPtrace is a task's ptrace state, both as a tracer (tracees) and as a
// tracee (the rest). Guarded by Kernel.tasksMu except where noted.
type taskPtrace struct {
	// tracees are the tasks this task traces.
	tracees map[*Task]struct{}

	// tracer is this task's tracer, nil if none.
	tracer *Task
	// seized is set for PTRACE_SEIZE, clear for ATTACH and TRACEME.
	seized bool
	// options are the PTRACE_O_* options.
	options uint32

	// stop is the ptrace-stop the task is in; stopCh is closed when the
	// tracer ends it.
	stop   ptraceStopKind
	stopCh chan struct{}
	// stopSig and stopEvent make the wait status of the stop.
	stopSig   linux.Signal
	stopEvent int
	// reportable: the tracer's wait has not collected the stop yet.
	reportable bool
	// siginfo is what PTRACE_GETSIGINFO returns, nil for a group-stop.
	siginfo *linux.SignalInfo
	// eventMsg is PTRACE_GETEVENTMSG's value.
	eventMsg uint64
	// seccompStop marks an event stop that is PTRACE_EVENT_SECCOMP, for
	// PTRACE_GET_SYSCALL_INFO.
	seccompStop bool

	// resume and resumeSig are the tracer's restart request.
	resume    ptraceResume
	resumeSig linux.Signal

	// exited is set when the tracee has exited and its tracer, not being
	// the parent that reaps it, has yet to collect the status; exitID is
	// its TID as the tracer saw it.
	exited     bool
	exitStatus linux.WaitStatus
	exitID     ThreadID

	// The fields below are owned by the task goroutine.

	// forcedTF is set while the trap flag is set for PTRACE_SINGLESTEP.
	forcedTF bool
	// groupStopSeen is the group-stop (its stopCh) already reported to
	// the tracer, so that a tracee the tracer resumed runs through it.
	groupStopSeen chan struct{}
	// exitCaller is set on the task that began its group's exit itself
	// (exit_group, a fatal signal it took): it alone gets a
	// PTRACE_EVENT_EXIT stop although its group is exiting.
	exitCaller bool
}

// ptraceResult is what the tracer decided when it ended a stop.
type ptraceResult struct {
	// stopped is false when no stop happened (no tracer, or killed).
	stopped bool
	sig     linux.Signal
	info    *linux.SignalInfo
}

// ptraceStop puts t in a ptrace-stop of kind and reports it to the
// tracer. It returns when the tracer restarts t, or at once if t has no
// tracer or is being killed (an exit event stop still happens then,
// unless the group dies of SIGKILL). Only t's goroutine calls it.
func (t *Task) ptraceStop(kind ptraceStopKind, sig linux.Signal, event int, info *linux.SignalInfo) ptraceResult {
	k := t.k
	k.tasksMu.Lock()
	p := &t.ptrace
	if p.tracer == nil {
		k.tasksMu.Unlock()
		return ptraceResult{}
	}
	tg := t.tg
	tg.signalMu.Lock()
	killed := t.killed || tg.exiting
	sigkilled := tg.exiting && tg.exitStatus == linux.WaitStatusSignaled(linux.SIGKILL, false)
	tg.signalMu.Unlock()
	exitStop := kind == ptraceEventStop && event == linux.PTRACE_EVENT_EXIT
	if killed && (!exitStop || sigkilled) {
		k.tasksMu.Unlock()
		return ptraceResult{}
	}
	if p.forcedTF {
		t.ac.ClearSingleStep()
		p.forcedTF = false
	}
	t.ptraceFlags.And(^uint32(ptraceInterrupt))
	ch := make(chan struct{})
	p.stop, p.stopCh = kind, ch
	p.stopSig, p.stopEvent = sig, event
	p.siginfo = info
	p.reportable = true
	p.resume, p.resumeSig = resumeCont, 0
	t.ptraceNotifyLocked(linux.CLD_TRAPPED, int32(sig))
	k.tasksMu.Unlock()

	t.accountPark()
	for done := false; !done; {
		select {
		case <-ch:
			done = true
		case <-t.interruptCh:
			// Only a kill ends a stop early (for the exit stop of a
			// task already exiting: a new kill, which closes ch).
			done = !killed && t.isKilled()
		}
	}
	t.accountUnpark()

	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	if p.stopCh == ch {
		// Killed: the tracer never restarted t.
		p.stop, p.stopCh, p.reportable = ptraceRunning, nil, false
		return ptraceResult{}
	}
	t.ptraceApplyResumeLocked()
	return ptraceResult{stopped: true, sig: p.resumeSig, info: p.siginfo}
}

// ptraceApplyResumeLocked turns the tracer's restart request into t's
// flags and, for single-stepping, its trap flag. Called by t's goroutine
// with tasksMu held.
func (t *Task) ptraceApplyResumeLocked() {
	p := &t.ptrace
	if p.tracer == nil {
		t.ptraceFlags.Store(0)
		return
	}
	f := uint32(ptraceTraced)
	switch p.resume {
	case resumeSyscall:
		f |= ptraceSyscallTrace
	case resumeStep:
		f |= ptraceStepping
		p.forcedTF = t.ac.SetSingleStep()
	}
	t.ptraceFlags.Store(f | t.ptraceFlags.Load()&ptraceInterrupt)
}

// ptraceNotifyLocked tells t's tracer about a stop or exit of t: SIGCHLD
// (unless the tracer set SA_NOCLDSTOP, for stops) and a wake-up of its
// wait4. Requires tasksMu held for writing.
func (t *Task) ptraceNotifyLocked(code int32, status int32) {
	tracer := t.ptrace.tracer
	ttg := tracer.tg
	if code != linux.CLD_TRAPPED || ttg.handlers.Get(linux.SIGCHLD).Flags&linux.SA_NOCLDSTOP == 0 {
		info := &linux.SignalInfo{Signo: int32(linux.SIGCHLD), Code: code}
		info.SetPID(int32(ttg.pidns.idOfTask(t)))
		info.SetUID(t.realUID())
		info.SetStatus(status)
		tracer.sendSignalLocked(info, true, false)
	}
	ttg.notifyChildEventLocked()
}

// ptraceResumeLocked ends tracee's stop as the tracer asked. Requires
// tasksMu held for writing and tracee stopped.
func (tracee *Task) ptraceResumeLocked(how ptraceResume, sig linux.Signal) {
	p := &tracee.ptrace
	p.resume, p.resumeSig = how, sig
	p.stop, p.reportable = ptraceRunning, false
	close(p.stopCh)
	p.stopCh = nil
}

// ptraceSignalStop is the signal-delivery-stop for info, dequeued by t.
// It returns the signal to deliver as the tracer decided: nil to drop it.
func (t *Task) ptraceSignalStop(info *linux.SignalInfo) *linux.SignalInfo {
	sig := linux.Signal(info.Signo)
	res := t.ptraceStop(ptraceSignalStop, sig, 0, info)
	if !res.stopped {
		if t.isKilled() {
			return nil
		}
		return info
	}
	if res.sig == 0 {
		return nil
	}
	out := res.info
	if out == nil || linux.Signal(out.Signo) != res.sig {
		// A different signal than the one reported: it comes from the
		// tracer, as if it had been sent with kill.
		out = &linux.SignalInfo{Signo: int32(res.sig), Code: linux.SI_USER}
		t.k.tasksMu.RLock()
		if tr := t.ptrace.tracer; tr != nil {
			out.SetPID(int32(t.tg.pidns.idOfThreadGroup(tr.tg)))
		}
		t.k.tasksMu.RUnlock()
	}
	t.tg.signalMu.Lock()
	blocked := t.mask.Has(res.sig)
	t.tg.signalMu.Unlock()
	if blocked {
		// A blocked signal waits in the queue like any other.
		t.SendSignal(out)
		return nil
	}
	return out
}

// ptraceGroupStop reports t's part in its group's stop to the tracer and
// waits to be restarted. A PTRACE_LISTEN restart keeps t stopped until the
// group-stop ends or the tracer interrupts it, when it traps again.
func (t *Task) ptraceGroupStop(sig linux.Signal, groupCh chan struct{}) {
	event := 0
	if t.ptraceSeized() {
		event = linux.PTRACE_EVENT_STOP
	}
	t.ptrace.groupStopSeen = groupCh
	res := t.ptraceStop(ptraceGroupStop, sig, event, nil)
	if !res.stopped || !t.ptraceListening() {
		return
	}
	for {
		t.accountPark()
		trap := false
		select {
		case <-groupCh:
			// SIGCONT ended the group-stop.
			sig, trap = linux.SIGTRAP, true
		case <-t.interruptCh:
			trap = t.ptraceFlags.Load()&ptraceInterrupt != 0
		}
		t.accountUnpark()
		if t.isKilled() {
			return
		}
		if trap {
			t.ptraceEventStopNoMsg(linux.PTRACE_EVENT_STOP, sig)
			return
		}
	}
}

// ptraceListening reports whether t's tracer restarted it with
// PTRACE_LISTEN.
func (t *Task) ptraceListening() bool {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return t.ptrace.tracer != nil && t.ptrace.resume == resumeListen
}

// ptraceSeized reports whether t is traced through PTRACE_SEIZE.
func (t *Task) ptraceSeized() bool {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return t.ptrace.seized
}

// ptraceOptions returns t's PTRACE_O_* options, 0 if untraced.
func (t *Task) ptraceOptions() uint32 {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	if t.ptrace.tracer == nil {
		return 0
	}
	return t.ptrace.options
}

// ptraceEvent stops t for PTRACE_EVENT_event with message msg if its
// tracer asked for that event. It reports whether it stopped.
func (t *Task) ptraceEvent(event int, msg uint64) bool {
	if t.ptraceFlags.Load() == 0 || t.ptraceOptions()&(1<<event) == 0 {
		return false
	}
	t.k.tasksMu.Lock()
	t.ptrace.eventMsg = msg
	t.k.tasksMu.Unlock()
	return t.ptraceEventStopNoMsg(event, linux.SIGTRAP)
}

// ptraceEventStopNoMsg stops t in an event stop.
func (t *Task) ptraceEventStopNoMsg(event int, sig linux.Signal) bool {
	info := &linux.SignalInfo{Signo: int32(linux.SIGTRAP), Code: int32(linux.SIGTRAP) | int32(event)<<8}
	return t.ptraceStop(ptraceEventStop, sig, event, info).stopped
}

// ptraceRunChecks makes the stops due before t returns to the
// application: a PTRACE_INTERRUPT request. Called from the run loop when
// ptraceFlags is set.
func (t *Task) ptraceRunChecks() {
	if t.ptraceFlags.Load()&ptraceInterrupt == 0 {
		return
	}
	t.ptraceEventStopNoMsg(linux.PTRACE_EVENT_STOP, linux.SIGTRAP)
}

// ptraceSyscallStopSig is the stop signal of syscall stops.
func (t *Task) ptraceSyscallStopSig() linux.Signal {
	if t.ptraceOptions()&linux.PTRACE_O_TRACESYSGOOD != 0 {
		return linux.SIGTRAP | 0x80
	}
	return linux.SIGTRAP
}

// ptraceSyscallEnter makes the syscall-entry-stop. It reports whether the
// syscall must be skipped: the tracer set the number to -1 (the return
// register then holds what it left there), or t is being killed.
func (t *Task) ptraceSyscallEnter() bool {
	if t.ptraceFlags.Load()&ptraceSyscallTrace == 0 {
		return false
	}
	nr := t.syscallState.Nr
	t.ac.SetSyscallEntryRegs(nr)
	sig := t.ptraceSyscallStopSig()
	info := &linux.SignalInfo{Signo: int32(linux.SIGTRAP), Code: int32(sig)}
	if !t.ptraceStop(ptraceSyscallEntryStop, sig, 0, info).stopped {
		return t.isKilled()
	}
	if t.ac.SyscallNo() == arch.SkipSyscallNo {
		return true
	}
	t.syscallState = t.ac.SyscallState()
	return false
}

// ptraceSyscallExit makes the syscall-exit-stop, or, when
// single-stepping, the SIGTRAP Linux reports right after the syscall
// instruction.
func (t *Task) ptraceSyscallExit() {
	f := t.ptraceFlags.Load()
	switch {
	case f&ptraceStepping != 0:
		info := &linux.SignalInfo{Signo: int32(linux.SIGTRAP), Code: linux.TRAP_BRKPT}
		t.SendSignal(info)
	case f&ptraceSyscallTrace != 0:
		sig := t.ptraceSyscallStopSig()
		info := &linux.SignalInfo{Signo: int32(linux.SIGTRAP), Code: int32(sig)}
		t.ptraceStop(ptraceSyscallExitStop, sig, 0, info)
	}
}

// ptraceSeccompTrace handles SECCOMP_RET_TRACE with data for a traced
// task: a PTRACE_EVENT_SECCOMP stop if the tracer asked for it, ENOSYS
// otherwise. It reports whether the syscall must be skipped.
func (t *Task) ptraceSeccompTrace(data uint32) bool {
	if t.ptraceOptions()&linux.PTRACE_O_TRACESECCOMP == 0 {
		t.seccompFail(t.syscallState.Nr, linux.ENOSYS)
		return true
	}
	t.ac.SetSyscallEntryRegs(t.syscallState.Nr)
	t.k.tasksMu.Lock()
	t.ptrace.eventMsg = uint64(data)
	t.ptrace.seccompStop = true
	t.k.tasksMu.Unlock()
	stopped := t.ptraceEventStopNoMsg(linux.PTRACE_EVENT_SECCOMP, linux.SIGTRAP)
	t.k.tasksMu.Lock()
	t.ptrace.seccompStop = false
	t.k.tasksMu.Unlock()
	if !stopped && t.isKilled() {
		return true
	}
	if t.ac.SyscallNo() == arch.SkipSyscallNo {
		return true
	}
	t.syscallState = t.ac.SyscallState()
	return false
}

// ptraceTracerTIDLocked returns t's TID as its tracer sees it.
func (t *Task) ptraceTracerTIDLocked() ThreadID {
	if tr := t.ptrace.tracer; tr != nil {
		return tr.tg.pidns.idOfTask(t)
	}
	return 0
}

// TracerPID returns the TGID, in ns, of t's tracer; 0 if untraced
// (/proc/PID/status TracerPid).
func (t *Task) TracerPID(ns *PIDNamespace) ThreadID {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	if tr := t.ptrace.tracer; tr != nil {
		return ns.tgids[tr.tg]
	}
	return 0
}
