package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/loader"
	"appkernel.dev/appkernel/pkg/sentry/mm"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// ProcTestTaskOptions describe a task made by NewProcTestTask.
type ProcTestTaskOptions struct {
	// Parent is the new process's parent; nil makes the namespace's
	// first process. Ignored for a thread.
	Parent *Task
	// ThreadOf, when set, makes the task a new thread of that task's
	// group, sharing its address space, files and fs context.
	ThreadOf *Task
	Creds    *auth.Credentials
	// MM, FDTable and FSContext are the new process's resources; the
	// task takes over the caller's references.
	MM        *mm.MemoryManager
	FDTable   *vfs.FDTable
	FSContext *FSContext
	Image     *loader.Result
}

// NewProcTestTask registers a task that never runs, with the resources
// opts gives it, in k's root PID namespace. It is for tests of packages
// that inspect tasks (/proc); running tasks are made by CreateProcess and
// Clone.
func NewProcTestTask(k *Kernel, opts ProcTestTaskOptions) (*Task, error) {
	cfg := &taskConfig{
		parent:     opts.Parent,
		handlers:   NewSignalHandlers(),
		exitSignal: linux.SIGCHLD,
		pidns:      k.rootPIDNS,
		mm:         opts.MM,
	}
	if l := opts.ThreadOf; l != nil {
		cfg.parent, cfg.tg = l.parent, l.tg
		if l.mm != nil && l.mm.IncUsers() {
			cfg.mm = l.mm
		}
	}
	k.tasksMu.Lock()
	t, err := k.newTaskLocked(cfg)
	k.tasksMu.Unlock()
	if err != nil {
		return nil, err
	}
	t.creds = opts.Creds
	t.fdTable, t.fsContext, t.image = opts.FDTable, opts.FSContext, opts.Image
	if l := opts.ThreadOf; l != nil {
		t.creds, t.image = l.creds, l.image
		if l.fdTable != nil {
			l.fdTable.IncRef()
			t.fdTable = l.fdTable
		}
		if l.fsContext != nil {
			l.fsContext.IncRef()
			t.fsContext = l.fsContext
		}
	}
	return t, nil
}

// ProcTestExit makes a task that never ran exit with status, as if it
// had called exit(2); its group becomes a zombie when it was the last.
func ProcTestExit(t *Task, status linux.WaitStatus) { t.exitThread(status) }
