package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Process groups and sessions are kept as IDs in the root PID namespace
// (ThreadGroup.pgid, .sid). The functions below translate to and from the
// caller's namespace: a group or session ID is the TGID of the process
// that created it, which is visible in the caller's namespace when that
// process still exists there. In the root namespace the IDs are the same
// and survive their creator, as Linux's do.

// LookupTask returns the task with TID tid in t's PID namespace, or nil.
func (t *Task) LookupTask(tid ThreadID) *Task {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return t.tg.pidns.tasks[tid]
}

// LookupThreadGroup returns the process with TGID tgid in t's PID
// namespace, or nil.
func (t *Task) LookupThreadGroup(tgid ThreadID) *ThreadGroup {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return t.tg.pidns.groups[tgid]
}

// ThreadGroupIDOf returns other's TGID in t's PID namespace, 0 if it is
// not visible there.
func (t *Task) ThreadGroupIDOf(other *ThreadGroup) ThreadID {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return t.tg.pidns.idOfThreadGroup(other)
}

// ThreadIDOf returns other's TID in t's PID namespace, 0 if it is not
// visible there.
func (t *Task) ThreadIDOf(other *Task) ThreadID {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return t.tg.pidns.idOfTask(other)
}

// ParentThreadGroupID implements getppid(2): the TGID of t's parent
// process in t's namespace, 0 when there is none or it is outside the
// namespace (the sandbox's first process).
func (t *Task) ParentThreadGroupID() ThreadID {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	// A thread's parent is its group leader's parent.
	p := t.tg.leader.parent
	if p == nil {
		return 0
	}
	return t.tg.pidns.idOfThreadGroup(p.tg)
}

// rootIDToNSLocked translates a root-namespace process/group/session ID to
// ns. Requires tasksMu.
func (k *Kernel) rootIDToNSLocked(ns *PIDNamespace, id ThreadID) ThreadID {
	if ns == k.rootPIDNS {
		return id
	}
	if tg := k.rootPIDNS.groups[id]; tg != nil {
		return ns.idOfThreadGroup(tg)
	}
	return 0
}

// nsIDToRootLocked translates an ID of ns to the root namespace, 0 if no
// process of ns has it. Requires tasksMu.
func (k *Kernel) nsIDToRootLocked(ns *PIDNamespace, id ThreadID) ThreadID {
	if ns == k.rootPIDNS {
		return id
	}
	if tg := ns.groups[id]; tg != nil {
		return k.rootPIDNS.idOfThreadGroup(tg)
	}
	return 0
}

// ProcessGroupIDOf returns the process group of tg as an ID in t's
// namespace (getpgid, getpgrp).
func (t *Task) ProcessGroupIDOf(tg *ThreadGroup) ThreadID {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return t.k.rootIDToNSLocked(t.tg.pidns, tg.pgid)
}

// SessionIDOf returns the session of tg as an ID in t's namespace
// (getsid).
func (t *Task) SessionIDOf(tg *ThreadGroup) ThreadID {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return t.k.rootIDToNSLocked(t.tg.pidns, tg.sid)
}

// ProcessGroupRootID returns tg's process group as a root-namespace ID,
// the form WaitOptions.PGID takes.
func (tg *ThreadGroup) ProcessGroupRootID() ThreadID {
	tg.k.tasksMu.RLock()
	defer tg.k.tasksMu.RUnlock()
	return tg.pgid
}

// ProcessGroupToRootID translates a process group ID of t's namespace to
// the root namespace (for WaitOptions.PGID), 0 if no such process exists.
func (t *Task) ProcessGroupToRootID(pgid ThreadID) ThreadID {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	return t.k.nsIDToRootLocked(t.tg.pidns, pgid)
}

// isSessionLeaderLocked reports whether tg created its session (setsid, or
// the sandbox's first process). Requires tasksMu.
func (tg *ThreadGroup) isSessionLeaderLocked() bool {
	return tg.sid == tg.k.rootPIDNS.idOfThreadGroup(tg)
}

// processGroupMemberLocked returns a member of the process group with
// root ID pgid, or nil. Requires tasksMu.
func (k *Kernel) processGroupMemberLocked(pgid ThreadID) *ThreadGroup {
	for tg := range k.rootPIDNS.tgids {
		if tg.pgid == pgid && !tg.reaped {
			return tg
		}
	}
	return nil
}

// SetProcessGroup implements setpgid(2) for a caller t: target (0 for t's
// own process) joins or creates the process group pgid (0 for target's
// own PID), both IDs in t's namespace. It applies Linux's rules: EINVAL for
// a negative pgid or a target that is a thread but not a process; ESRCH
// for a target that is neither t's process nor one of its children; EPERM
// for a child in another session, a session leader, or a pgid that names
// no process group of t's session.
//
// Linux also refuses (EACCES) a child that has already called execve; the
// kernel does not record that yet, so such a child is moved.
func (t *Task) SetProcessGroup(target, pgid ThreadID) error {
	if pgid < 0 || (pgid == 0 && target < 0) {
		return linux.EINVAL
	}
	k := t.k
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	ns := t.tg.pidns
	var tg *ThreadGroup
	if target == 0 {
		tg = t.tg
		target = ns.idOfThreadGroup(tg)
	} else {
		task := ns.tasks[target]
		if task == nil {
			return linux.ESRCH
		}
		if !task.IsLeader() {
			return linux.EINVAL
		}
		tg = task.tg
	}
	if pgid == 0 {
		pgid = target
	}
	if tg != t.tg {
		parent := tg.leader.parent
		if parent == nil || parent.tg != t.tg {
			return linux.ESRCH
		}
		if tg.sid != t.tg.sid {
			return linux.EPERM
		}
	}
	if tg.isSessionLeaderLocked() {
		return linux.EPERM
	}
	rootTarget := k.rootPIDNS.idOfThreadGroup(tg)
	rootPGID := rootTarget
	if pgid != target {
		rootPGID = k.nsIDToRootLocked(ns, pgid)
		member := k.processGroupMemberLocked(rootPGID)
		if rootPGID == 0 || member == nil || member.sid != t.tg.sid {
			return linux.EPERM
		}
	}
	tg.pgid = rootPGID
	return nil
}

// CreateSession implements setsid(2): t's process becomes the leader of
// a new session and of a new process group, both named by its PID, which
// it returns. It is EPERM when a process group with that ID already exists
// (in particular when t's process leads its group).
func (t *Task) CreateSession() (ThreadID, error) {
	k := t.k
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	tg := t.tg
	id := k.rootPIDNS.idOfThreadGroup(tg)
	if tg.isSessionLeaderLocked() || k.processGroupMemberLocked(id) != nil {
		return 0, linux.EPERM
	}
	tg.sid, tg.pgid = id, id
	return tg.pidns.idOfThreadGroup(tg), nil
}
