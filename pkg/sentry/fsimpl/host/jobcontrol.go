package host

import "context"

// JobControl is the kernel's part of a terminal's job control. Process
// groups and sessions exist only inside the sandbox, so a host terminal
// cannot check TIOCSPGRP's argument or translate process group IDs
// between PID namespaces itself. The kernel's task implements this and
// makes the system call's context carry it (ContextWithJobControl, or a
// context that implements JobControl itself).
//
// Without one (tests, or before the kernel provides it), TIOCSPGRP
// stores the ID it is given after rejecting negative ones, and TIOCGPGRP
// returns the stored ID unchanged; nothing checks that the group exists
// or belongs to the caller's session, and no SIGTTOU is sent to
// background callers.
type JobControl interface {
	// ForegroundGroupToSet validates TIOCSPGRP on a terminal: pgid, as
	// the caller sees it, must name a process group of the caller's
	// session, and the terminal must be the caller's controlling
	// terminal. It returns the group's ID in the root PID namespace, or
	// ENOTTY, ESRCH or EPERM as Linux would, or the interrupt error if
	// the caller was a background process that had to be sent SIGTTOU.
	ForegroundGroupToSet(ctx context.Context, pgid int32) (int32, error)
	// VisibleProcessGroup maps a root-namespace process group ID to the
	// caller's PID namespace, 0 if it is not visible there (TIOCGPGRP).
	VisibleProcessGroup(ctx context.Context, rootPGID int32) int32
}

type ctxKey int

// CtxJobControl is the context.Context key whose value is the calling
// task's JobControl.
const CtxJobControl ctxKey = 0

// ContextWithJobControl returns a context that carries jc.
func ContextWithJobControl(ctx context.Context, jc JobControl) context.Context {
	return context.WithValue(ctx, CtxJobControl, jc)
}

func jobControlFromContext(ctx context.Context) JobControl {
	if jc, ok := ctx.(JobControl); ok {
		return jc
	}
	if jc, ok := ctx.Value(CtxJobControl).(JobControl); ok {
		return jc
	}
	return nil
}
