package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// ExitGroup starts the exit of t's whole thread group with status ws
// (exit_group, a fatal signal). The calling task then exits itself via
// its run loop.
func (t *Task) ExitGroup(ws linux.WaitStatus) {
	t.ptrace.exitCaller = true
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	t.tg.signalMu.Lock()
	defer t.tg.signalMu.Unlock()
	t.tg.killLocked(ws)
}

// exitThread finishes t: it leaves its thread group, and the group becomes
// a zombie when t was its last task. status is the exit(2) status used if
// the group was not already exiting for another reason.
func (t *Task) exitThread(status linux.WaitStatus) {
	t.ptraceExitEvent(status)
	t.releaseResources()

	k := t.k
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	tg := t.tg
	tg.signalMu.Lock()
	if !tg.exiting && len(tg.tasks) == 1 {
		// The last thread calling exit(2) decides the status.
		tg.exitStatus = status
	}
	t.exitState = taskDead
	delete(tg.tasks, t)
	last := len(tg.tasks) == 0
	if last {
		tg.exiting = true
	}
	tg.exitedUsage.add(t.usage)
	tg.signalMu.Unlock()
	k.exitedCPU.add(t.usage)

	t.signalParentDeathLocked()
	t.reparentChildrenLocked()
	if t.ptraceFlags.Load() != 0 || len(t.ptrace.tracees) != 0 || (last && tg.leader.ptrace.tracer != nil) {
		t.ptraceExitLocked(status, last)
	}

	if t != tg.leader {
		// Non-leader threads are reaped at once; their TIDs are free.
		t.unregisterLocked()
		k.taskReapedLocked()
	}
	if last {
		tg.exitSessionTTYLocked()
		tg.zombie = true
		tg.exitIPCLocked()
		tg.becameZombieLocked()
		tg.notifyPidfdsLocked()
	}
}

// becameZombieLocked notifies the parent that tg exited, or reaps tg at
// once when nobody will wait for it. Requires tasksMu held for writing.
func (tg *ThreadGroup) becameZombieLocked() {
	if tg.isInitLocked() {
		// Init's exit takes every other task of the namespace with it.
		tg.pidns.killAllLocked()
	}
	parent := tg.leader.parent
	if parent == nil {
		// A process the sandbox's owner started: nobody in the sandbox
		// reaps it; the owner reads its status.
		if tg == tg.k.rootPIDNS.init {
			tg.signalMu.Lock()
			tg.k.rootExitStatus = tg.exitStatus
			tg.signalMu.Unlock()
		}
		close(tg.exited)
		tg.reapLocked()
		return
	}
	ptg := parent.tg
	autoreap := false
	if tg.exitSignal == linux.SIGCHLD {
		act := ptg.handlers.Get(linux.SIGCHLD)
		// POSIX: a parent ignoring SIGCHLD, or with SA_NOCLDWAIT, does
		// not create zombies.
		autoreap = act.Handler == linux.SIG_IGN || act.Flags&linux.SA_NOCLDWAIT != 0
	}
	if tg.exitSignal != 0 {
		info := tg.childSignalInfoLocked(childExitCode(tg.exitStatus))
		info.Signo = int32(tg.exitSignal)
		parent.sendSignalLocked(info, true, false)
	}
	ptg.notifyChildEventLocked()
	if autoreap {
		tg.reapLocked()
	}
}

// childExitCode is the si_code SIGCHLD and waitid report for ws.
func childExitCode(ws linux.WaitStatus) int32 {
	switch {
	case ws.Exited():
		return linux.CLD_EXITED
	case ws.CoreDump():
		return linux.CLD_DUMPED
	default:
		return linux.CLD_KILLED
	}
}

// childSignalInfoLocked builds the siginfo of a SIGCHLD about tg.
func (tg *ThreadGroup) childSignalInfoLocked(code int32) *linux.SignalInfo {
	info := &linux.SignalInfo{Signo: int32(linux.SIGCHLD), Code: code}
	if parent := tg.leader.parent; parent != nil {
		info.SetPID(int32(parent.tg.pidns.idOfThreadGroup(tg)))
	}
	switch code {
	case linux.CLD_EXITED:
		info.SetStatus(int32(tg.exitStatus.ExitStatus()))
	case linux.CLD_STOPPED:
		info.SetStatus(int32(tg.stopReport))
	case linux.CLD_CONTINUED:
		info.SetStatus(int32(linux.SIGCONT))
	default:
		info.SetStatus(int32(tg.exitStatus.Signal()))
	}
	u := tg.exitedUsage
	info.SetUtime(int64(u.User / clockTick))
	info.SetStime(int64(u.System / clockTick))
	return info
}

// reapLocked removes a zombie thread group for good. Requires tasksMu
// held for writing.
func (tg *ThreadGroup) reapLocked() {
	if tg.reaped {
		return
	}
	tg.reaped = true
	tg.leader.ptraceReapedLocked()
	if parent := tg.leader.parent; parent != nil {
		delete(parent.children, tg.leader)
		u := tg.exitedUsage
		u.add(tg.childrenUsage)
		parent.tg.childrenUsage.add(u)
	}
	tg.leader.unregisterLocked()
	tg.k.taskReapedLocked()
	tg.notifyPidfdsLocked()
}

// reparentChildrenLocked hands t's children to another thread of t's
// group, or to init of their namespace, as Linux does on exit. Requires
// tasksMu held for writing.
func (t *Task) reparentChildrenLocked() {
	if len(t.children) == 0 {
		return
	}
	var newParent *Task
	for other := range t.tg.tasks {
		newParent = other
		break
	}
	if newParent == nil {
		if init := t.tg.pidns.init; init != nil && init != t.tg && len(init.tasks) > 0 {
			newParent = init.leader
			if init.leader.exitState != taskRunning {
				for other := range init.tasks {
					newParent = other
					break
				}
			}
		}
	}
	for child := range t.children {
		delete(t.children, child)
		child.parent = newParent
		if newParent == nil {
			// No reaper left: the namespace is going away.
			if child.tg.zombie {
				child.tg.reapLocked()
			}
			continue
		}
		newParent.children[child] = true
		if child.tg.zombie {
			newParent.tg.notifyChildEventLocked()
		}
	}
}

// unregisterLocked frees t's IDs in every namespace. Requires tasksMu
// held for writing.
func (t *Task) unregisterLocked() {
	for ns := t.tg.pidns; ns != nil; ns = ns.parent {
		if id, ok := ns.tids[t]; ok {
			delete(ns.tids, t)
			delete(ns.tasks, id)
		}
		if t.tg.leader == t {
			if id, ok := ns.tgids[t.tg]; ok {
				delete(ns.tgids, t.tg)
				delete(ns.groups, id)
			}
		}
	}
}

// killAllLocked kills every thread group of ns but its init, as when
// init exits. Requires tasksMu.
func (ns *PIDNamespace) killAllLocked() {
	for tg := range ns.tgids {
		if tg == ns.init {
			continue
		}
		tg.signalMu.Lock()
		tg.killLocked(linux.WaitStatusSignaled(linux.SIGKILL, false))
		tg.signalMu.Unlock()
	}
}

// taskReapedLocked accounts one task gone for good.
func (k *Kernel) taskReapedLocked() {
	k.liveTasks--
	if k.liveTasks == 0 {
		close(k.allGone)
	}
}
