package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/mm"
)

// taskConfig describes a task being created.
type taskConfig struct {
	// parent is the creating task's parent for CLONE_PARENT/threads, or
	// the creating task; nil for the sandbox's first task.
	parent *Task
	// tg is the thread group to join (CLONE_THREAD), or nil to start a
	// new one with handlers, exitSignal and pidns.
	tg         *ThreadGroup
	handlers   *SignalHandlers
	exitSignal linux.Signal
	pidns      *PIDNamespace
	// mask is the initial signal mask (inherited from the creator).
	mask linux.SignalSet
	ac   *arch.Context
	mm   *mm.MemoryManager
}

// newTaskLocked creates and registers a task, not yet started. Requires
// tasksMu held for writing.
func (k *Kernel) newTaskLocked(cfg *taskConfig) (*Task, error) {
	t := &Task{
		k:           k,
		ac:          cfg.ac,
		mm:          cfg.mm,
		parent:      cfg.parent,
		children:    make(map[*Task]bool),
		mask:        cfg.mask,
		interruptCh: make(chan struct{}, 1),
		altStack:    linux.SignalStack{Flags: linux.SS_DISABLE},
	}
	tg := cfg.tg
	newGroup := tg == nil
	if newGroup {
		tg = newThreadGroup(k, cfg.pidns, cfg.handlers, cfg.exitSignal)
		tg.leader = t
	}
	if tg.exiting {
		// A thread cannot join a group that is exiting.
		return nil, linux.EAGAIN
	}
	t.tg = tg

	// Allocate an ID in every namespace from the group's up to the root,
	// so the task is visible to every ancestor.
	ids := make(map[*PIDNamespace]ThreadID)
	for ns := tg.pidns; ns != nil; ns = ns.parent {
		id, ok := ns.allocate()
		if !ok {
			return nil, linux.EAGAIN
		}
		ids[ns] = id
	}
	for ns, id := range ids {
		ns.tasks[id] = t
		ns.tids[t] = id
		if newGroup {
			ns.groups[id] = tg
			ns.tgids[tg] = id
		}
	}
	if newGroup {
		if tg.pidns.init == nil {
			tg.pidns.init = tg
		}
		if cfg.parent != nil {
			tg.pgid, tg.sid = cfg.parent.tg.pgid, cfg.parent.tg.sid
		} else {
			root := k.rootPIDNS.tgids[tg]
			tg.pgid, tg.sid = root, root
		}
	}
	tg.tasks[t] = true
	if cfg.parent != nil && newGroup {
		cfg.parent.children[t] = true
	}
	k.liveTasks++
	return t, nil
}
