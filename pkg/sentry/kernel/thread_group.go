package kernel

import (
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// ThreadGroup is a process: the tasks that share a PID, signal
// disposition, pending process-directed signals, and exit status.
//
// +stateify savable
type ThreadGroup struct {
	k *Kernel

	// The fields below are guarded by Kernel.tasksMu.

	// leader is the task whose TID is the group's TGID.
	leader *Task
	// tasks are the live (not yet exited) member tasks, leader included
	// while it runs.
	tasks map[*Task]bool
	// pidns is the namespace the group was created in.
	pidns *PIDNamespace
	// pgid and sid are the process group and session, as IDs in the
	// root namespace (setpgid/setsid change them).
	pgid, sid ThreadID
	// exitSignal is what the parent is sent when the group exits (the low
	// byte of clone's flags; SIGCHLD for fork).
	exitSignal linux.Signal
	// zombie is set once every task has exited and the group waits to be
	// reaped by its parent.
	zombie bool
	// reaped is set once the parent collected the exit status (or it was
	// autoreaped).
	reaped bool
	// childEvent is closed and replaced whenever a child of any task in
	// this group changes state in a way wait4 reports.
	childEvent chan struct{} `state:"nosave"`
	// waitable records a stop or continue not yet reported to the parent.
	stopReport     linux.Signal
	continueReport bool

	// extrasField and attrsField hold per-process state of the resource
	// and prctl syscalls (task_extras.go, task_attrs.go).
	extrasField atomic.Pointer[tgExtras]     `state:"nosave"`
	attrsField  atomic.Pointer[processAttrs] `state:"nosave"`
	// rseqCPUTable is the process's virtual CPUs for rseq threads,
	// created at the first registration (rseq_cpus.go).
	rseqCPUTable atomic.Pointer[rseqCPUTable] `state:"nosave"`

	// usage is the CPU time of exited member tasks, and of reaped
	// children (for RUSAGE_CHILDREN and times).
	exitedUsage   Usage
	childrenUsage Usage

	// signalMu guards signal delivery state: the group's pending queue,
	// its exit state, its stop state, and every member task's signal mask
	// and pending queue.
	signalMu sync.Mutex `state:"nosave"`
	// handlers is the table of signal dispositions.
	handlers *SignalHandlers
	pending  pendingSignals
	// exiting is set when the group is being torn down (exit_group, a
	// fatal signal, execve by another thread). Guarded by signalMu.
	exiting bool
	// exitStatus is the status wait4 reports. Guarded by signalMu.
	exitStatus linux.WaitStatus
	// exited is closed when a group without a parent in the sandbox
	// (one the sandbox's owner started: the first process, or one
	// `runsc exec` added) has exited; its owner then reads exitStatus.
	exited chan struct{} `state:"nosave"`
	// lostUnkillable is set when init took a fault it could not handle:
	// it no longer ignores default-action signals. Guarded by signalMu.
	lostUnkillable bool
	// stopped is set while the group is in a group stop. Guarded by
	// signalMu.
	stopped bool
	// stopCh is closed when a group stop ends. Guarded by signalMu.
	stopCh chan struct{} `state:"nosave"`
	// groupStopSig is the signal that started the current group stop,
	// for the tracers of its tasks. Guarded by signalMu.
	groupStopSig linux.Signal
}

func newThreadGroup(k *Kernel, ns *PIDNamespace, h *SignalHandlers, exitSignal linux.Signal) *ThreadGroup {
	return &ThreadGroup{
		k:          k,
		tasks:      make(map[*Task]bool),
		pidns:      ns,
		exitSignal: exitSignal,
		childEvent: make(chan struct{}),
		handlers:   h,
		exited:     make(chan struct{}),
	}
}

// Leader returns the group's leader.
func (tg *ThreadGroup) Leader() *Task { return tg.leader }

// PIDNamespace returns the namespace the group was created in, where
// ID numbers it.
func (tg *ThreadGroup) PIDNamespace() *PIDNamespace { return tg.pidns }

// ID returns the group's TGID in its own namespace.
func (tg *ThreadGroup) ID() ThreadID {
	tg.k.tasksMu.RLock()
	defer tg.k.tasksMu.RUnlock()
	return tg.pidns.idOfThreadGroup(tg)
}

// notifyChildEventLocked wakes tasks of tg waiting in wait4. Requires
// tasksMu held for writing.
func (tg *ThreadGroup) notifyChildEventLocked() {
	close(tg.childEvent)
	tg.childEvent = make(chan struct{})
}

// isInitLocked reports whether tg is init of its namespace.
func (tg *ThreadGroup) isInitLocked() bool { return tg.pidns.init == tg }

// ExternalExit returns a channel closed once tg, a process without a
// parent in the sandbox (see CreateProcess), has exited, and then its
// wait status. For other groups the channel is never closed.
func (tg *ThreadGroup) ExternalExit() (<-chan struct{}, func() linux.WaitStatus) {
	return tg.exited, func() linux.WaitStatus {
		tg.signalMu.Lock()
		defer tg.signalMu.Unlock()
		return tg.exitStatus
	}
}
