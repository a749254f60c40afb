package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
)

// Owners of files for signal-driven I/O (fcntl(2) F_SETOWN, F_SETOWN_EX):
// the kernel half of vfs.FileOwner. As Linux's f_owner, an owner names a
// task, a process or a process group by identity rather than by number,
// so a recycled ID never receives another's signals, and carries the
// real and effective UID of whoever set it, which sigio_perm checks
// against each target when a signal is sent.

// fileOwner implements vfs.FileOwner.
//
// +stateify savable
type fileOwner struct {
	k *Kernel
	// kind is F_OWNER_TID, F_OWNER_PID or F_OWNER_PGRP.
	kind int32
	// task is the thread of an F_OWNER_TID owner. For F_OWNER_PID it is
	// the task the ID named: F_GETOWN shows it only if it is the
	// process's leader (Linux looks the ID up as a TGID), but its
	// process gets the signals while it lives, leader or not (Linux
	// finds the task by PID and signals its thread group).
	task *Task
	// pgid is an F_OWNER_PGRP owner's group, a root-namespace ID.
	pgid ThreadID
	// uid and euid are the setter's real and effective UIDs.
	uid, euid auth.KUID
}

// NewFileOwner resolves F_SETOWN_EX's (kind, id), id in t's PID
// namespace, to an owner that has t's credentials. id 0 makes an owner
// with no target (Linux's NULL f_owner.pid), which F_GETOWN_EX reports
// by kind alone. An id no task or process group has is ESRCH.
func (t *Task) NewFileOwner(kind int32, id ThreadID) (vfs.FileOwner, error) {
	if kind != linux.F_OWNER_TID && kind != linux.F_OWNER_PID && kind != linux.F_OWNER_PGRP {
		return nil, linux.EINVAL
	}
	o := &fileOwner{k: t.k, kind: kind}
	if c := t.Credentials(); c != nil {
		o.uid, o.euid = c.RealKUID, c.EffectiveKUID
	}
	if id == 0 {
		return o, nil
	}
	if id < 0 {
		return nil, linux.ESRCH
	}
	k := t.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	ns := t.tg.pidns
	switch kind {
	case linux.F_OWNER_PGRP:
		// Linux accepts any ID in use: a task's, or a group or session
		// whose creator is gone.
		root := k.nsIDToRootLocked(ns, id)
		if root == 0 && ns == k.rootPIDNS && k.processGroupMemberLocked(id) != nil {
			root = id
		}
		if root == 0 {
			if target := ns.tasks[id]; target != nil {
				root = k.rootPIDNS.tids[target]
			}
		}
		if root == 0 {
			return nil, linux.ESRCH
		}
		o.pgid = root
	default:
		target := ns.tasks[id]
		if target == nil {
			return nil, linux.ESRCH
		}
		o.task = target
	}
	return o, nil
}

// FileOwnerID returns o's kind and ID as t's namespace sees them (F_GETOWN,
// F_GETOWN_EX). The ID is 0 once the target is gone: a reaped task or
// process, a process group without members (Linux 6.x's pid_task check).
func (t *Task) FileOwnerID(fo vfs.FileOwner) (kind int32, id ThreadID) {
	o, ok := fo.(*fileOwner)
	if !ok || o == nil {
		return linux.F_OWNER_TID, 0
	}
	k := t.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	ns := t.tg.pidns
	switch o.kind {
	case linux.F_OWNER_TID:
		if o.task != nil {
			id = ns.tids[o.task]
		}
	case linux.F_OWNER_PID:
		if tg := o.processLocked(); tg != nil {
			id = ns.tgids[tg]
		}
	case linux.F_OWNER_PGRP:
		if o.pgid != 0 && k.processGroupMemberLocked(o.pgid) != nil {
			id = k.rootIDToNSLocked(ns, o.pgid)
		}
	}
	return o.kind, id
}

// processLocked returns the live process of an F_OWNER_PID owner, nil
// if the ID named a non-leader thread or the process was reaped.
// Requires tasksMu.
func (o *fileOwner) processLocked() *ThreadGroup {
	if o.task == nil || o.task.tg.leader != o.task || o.task.tg.reaped {
		return nil
	}
	return o.task.tg
}

// SendFileSignal implements vfs.FileOwner.
func (o *fileOwner) SendFileSignal(info *linux.SignalInfo) {
	k := o.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	switch o.kind {
	case linux.F_OWNER_TID:
		if o.task != nil && k.rootPIDNS.tids[o.task] != 0 && o.mayNotify(o.task) {
			o.task.sendSignalLocked(info, false, false)
		}
	case linux.F_OWNER_PID:
		target := o.task
		if tg := o.processLocked(); tg != nil {
			target = tg.leader
		} else if target != nil && k.rootPIDNS.tids[target] == 0 {
			target = nil
		}
		if target != nil && o.mayNotify(target) {
			target.sendSignalLocked(info, true, false)
		}
	case linux.F_OWNER_PGRP:
		if o.pgid == 0 {
			return
		}
		for tg := range k.rootPIDNS.tgids {
			if tg.pgid == o.pgid && !tg.reaped && o.mayNotify(tg.leader) {
				tg.leader.sendSignalLocked(info, true, false)
			}
		}
	}
}

// Named implements vfs.FileOwner: an ID of 0 names nobody.
func (o *fileOwner) Named() bool { return o.task != nil || o.pgid != 0 }

// mayNotify is Linux's sigio_perm: the owner's setter must have been
// root, or share a real or effective UID with the target's real or saved
// UID.
func (o *fileOwner) mayNotify(target *Task) bool {
	tc := target.Credentials()
	if tc == nil || o.euid == auth.RootKUID {
		return true
	}
	return o.euid == tc.SavedKUID || o.euid == tc.RealKUID ||
		o.uid == tc.SavedKUID || o.uid == tc.RealKUID
}
