package kernel

import (
	"slices"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/loader"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// This file is the kernel's read-only face for /proc (fsimpl/proc): it
// lets another task's goroutine look at a task without reaching into
// fields the task goroutine owns.

// ProcThreadGroupIDs returns, in increasing order, the IDs in ns of the
// thread groups /proc lists: every group visible in ns that has not been
// reaped (zombies included, as Linux lists them).
func (k *Kernel) ProcThreadGroupIDs(ns *PIDNamespace) []ThreadID {
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	ids := make([]ThreadID, 0, len(ns.groups))
	for id, tg := range ns.groups {
		if !tg.reaped {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// ProcThreadGroup returns the unreaped thread group whose TGID in ns is
// id, or nil.
func (k *Kernel) ProcThreadGroup(ns *PIDNamespace, id ThreadID) *ThreadGroup {
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	tg := ns.groups[id]
	if tg == nil || tg.reaped {
		return nil
	}
	return tg
}

// ProcLastPID returns the ID ns allocated most recently (the last field
// of /proc/loadavg).
func (k *Kernel) ProcLastPID(ns *PIDNamespace) ThreadID {
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	return ns.last
}

// ProcTaskCount returns how many tasks (threads) are alive in ns.
func (k *Kernel) ProcTaskCount(ns *PIDNamespace) int {
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	n := 0
	for _, t := range ns.tasks {
		if t.exitState == taskRunning {
			n++
		}
	}
	return n
}

// ProcID returns tg's TGID in ns, 0 if it is not visible there.
func (tg *ThreadGroup) ProcID(ns *PIDNamespace) ThreadID {
	tg.k.tasksMu.RLock()
	defer tg.k.tasksMu.RUnlock()
	return ns.tgids[tg]
}

// ProcTaskIDs returns the TIDs in ns of tg's live tasks, in increasing
// order. A zombie group whose threads are all gone keeps its leader,
// as /proc/PID/task does on Linux.
func (tg *ThreadGroup) ProcTaskIDs(ns *PIDNamespace) []ThreadID {
	tg.k.tasksMu.RLock()
	defer tg.k.tasksMu.RUnlock()
	var ids []ThreadID
	for t := range tg.tasks {
		if id := ns.tids[t]; id != 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 && !tg.reaped {
		if id := ns.tids[tg.leader]; id != 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// ProcTask returns tg's task whose TID in ns is tid, or nil.
func (tg *ThreadGroup) ProcTask(ns *PIDNamespace, tid ThreadID) *Task {
	tg.k.tasksMu.RLock()
	defer tg.k.tasksMu.RUnlock()
	t := ns.tasks[tid]
	if t == nil || t.tg != tg {
		return nil
	}
	if t.exitState != taskRunning && t != tg.leader {
		return nil
	}
	return t
}

// ProcID returns t's TID in ns, 0 if it is not visible there.
func (t *Task) ProcID(ns *PIDNamespace) ThreadID {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return ns.tids[t]
}

// ProcTaskState is a task's state letter as /proc shows it.
type ProcTaskState byte

// Task states (fs/proc/array.c's task_state_array).
const (
	ProcRunning  ProcTaskState = 'R'
	ProcSleeping ProcTaskState = 'S'
	ProcStopped  ProcTaskState = 'T'
	ProcZombie   ProcTaskState = 'Z'
	ProcDead     ProcTaskState = 'X'
)

// String returns the state as the status file spells it.
func (s ProcTaskState) String() string {
	switch s {
	case ProcRunning:
		return "R (running)"
	case ProcSleeping:
		return "S (sleeping)"
	case ProcStopped:
		return "T (stopped)"
	case ProcZombie:
		return "Z (zombie)"
	default:
		return "X (dead)"
	}
}

// ProcTaskStatus is a consistent snapshot of a task for
// /proc/PID/status and stat, with IDs as seen from one PID namespace.
type ProcTaskStatus struct {
	// Comm is the task's name.
	Comm  string
	State ProcTaskState
	// TID, TGID, PPID, PGID and SID are IDs in the viewing namespace; 0
	// when not visible there (a parent outside it, say).
	TID, TGID, PPID, PGID, SID ThreadID
	// NSTGID, NSPID, NSPGID and NSSID are the IDs in every namespace from
	// the viewing one down to the task's own (status's NS* lines).
	NSTGID, NSPID, NSPGID, NSSID []ThreadID
	// Threads counts the group's live tasks.
	Threads int
	// ExitSignal is the signal the parent gets when the group exits.
	ExitSignal linux.Signal
	// Pending is the thread's own pending set, SharedPending the
	// group's; Blocked the thread's mask; Ignored and Caught come from
	// the dispositions.
	Pending, SharedPending, Blocked, Ignored, Caught linux.SignalSet
	Creds                                            *auth.Credentials
}

// ProcStatus takes the snapshot of t as seen from ns by reader (the task
// reading /proc, or nil). A task that is not stopped or dead is sleeping
// while its goroutine is parked (blocked in a system call, a futex wait,
// a ptrace stop) and running otherwise, in the application or the
// Sentry.
func (t *Task) ProcStatus(ns *PIDNamespace, reader *Task) ProcTaskStatus {
	var s ProcTaskStatus
	s.Comm = t.procComm()
	s.Creds = t.Credentials()

	k := t.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	tg := t.tg
	s.TID = ns.tids[t]
	s.TGID = ns.tgids[tg]
	if p := tg.leader.parent; p != nil {
		s.PPID = ns.tgids[p.tg]
	}
	s.PGID = k.rootIDToNSLocked(ns, tg.pgid)
	s.SID = k.rootIDToNSLocked(ns, tg.sid)
	for _, n := range nsChain(tg.pidns, ns) {
		s.NSTGID = append(s.NSTGID, n.tgids[tg])
		s.NSPID = append(s.NSPID, n.tids[t])
		s.NSPGID = append(s.NSPGID, k.rootIDToNSLocked(n, tg.pgid))
		s.NSSID = append(s.NSSID, k.rootIDToNSLocked(n, tg.sid))
	}
	s.Threads = len(tg.tasks)
	s.ExitSignal = tg.exitSignal

	tg.signalMu.Lock()
	switch {
	case t.exitState == taskDead:
		s.State = ProcZombie
		if tg.reaped {
			s.State = ProcDead
		}
	case t.exitState == taskExiting:
		s.State = ProcDead
	case tg.stopped:
		s.State = ProcStopped
	case t == reader || !t.asleep.Load():
		s.State = ProcRunning
	default:
		s.State = ProcSleeping
	}
	s.Pending = t.pending.set
	s.SharedPending = tg.pending.set
	s.Blocked = t.mask
	handlers := tg.handlers
	tg.signalMu.Unlock()

	handlers.mu.Lock()
	for sig := linux.Signal(1); sig <= linux.NumSignals; sig++ {
		switch h := handlers.actions[sig].Handler; h {
		case linux.SIG_DFL:
		case linux.SIG_IGN:
			s.Ignored |= sig.Mask()
		default:
			s.Caught |= sig.Mask()
		}
	}
	handlers.mu.Unlock()
	return s
}

// nsChain returns the namespaces from view down to own (own's ancestors
// up to view, outermost first); only own if view is not an ancestor.
func nsChain(own, view *PIDNamespace) []*PIDNamespace {
	var chain []*PIDNamespace
	for n := own; n != nil; n = n.parent {
		chain = append(chain, n)
		if n == view {
			break
		}
	}
	slices.Reverse(chain)
	return chain
}

// procComm is the task's name: the base name of the program it runs.
func (t *Task) procComm() string {
	if img := t.ProcImage(); img != nil {
		return img.Comm
	}
	return ""
}

// The accessors below read fields the task goroutine replaces without a
// lock (execve swaps mm and image, exit clears mm, fdTable and
// fsContext). The values they return are safe to use afterwards: each
// object stays valid (if emptied) once its task drops it. Reading the
// pointer itself still races with the swap until the kernel guards
// these fields with a per-task lock, as Linux's task_lock does.

// ProcImage returns what t's current program was loaded from, or nil.
func (t *Task) ProcImage() *loader.Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.image
}

// ProcMemoryManager returns t's address space with a user reference the
// caller drops with DecUsers, or nil once t has released it.
func (t *Task) ProcMemoryManager() *mm.MemoryManager {
	t.mu.Lock()
	m := t.mm
	t.mu.Unlock()
	if m == nil || !m.IncUsers() {
		return nil
	}
	return m
}

// ProcFDTable returns t's descriptor table, or nil once t has exited.
func (t *Task) ProcFDTable() *vfs.FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fdTable
}

// ProcFSContext returns t's root, working directory and umask, or nil
// once t has exited.
func (t *Task) ProcFSContext() *FSContext {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fsContext
}

// ProcPIDNamespace returns the PID namespace tg was created in, which a
// procfs mounted by one of its tasks shows.
func (tg *ThreadGroup) ProcPIDNamespace() *PIDNamespace { return tg.pidns }

// ProcPIDMax is /proc/sys/kernel/pid_max: IDs stay below it.
const ProcPIDMax = maxThreadID

// ProcExecutable returns the file the running program was loaded from
// (for a script, its interpreter), without a reference: the caller takes
// one if it keeps it. ok is false when t runs no program.
func (t *Task) ProcExecutable() (vd vfs.VirtualDentry, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exe, t.exe.Ok()
}
