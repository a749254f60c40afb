package kernel

import (
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// Resource limits (getrlimit, setrlimit, prlimit64): one table per
// process, inherited across fork and kept across execve.

// NROpen is /proc/sys/fs/nr_open's default: RLIMIT_NOFILE's hard limit
// may not exceed it, even with CAP_SYS_RESOURCE.
const NROpen = 1 << 20

// defaultRLimits are the limits of the sandbox's first process when runsc
// sets none: Linux's defaults for init (RLIMIT_NOFILE as systemd-era
// distributions raise it), with the task-count limits taken from the
// host, where Linux derives them from memory size.
func defaultRLimits() [linux.RLIM_NLIMITS]linux.Rlimit {
	inf := linux.Rlimit{Cur: linux.RLimInfinity, Max: linux.RLimInfinity}
	var l [linux.RLIM_NLIMITS]linux.Rlimit
	for i := range l {
		l[i] = inf
	}
	l[linux.RLIMIT_STACK] = linux.Rlimit{Cur: defaultStackLimit, Max: linux.RLimInfinity}
	l[linux.RLIMIT_CORE] = linux.Rlimit{Cur: 0, Max: linux.RLimInfinity}
	l[linux.RLIMIT_NOFILE] = linux.Rlimit{Cur: 1024, Max: NROpen}
	l[linux.RLIMIT_MEMLOCK] = linux.Rlimit{Cur: 8 << 20, Max: 8 << 20}
	l[linux.RLIMIT_MSGQUEUE] = linux.Rlimit{Cur: 819200, Max: 819200}
	l[linux.RLIMIT_NICE] = linux.Rlimit{}
	l[linux.RLIMIT_RTPRIO] = linux.Rlimit{}
	l[linux.RLIMIT_NPROC] = hostTaskLimit
	l[linux.RLIMIT_SIGPENDING] = hostTaskLimit
	return l
}

// hostTaskLimit is the host's RLIMIT_NPROC for this process, read once at
// start, or a typical value for a few GiB of memory.
var hostTaskLimit = func() linux.Rlimit {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &r); err != nil || r.Cur == unix.RLIM_INFINITY {
		return linux.Rlimit{Cur: 63704, Max: 63704}
	}
	return linux.Rlimit{Cur: r.Cur, Max: r.Max}
}()

// SetDefaultRLimit sets limit resource of processes created from now on
// without a parent in the sandbox (runsc applies the OCI spec's
// process.rlimits with it before the first process starts).
func (k *Kernel) SetDefaultRLimit(resource int, lim linux.Rlimit) error {
	if resource < 0 || resource >= linux.RLIM_NLIMITS || lim.Cur > lim.Max {
		return linux.EINVAL
	}
	e := k.extras()
	e.mu.Lock()
	e.defaultLimits[resource] = lim
	e.mu.Unlock()
	return nil
}

// RLimit returns limit resource of t's process. resource must be valid.
func (t *Task) RLimit(resource int) linux.Rlimit {
	e := t.tg.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.limits[resource]
}

// NOFILELimit is RLIMIT_NOFILE's soft limit, the value the FD table
// enforces (vfs.CtxNOFILELimit).
func (t *Task) NOFILELimit() uint64 { return t.RLimit(linux.RLIMIT_NOFILE).Cur }

// Prlimit implements prlimit64(2), and getrlimit/setrlimit with pid 0:
// it returns limit resource of process pid (0 for t's own) and, when
// newLim is not nil, replaces it.
func (t *Task) Prlimit(pid ThreadID, resource int, newLim *linux.Rlimit) (linux.Rlimit, error) {
	if resource < 0 || resource >= linux.RLIM_NLIMITS {
		return linux.Rlimit{}, linux.EINVAL
	}
	if newLim != nil && newLim.Cur > newLim.Max {
		return linux.Rlimit{}, linux.EINVAL
	}
	target := t
	if pid != 0 {
		t.k.tasksMu.RLock()
		target = t.tg.pidns.tasks[pid]
		t.k.tasksMu.RUnlock()
		if target == nil {
			return linux.Rlimit{}, linux.ESRCH
		}
	}
	creds := t.Credentials()
	if target.tg != t.tg && !mayPrlimit(creds, target.Credentials()) {
		return linux.Rlimit{}, linux.EPERM
	}
	if newLim != nil && resource == linux.RLIMIT_NOFILE && newLim.Max > NROpen {
		return linux.Rlimit{}, linux.EPERM
	}

	e := target.tg.extras()
	e.mu.Lock()
	old := e.limits[resource]
	if newLim != nil {
		if newLim.Max > old.Max && !creds.HasCapability(linux.CAP_SYS_RESOURCE) {
			e.mu.Unlock()
			return linux.Rlimit{}, linux.EPERM
		}
		e.limits[resource] = *newLim
	}
	e.mu.Unlock()

	if newLim != nil && resource == linux.RLIMIT_STACK && target.tg == t.tg && t.mm != nil {
		// Threads share the address space; another process's picks the
		// limit up at its next execve.
		t.mm.SetStackRlimit(newLim.Cur)
	}
	return old, nil
}

// mayPrlimit is Linux's check for acting on another process's limits:
// the caller's real IDs must match all of the target's user and group
// IDs, or it must have CAP_SYS_RESOURCE.
func mayPrlimit(c, target *auth.Credentials) bool {
	if c.RealKUID == target.RealKUID && c.RealKUID == target.EffectiveKUID && c.RealKUID == target.SavedKUID &&
		c.RealKGID == target.RealKGID && c.RealKGID == target.EffectiveKGID && c.RealKGID == target.SavedKGID {
		return true
	}
	return c.HasCapabilityIn(linux.CAP_SYS_RESOURCE, target.UserNamespace)
}
