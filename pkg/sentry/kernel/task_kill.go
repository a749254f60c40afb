package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// The functions below send signals on behalf of an application's kill(2),
// tgkill(2), rt_sigqueueinfo(2) and friends: they find the targets, apply
// kill's permission rule, and queue info unchanged (the caller fills in
// si_code, si_pid and si_uid). Signal 0 only checks existence and
// permission. As in Linux, an invalid signal number is reported (EINVAL)
// only once a target was found, so a missing target is ESRCH first.

// SignalProcess sends a process-directed signal to the process containing
// the task with ID pid in t's namespace (kill with pid > 0; a thread's TID
// names its whole process, as on Linux).
func (t *Task) SignalProcess(pid ThreadID, info *linux.SignalInfo) error {
	k := t.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	target := t.tg.pidns.tasks[pid]
	if target == nil {
		return linux.ESRCH
	}
	return t.sendCheckedLocked(target.tg.leader, info, true)
}

// SignalThread sends a thread-directed signal to the task with ID tid in
// t's namespace (tkill, tgkill, rt_tgsigqueueinfo). When tgid > 0 the
// task must belong to that process, else ESRCH.
func (t *Task) SignalThread(tgid, tid ThreadID, info *linux.SignalInfo) error {
	k := t.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	ns := t.tg.pidns
	target := ns.tasks[tid]
	if target == nil || (tgid > 0 && ns.idOfThreadGroup(target.tg) != tgid) {
		return linux.ESRCH
	}
	return t.sendCheckedLocked(target, info, false)
}

// SignalProcessGroup sends info to every process of the process group
// pgid of t's namespace, t's own group when pgid is 0 (kill with pid 0 or
// pid < -1). It succeeds if any process got the signal; otherwise it
// returns the last error, ESRCH for an empty group.
func (t *Task) SignalProcessGroup(pgid ThreadID, info *linux.SignalInfo) error {
	k := t.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	ns := t.tg.pidns
	rootPGID := t.tg.pgid
	if pgid != 0 {
		rootPGID = k.nsIDToRootLocked(ns, pgid)
		if rootPGID == 0 {
			return linux.ESRCH
		}
	}
	var lastErr error = linux.ESRCH
	ok := false
	for tg := range ns.tgids {
		if tg.pgid != rootPGID {
			continue
		}
		err := t.sendCheckedLocked(tg.leader, info, true)
		if err == nil {
			ok = true
		}
		lastErr = err
	}
	if ok {
		return nil
	}
	return lastErr
}

// SignalAllProcesses implements kill(-1, sig): every process of t's
// namespace except its init and t's own process. As in Linux, targets
// refusing permission do not make the call fail; only when there is no
// target at all is it ESRCH, and otherwise another error (EINVAL for a bad
// signal) is reported.
func (t *Task) SignalAllProcesses(info *linux.SignalInfo) error {
	k := t.k
	k.tasksMu.RLock()
	defer k.tasksMu.RUnlock()
	ns := t.tg.pidns
	count := 0
	var result error
	for tg, id := range ns.tgids {
		if id <= 1 || tg == t.tg {
			continue
		}
		count++
		if err := t.sendCheckedLocked(tg.leader, info, true); err != nil && err != linux.EPERM {
			result = err
		}
	}
	if count == 0 {
		return linux.ESRCH
	}
	return result
}

// sendCheckedLocked applies kill's permission rule and queues info for
// target (its process when group). Requires tasksMu.
func (t *Task) sendCheckedLocked(target *Task, info *linux.SignalInfo, group bool) error {
	sig := linux.Signal(info.Signo)
	if sig != 0 && !sig.IsValid() {
		return linux.EINVAL
	}
	if !t.mayKillLocked(target, sig) {
		return linux.EPERM
	}
	if sig == 0 {
		return nil
	}
	return target.sendSignalLocked(info, group, false)
}

// mayKillLocked is Linux's check_kill_permission for a signal from user
// space: always within a process; otherwise the sender's real or
// effective UID must match the target's real or saved UID in the same
// user namespace, or the sender needs CAP_KILL over the target's user
// namespace; SIGCONT is also allowed within a session. Requires tasksMu.
func (t *Task) mayKillLocked(target *Task, sig linux.Signal) bool {
	if target.tg == t.tg {
		return true
	}
	c, tc := t.Credentials(), target.Credentials()
	if c == nil || tc == nil {
		// Tasks built by the kernel itself before credentials are
		// attached (unit tests) act as the sandbox's root.
		return true
	}
	if killOKByCreds(c, tc) {
		return true
	}
	return sig == linux.SIGCONT && target.tg.sid == t.tg.sid
}

// killOKByCreds is the UID half of kill's permission rule.
func killOKByCreds(c, tc *auth.Credentials) bool {
	if c.UserNamespace == tc.UserNamespace &&
		(c.EffectiveKUID == tc.SavedKUID || c.EffectiveKUID == tc.RealKUID ||
			c.RealKUID == tc.SavedKUID || c.RealKUID == tc.RealKUID) {
		return true
	}
	return c.HasCapabilityIn(linux.CAP_KILL, tc.UserNamespace)
}
