package kernel

import (
	"sync"
	"sync/atomic"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// This file holds per-process and per-thread state of the resource,
// scheduling and timer syscalls (rlimits, nice, affinity, interval and
// POSIX timers, CPU accounting, personality, UTS names), created on first
// use and hung off Kernel, ThreadGroup and Task.
//
// Limits: this state is not checkpointed yet (the fields are nosave), and
// a new process or thread inherits it from its creator at the first
// access after clone unless Clone calls InheritResourceState.

// tgExtras is a process's share of that state.
type tgExtras struct {
	// mu guards every field below and the state of tg's timers.
	mu sync.Mutex
	// limits are the process's resource limits.
	limits [linux.RLIM_NLIMITS]linux.Rlimit
	// itimers are ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF.
	itimers [3]*ktimer
	// timers are the POSIX timers by ID; nextTimerID is the next ID
	// timer_create tries.
	timers      map[int32]*ktimer
	nextTimerID int32
	// membarrierRegistered are the MEMBARRIER_CMD_REGISTER_* commands the
	// process has issued.
	membarrierRegistered int
}

// taskExtras is a thread's share of that state.
type taskExtras struct {
	// mu guards the scheduling fields below.
	mu sync.Mutex
	// nice is the nice value, -20..19.
	nice int
	// policy is the scheduling policy (SCHED_*, with
	// SCHED_RESET_ON_FORK), rtPriority its sched_priority.
	policy     int32
	rtPriority int32
	// affinity is the CPU affinity mask; nil means every sandbox CPU.
	affinity cpuSet
	// ioprio is the ioprio_set value (0 = none set).
	ioprio int32
	// personality is the personality(2) value.
	personality uint32

	// cpu is the task's CPU time accounting.
	cpu taskCPU
}

// kernelExtras is the kernel's share: the UTS names, which sethostname
// changes.
type kernelExtras struct {
	// mu guards the fields below.
	mu         sync.Mutex
	hostname   string
	domainname string
	// defaultLimits are the limits of the first process (runsc sets them
	// from the OCI spec).
	defaultLimits [linux.RLIM_NLIMITS]linux.Rlimit
}

// lazyField returns *p, creating it with mk on first use. Racing first
// uses agree on one value.
func lazyField[V any](p *atomic.Pointer[V], mk func() *V) *V {
	if v := p.Load(); v != nil {
		return v
	}
	if v := mk(); p.CompareAndSwap(nil, v) {
		return v
	}
	return p.Load()
}

// extras returns k's side state.
func (k *Kernel) extras() *kernelExtras {
	return lazyField(&k.extrasField, func() *kernelExtras {
		return &kernelExtras{
			hostname:      k.Host.Hostname,
			domainname:    k.Host.Domainname,
			defaultLimits: defaultRLimits(),
		}
	})
}

// extras returns tg's side state. The caller must not hold tasksMu: a
// first access looks up the process's parent to inherit from.
func (tg *ThreadGroup) extras() *tgExtras {
	return lazyField(&tg.extrasField, func() *tgExtras {
		e := &tgExtras{}
		tg.k.tasksMu.RLock()
		var parent *Task
		if tg.leader != nil {
			parent = tg.leader.parent
		}
		tg.k.tasksMu.RUnlock()
		if parent != nil && parent.tg != tg {
			pe := parent.tg.extras()
			pe.mu.Lock()
			e.limits = pe.limits
			pe.mu.Unlock()
		} else {
			ke := tg.k.extras()
			ke.mu.Lock()
			e.limits = ke.defaultLimits
			ke.mu.Unlock()
		}
		return e
	})
}

// extras returns t's side state. The caller must not hold tasksMu.
func (t *Task) extras() *taskExtras {
	return lazyField(&t.extrasField, func() *taskExtras {
		e := &taskExtras{}
		// Without a clone hook, a thread inherits from its group's
		// leader and a process's first thread from the task that forked
		// it, as seen at first access.
		t.k.tasksMu.RLock()
		from := t.tg.leader
		if from == t {
			from = t.parent
		}
		t.k.tasksMu.RUnlock()
		if from != nil && from != t {
			from.extras().inheritInto(e)
		}
		return e
	})
}

// inheritInto copies what a new task inherits from its creator.
func (e *taskExtras) inheritInto(child *taskExtras) {
	e.mu.Lock()
	defer e.mu.Unlock()
	child.nice = e.nice
	child.policy = e.policy
	child.rtPriority = e.rtPriority
	if e.policy&linux.SCHED_RESET_ON_FORK != 0 {
		// sched(7): the child gets SCHED_OTHER and a non-negative nice.
		child.policy = linux.SCHED_NORMAL
		child.rtPriority = 0
		child.nice = max(child.nice, 0)
	}
	child.affinity = e.affinity.clone()
	child.ioprio = e.ioprio
	child.personality = e.personality
}

// InheritResourceState gives child the resource limits, scheduling
// attributes, CPU affinity, I/O priority and personality it inherits from
// t, its creator. Clone should call it right after creating child and
// before starting it; flags are the clone flags (CLONE_THREAD shares the
// process state instead of copying it). Without the call the child
// inherits lazily, from the state at its first access.
func (t *Task) InheritResourceState(child *Task, flags uint64) {
	ce := &taskExtras{}
	t.extras().inheritInto(ce)
	child.extrasField.Store(ce)
	if flags&linux.CLONE_THREAD != 0 {
		return
	}
	pe := t.tg.extras()
	cge := &tgExtras{}
	pe.mu.Lock()
	cge.limits = pe.limits
	pe.mu.Unlock()
	child.tg.extrasField.Store(cge)
}
