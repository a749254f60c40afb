package kernel

import "context"

// AdoptForOpen is for /dev/tty opened by a process that has no
// controlling terminal yet: tc, a terminal the process holds, is given to
// the process's session now if the session would take it at its first
// job-control use (an owner-session terminal, see TTYControl.Init), which
// stands for the TIOCSCTTY a container runtime does before the process
// runs. It reports whether tc is then the caller's controlling terminal.
func (tc *TTYControl) AdoptForOpen(ctx context.Context) bool {
	t := TaskFromContext(ctx)
	if t == nil || !tc.ownerSession {
		return false
	}
	k := t.k
	k.tasksMu.Lock()
	defer k.tasksMu.Unlock()
	tc.adoptLocked(k, t.tg)
	return k.controllingTTYLocked(t.tg) == tc
}
