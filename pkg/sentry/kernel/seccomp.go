package kernel

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/bpf"
)

// Seccomp state of application tasks (seccomp(2), PR_SET_SECCOMP).
//
// A task's state is an immutable taskSeccomp reached through
// Task.seccompField: nil for the unfiltered task, so the syscall path
// pays one pointer load when no filter exists. Installing a filter
// replaces the value; the filters themselves form a chain from the newest
// to the oldest that children share with their parent, as in Linux.
//
// Writers hold Kernel.tasksMu: for reading to change their own state or a
// new child's, for writing to change the other threads of their process
// (SECCOMP_FILTER_FLAG_TSYNC). So a clone that copies its parent's state
// cannot interleave with a TSYNC that changes it. The task goroutine
// reads its own state without a lock.
//
// The state is not part of a checkpoint yet (like taskAttrs).

// SeccompFilter is one installed filter program, linked to the filters
// installed before it.
type SeccompFilter struct {
	prog *bpf.Program
	prev *SeccompFilter
	// log is SECCOMP_FILTER_FLAG_LOG: log the actions this filter
	// decides other than ALLOW.
	log bool
	// insns is the size of this filter and all older ones, each with
	// its penalty, as Linux counts them against MaxSeccompPathInsns.
	insns int
	// depth is how many filters the chain holds, this one included
	// (/proc/PID/status Seccomp_filters).
	depth int
}

// taskSeccomp is a task's seccomp mode and filters.
type taskSeccomp struct {
	// mode is SECCOMP_MODE_STRICT or SECCOMP_MODE_FILTER.
	mode int
	// filters is the newest filter (FILTER mode).
	filters *SeccompFilter
}

// MaxSeccompPathInsns bounds the instructions of all a task's filters
// together, in Linux's translated size (bpf.Program.KernelLen) with a
// penalty of 4 for each older filter (MAX_INSNS_PER_PATH): installing
// more fails with ENOMEM.
const MaxSeccompPathInsns = (1 << 18) / linux.SizeofSockFilter

// seccompInsnPenalty is the per-filter overhead Linux adds when it sums
// the filters' lengths.
const seccompInsnPenalty = 4

// SeccompMode returns t's mode: SECCOMP_MODE_DISABLED, _STRICT or
// _FILTER (PR_GET_SECCOMP, /proc/PID/status).
func (t *Task) SeccompMode() int {
	if s := t.seccompField.Load(); s != nil {
		return s.mode
	}
	return linux.SECCOMP_MODE_DISABLED
}

// SeccompFilterCount returns how many filters t has installed, inherited
// ones included (/proc/PID/status Seccomp_filters).
func (t *Task) SeccompFilterCount() int {
	if s := t.seccompField.Load(); s != nil && s.filters != nil {
		return s.filters.depth
	}
	return 0
}

// SetSeccompStrict puts t in strict mode (SECCOMP_SET_MODE_STRICT): from
// now on only read, write, exit and rt_sigreturn are allowed and anything
// else kills the thread with SIGKILL. A task with filters cannot switch
// mode: EINVAL. Only t's goroutine may call it.
func (t *Task) SetSeccompStrict() error {
	t.k.tasksMu.RLock()
	defer t.k.tasksMu.RUnlock()
	s := t.seccompField.Load()
	if s != nil {
		if s.mode != linux.SECCOMP_MODE_STRICT {
			return linux.EINVAL
		}
		return nil
	}
	t.seccompField.Store(&taskSeccomp{mode: linux.SECCOMP_MODE_STRICT})
	return nil
}

// AddSeccompFilter installs prog as t's newest filter, with the
// SECCOMP_FILTER_FLAG_* flags TSYNC and LOG (the caller refuses the
// others). The caller has checked that t may install filters at all
// (no_new_privs or CAP_SYS_ADMIN).
//
// With TSYNC every other thread of the process gets the same filters,
// provided each has none or only filters t has too; otherwise nothing
// changes and the TID of the first thread in the way is returned (with
// errno nil), as seccomp(2) returns it. Only t's goroutine may call it,
// or anyone before t starts.
func (t *Task) AddSeccompFilter(prog *bpf.Program, flags uint32) (ThreadID, error) {
	tsync := flags&linux.SECCOMP_FILTER_FLAG_TSYNC != 0
	k := t.k
	if tsync {
		k.tasksMu.Lock()
		defer k.tasksMu.Unlock()
	} else {
		k.tasksMu.RLock()
		defer k.tasksMu.RUnlock()
	}
	old := t.seccompField.Load()
	var prev *SeccompFilter
	if old != nil {
		if old.mode != linux.SECCOMP_MODE_FILTER {
			return 0, linux.EINVAL
		}
		prev = old.filters
	}
	f := &SeccompFilter{
		prog:  prog,
		prev:  prev,
		log:   flags&linux.SECCOMP_FILTER_FLAG_LOG != 0,
		insns: prog.KernelLen() + seccompInsnPenalty,
		depth: 1,
	}
	// Linux counts the penalty of the filters installed before, not of
	// the new one.
	total := prog.KernelLen()
	if prev != nil {
		f.insns += prev.insns
		f.depth += prev.depth
		total += prev.insns
	}
	if total > MaxSeccompPathInsns {
		return 0, linux.ENOMEM
	}
	if tsync {
		for other := range t.tg.tasks {
			if other == t {
				continue
			}
			if !other.seccompSyncableLocked(prev) {
				if flags&linux.SECCOMP_FILTER_FLAG_TSYNC_ESRCH != 0 {
					return 0, linux.ESRCH
				}
				return t.tg.pidns.idOfTask(other), nil
			}
		}
	}
	next := &taskSeccomp{mode: linux.SECCOMP_MODE_FILTER, filters: f}
	t.seccompField.Store(next)
	if tsync {
		nnp := t.NoNewPrivs()
		for other := range t.tg.tasks {
			if other == t {
				continue
			}
			other.seccompField.Store(next)
			if nnp {
				other.SetNoNewPrivs()
			}
		}
	}
	return 0, nil
}

// seccompSyncableLocked reports whether TSYNC may give t the filters
// ending in caller: t has no seccomp state, or filters that are all
// among caller's. Requires tasksMu.
func (t *Task) seccompSyncableLocked(caller *SeccompFilter) bool {
	s := t.seccompField.Load()
	if s == nil {
		return true
	}
	if s.mode != linux.SECCOMP_MODE_FILTER {
		return false
	}
	for f := caller; f != nil; f = f.prev {
		if f == s.filters {
			return true
		}
	}
	return false
}

// inheritSeccomp gives child, just created by t's clone and not yet
// started, t's seccomp state, as fork and clone copy it in Linux.
func (t *Task) inheritSeccomp(child *Task) {
	if t.seccompField.Load() == nil {
		return
	}
	t.k.tasksMu.RLock()
	child.seccompField.Store(t.seccompField.Load())
	t.k.tasksMu.RUnlock()
}
