package kernel

import (
	"sync"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Per-task and per-process attributes set through prctl(2) and
// set_robust_list(2). They live in side tables keyed by a weak pointer to
// the Task or ThreadGroup, not in those structs, so that they could be
// added without touching the core task files; an entry disappears with its
// task. They are therefore not part of a checkpoint yet: moving taskAttrs
// and processAttrs into Task and ThreadGroup as fields is the intended
// next step, and only the two lookup functions below would change.
//
// What execve and clone do to them is applied by the syscall handlers
// through ResetAttrsForExec and InheritAttrs.

// taskAttrs are per-thread attributes.
type taskAttrs struct {
	// mu guards every field.
	mu sync.Mutex
	// comm is the thread's name (PR_SET_NAME, /proc/PID/comm); empty
	// until set, meaning the program's base name.
	comm string
	// robustList is the set_robust_list head address, 0 when none.
	robustList uintptr
	// pdeathSignal is sent to the thread when its parent thread exits.
	pdeathSignal linux.Signal
	// noNewPrivs is PR_SET_NO_NEW_PRIVS: sticky, inherited by children.
	noNewPrivs bool
}

// processAttrs are per-process attributes.
type processAttrs struct {
	// mu guards every field.
	mu sync.Mutex
	// dumpableSet reports that dumpable was changed from its default,
	// SUID_DUMP_USER.
	dumpableSet bool
	dumpable    int32
	// childSubreaper is PR_SET_CHILD_SUBREAPER.
	childSubreaper bool
}

// attrs returns t's attributes, creating them on first use.
func (t *Task) attrs() *taskAttrs {
	return lazyField(&t.attrsField, func() *taskAttrs { return &taskAttrs{} })
}

// attrs returns tg's attributes, creating them on first use.
func (tg *ThreadGroup) attrs() *processAttrs {
	return lazyField(&tg.attrsField, func() *processAttrs { return &processAttrs{} })
}

// maxCommLen is TASK_COMM_LEN without the terminating NUL.
const maxCommLen = 15

// Name returns t's name (PR_GET_NAME, /proc/PID/comm): the last
// PR_SET_NAME, else the base name of the running program.
func (t *Task) Name() string {
	a := t.attrs()
	a.mu.Lock()
	name := a.comm
	a.mu.Unlock()
	if name == "" && t.image != nil {
		name = t.image.Comm
	}
	return name
}

// SetName implements PR_SET_NAME; name is cut to 15 bytes as Linux does.
func (t *Task) SetName(name string) {
	if len(name) > maxCommLen {
		name = name[:maxCommLen]
	}
	a := t.attrs()
	a.mu.Lock()
	a.comm = name
	a.mu.Unlock()
}

// RobustList returns the set_robust_list head of t, 0 if none; the futex
// code walks it when t exits.
func (t *Task) RobustList() uintptr {
	a := t.attrs()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.robustList
}

// SetRobustList records set_robust_list's head.
func (t *Task) SetRobustList(addr uintptr) {
	a := t.attrs()
	a.mu.Lock()
	a.robustList = addr
	a.mu.Unlock()
}

// ParentDeathSignal returns PR_GET_PDEATHSIG's value.
func (t *Task) ParentDeathSignal() linux.Signal {
	a := t.attrs()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pdeathSignal
}

// SetParentDeathSignal implements PR_SET_PDEATHSIG (0 clears it).
func (t *Task) SetParentDeathSignal(sig linux.Signal) error {
	if sig != 0 && !sig.IsValid() {
		return linux.EINVAL
	}
	a := t.attrs()
	a.mu.Lock()
	a.pdeathSignal = sig
	a.mu.Unlock()
	return nil
}

// NoNewPrivs reports PR_GET_NO_NEW_PRIVS.
func (t *Task) NoNewPrivs() bool {
	a := t.attrs()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.noNewPrivs
}

// SetNoNewPrivs implements PR_SET_NO_NEW_PRIVS; it cannot be undone.
func (t *Task) SetNoNewPrivs() {
	a := t.attrs()
	a.mu.Lock()
	a.noNewPrivs = true
	a.mu.Unlock()
}

// Dumpable returns PR_GET_DUMPABLE's value for tg (SUID_DUMP_*).
func (tg *ThreadGroup) Dumpable() int32 {
	a := tg.attrs()
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.dumpableSet {
		return linux.SUID_DUMP_USER
	}
	return a.dumpable
}

// SetDumpable implements PR_SET_DUMPABLE: only SUID_DUMP_DISABLE and
// SUID_DUMP_USER may be set by a program.
func (tg *ThreadGroup) SetDumpable(d int32) error {
	if d != linux.SUID_DUMP_DISABLE && d != linux.SUID_DUMP_USER {
		return linux.EINVAL
	}
	a := tg.attrs()
	a.mu.Lock()
	a.dumpableSet, a.dumpable = true, d
	a.mu.Unlock()
	return nil
}

// ChildSubreaper reports PR_GET_CHILD_SUBREAPER.
func (tg *ThreadGroup) ChildSubreaper() bool {
	a := tg.attrs()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.childSubreaper
}

// SetChildSubreaper records PR_SET_CHILD_SUBREAPER. Orphans are not yet
// reparented to a subreaper: they still go to init.
func (tg *ThreadGroup) SetChildSubreaper(on bool) {
	a := tg.attrs()
	a.mu.Lock()
	a.childSubreaper = on
	a.mu.Unlock()
}

// InheritAttrs gives child, just created by t with clone flags, the
// attributes Linux copies at clone: the name and no_new_privs always; a
// new process also the dumpable mode (it lives in the address space
// description, which fork copies). The robust list and the parent-death
// signal start cleared, and a new process is not a subreaper. Values the
// child set itself before this ran are kept.
func (t *Task) InheritAttrs(child *Task, flags uint64) {
	name := t.Name()
	nnp := t.NoNewPrivs()
	a := child.attrs()
	a.mu.Lock()
	if a.comm == "" {
		a.comm = name
	}
	a.noNewPrivs = a.noNewPrivs || nnp
	a.mu.Unlock()
	// A vfork child has nearly always exec'd by now, which reset the
	// mode; the parent's must not override that.
	if flags&(linux.CLONE_THREAD|linux.CLONE_VFORK) == 0 && child.tg != t.tg {
		d := t.tg.Dumpable()
		pa := child.tg.attrs()
		pa.mu.Lock()
		if !pa.dumpableSet {
			pa.dumpableSet, pa.dumpable = true, d
		}
		pa.mu.Unlock()
	}
}

// ResetAttrsForExec applies a successful execve to t's attributes: the
// name becomes the new program's, the robust list is forgotten, and the
// process is dumpable again (no set-user-ID execution exists to keep it
// otherwise). Only t's goroutine may call it.
func (t *Task) ResetAttrsForExec() {
	comm := ""
	if t.image != nil {
		comm = t.image.Comm
	}
	a := t.attrs()
	a.mu.Lock()
	a.comm = comm
	a.robustList = 0
	a.mu.Unlock()
	pa := t.tg.attrs()
	pa.mu.Lock()
	pa.dumpableSet = false
	pa.mu.Unlock()
}

// signalParentDeathLocked sends each thread of t's children that asked
// for it (PR_SET_PDEATHSIG) its parent-death signal, as Linux does when
// the parent thread exits. The exit path must call it before the children
// are reparented. Requires tasksMu.
func (t *Task) signalParentDeathLocked() {
	for child := range t.children {
		for thread := range child.tg.tasks {
			sig := thread.ParentDeathSignal()
			if sig == 0 {
				continue
			}
			info := &linux.SignalInfo{Signo: int32(sig), Code: linux.SI_USER}
			info.SetPID(int32(child.tg.pidns.idOfThreadGroup(t.tg)))
			thread.sendSignalLocked(info, true, false)
		}
	}
}
