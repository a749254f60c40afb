package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// wait4 and waitid for tracers: the ptrace-stops and exits of tracees.

// ptraceWaitLocked looks through the tracees of parents (the waiting
// task, or every task of its group) for a stop or exit to report. Every
// tracee is eligible whatever __WCLONE says, as in Linux; a ptrace-stop
// is reported without WUNTRACED. It also reports whether any tracee
// matched opts. Requires tasksMu held for writing.
func (t *Task) ptraceWaitLocked(parents []*Task, opts WaitOptions) (*WaitResult, bool) {
	any := false
	consume := opts.Flags&linux.WNOWAIT == 0
	for _, p := range parents {
		for tracee := range p.ptrace.tracees {
			tp := &tracee.ptrace
			id := tp.exitID
			if !tp.exited {
				id = t.tg.pidns.idOfTask(tracee)
			}
			if opts.PID > 0 && id != opts.PID {
				continue
			}
			if opts.PGID > 0 && tracee.tg.pgid != opts.PGID {
				continue
			}
			if tp.exited && tracee.IsLeader() && tracee.parent != nil && tracee.parent.tg == t.tg {
				continue
			}
			any = true
			switch {
			case tp.exited && opts.Events&linux.WEXITED != 0:
				ws := tp.exitStatus
				res := &WaitResult{PID: id, UID: tracee.realUID(), Status: ws, Code: childExitCode(ws), CodeStatus: exitCodeStatus(ws)}
				res.Usage = tracee.usage
				if consume {
					delete(p.ptrace.tracees, tracee)
					tp.tracer, tp.exited = nil, false
				}
				return res, true
			case tp.stop != ptraceRunning && tp.reportable:
				res := &WaitResult{
					PID:        id,
					UID:        tracee.realUID(),
					Status:     linux.WaitStatusStopped(tp.stopSig, tp.stopEvent),
					Code:       linux.CLD_TRAPPED,
					CodeStatus: int32(tp.stopSig),
				}
				if consume {
					tp.reportable = false
				}
				return res, true
			}
		}
	}
	return nil, any
}

// ptraceTracedByLocked reports whether tg's leader is traced by a task of
// waiter's group, whose ptrace-stops then replace the group-stop reports.
func (tg *ThreadGroup) ptraceTracedByLocked(waiter *ThreadGroup) bool {
	tr := tg.leader.ptrace.tracer
	return tr != nil && tr.tg == waiter
}
