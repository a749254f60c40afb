package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// WaitOptions selects what Wait waits for, as wait4 and waitid encode it.
type WaitOptions struct {
	// Which children: by TGID (PID > 0), by process group (PGID > 0), or
	// any (both zero).
	PID, PGID ThreadID
	// Events are WEXITED, WSTOPPED, WCONTINUED; Flags are WNOHANG, WNOWAIT,
	// __WALL, __WCLONE, __WNOTHREAD.
	Events, Flags int
}

// WaitResult describes the child Wait found.
type WaitResult struct {
	// PID is the child's TGID in the waiter's namespace.
	PID ThreadID
	// UID is the child's real UID.
	UID uint32
	// Status is the wait4 status word.
	Status linux.WaitStatus
	// Code is waitid's si_code (CLD_*), and CodeStatus its si_status.
	Code       int32
	CodeStatus int32
	// Usage is the child's resource usage (its own plus its reaped
	// children's) for wait4's rusage.
	Usage Usage
}

// errNoWaitable says there are children, but none has anything to report
// yet, under WNOHANG.
var errNoWaitable = linux.EAGAIN

// Wait implements wait4 and waitid: it blocks until a child of t's thread
// group matching opts has a state change to report. It returns ECHILD if
// no child matches, nil result with no error under WNOHANG when nothing
// is ready, and the interruption error if a signal arrives.
func (t *Task) Wait(opts WaitOptions) (*WaitResult, error) {
	interrupted := false
	for {
		t.k.tasksMu.Lock()
		res, ch, err := t.waitOnceLocked(opts)
		t.k.tasksMu.Unlock()
		if err != errNoWaitable {
			return res, err
		}
		if opts.Flags&linux.WNOHANG != 0 {
			return nil, nil
		}
		if interrupted {
			return nil, ErrInterrupted
		}
		// A child's exit often arrives together with the SIGCHLD that
		// interrupts the wait; like Linux, look at the children once more
		// before giving up.
		interrupted = t.Block(ch) != nil
	}
}

// waitOnceLocked looks for a reportable child once. Requires tasksMu held
// for writing (it may reap).
func (t *Task) waitOnceLocked(opts WaitOptions) (*WaitResult, <-chan struct{}, error) {
	tg := t.tg
	var parents []*Task
	if opts.Flags&linux.WNOTHREAD != 0 {
		parents = []*Task{t}
	} else {
		for p := range tg.tasks {
			parents = append(parents, p)
		}
		if tg.leader.exitState != taskRunning {
			// A dead leader's children still belong to the group until
			// they are reparented at the group's exit.
			parents = append(parents, tg.leader)
		}
	}
	any := false
	for _, p := range parents {
		for child := range p.children {
			if !child.IsLeader() || !t.waitMatchesLocked(child.tg, opts) {
				continue
			}
			any = true
			if res := t.waitReportLocked(child.tg, opts); res != nil {
				return res, nil, nil
			}
		}
	}
	res, traced := t.ptraceWaitLocked(parents, opts)
	if res != nil {
		return res, nil, nil
	}
	if !any && !traced {
		return nil, nil, linux.ECHILD
	}
	return nil, tg.childEvent, errNoWaitable
}

// waitMatchesLocked applies opts' PID/PGID and __WCLONE/__WALL selection.
func (t *Task) waitMatchesLocked(child *ThreadGroup, opts WaitOptions) bool {
	if opts.PID > 0 && t.tg.pidns.idOfThreadGroup(child) != opts.PID {
		return false
	}
	if opts.PGID > 0 && child.pgid != opts.PGID {
		return false
	}
	if opts.Flags&linux.WALL != 0 {
		return true
	}
	// A "clone" child is one that signals something other than SIGCHLD
	// at exit; __WCLONE selects only those, its absence only the others.
	isClone := child.exitSignal != linux.SIGCHLD
	return isClone == (opts.Flags&linux.WCLONE != 0)
}

// waitReportLocked returns the report child has for opts, consuming it
// unless WNOWAIT, or nil.
func (t *Task) waitReportLocked(child *ThreadGroup, opts WaitOptions) *WaitResult {
	consume := opts.Flags&linux.WNOWAIT == 0
	res := &WaitResult{PID: t.tg.pidns.idOfThreadGroup(child), UID: child.leader.realUID()}
	switch {
	case child.zombie && opts.Events&linux.WEXITED != 0:
		child.signalMu.Lock()
		ws := child.exitStatus
		child.signalMu.Unlock()
		res.Status = ws
		res.Code = childExitCode(ws)
		if ws.Exited() {
			res.CodeStatus = int32(ws.ExitStatus())
		} else {
			res.CodeStatus = int32(ws.Signal())
		}
		res.Usage = child.exitedUsage
		res.Usage.add(child.childrenUsage)
		if consume {
			child.reapLocked()
		}
		return res
	case child.ptraceTracedByLocked(t.tg):
		// Its tracer (this process) sees its stops as ptrace-stops.
		return nil
	case child.stopReport != 0 && opts.Events&linux.WSTOPPED != 0:
		res.Status = linux.WaitStatusStopped(child.stopReport, 0)
		res.Code = linux.CLD_STOPPED
		res.CodeStatus = int32(child.stopReport)
		if consume {
			child.stopReport = 0
		}
		return res
	case child.continueReport && opts.Events&linux.WCONTINUED != 0:
		res.Status = linux.WaitStatusContinued
		res.Code = linux.CLD_CONTINUED
		res.CodeStatus = int32(linux.SIGCONT)
		if consume {
			child.continueReport = false
		}
		return res
	}
	return nil
}
