package kernel

import (
	"math/bits"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/hostcpu"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
)

// Scheduling attributes: nice values, policies, CPU affinity, I/O
// priorities and personality. Task goroutines are scheduled by Go, so
// these attributes are recorded and reported, not enforced (except that
// affinity masks are checked against the sandbox's CPUs); that is what an
// application can observe of them anyway.

// cpuSet is a CPU mask in Linux's byte order (bit n of byte n/8 is CPU
// n), hostCPUMaskSize bytes long; nil means every sandbox CPU.
type cpuSet []byte

func (s cpuSet) clone() cpuSet {
	if s == nil {
		return nil
	}
	return append(cpuSet(nil), s...)
}

var (
	// hostCPUMask is the set of CPUs the Sentry may run on, read once at
	// start; the sandbox's CPUs are exactly these.
	hostCPUMask cpuSet
	// hostCPUMaskSize is the host kernel's cpumask size in bytes, what
	// sched_getaffinity returns.
	hostCPUMaskSize int
	// hostNrCPUIDs stands in for Linux's nr_cpu_ids: one more than the
	// highest CPU in the mask.
	hostNrCPUIDs int
)

func init() {
	buf := make([]byte, 8192)
	n, _, errno := unix.RawSyscall(unix.SYS_SCHED_GETAFFINITY, 0, uintptr(len(buf)), uintptr(unsafe.Pointer(&buf[0])))
	if errno != 0 || n == 0 {
		// No host answer: the CPUs Go sees, in a one-word mask.
		n = uintptr((runtime.NumCPU() + 63) / 64 * 8)
		clear(buf[:n])
		for i := range runtime.NumCPU() {
			buf[i/8] |= 1 << (i % 8)
		}
	}
	hostCPUMask = append(cpuSet(nil), buf[:n]...)
	hostCPUMaskSize = int(n)
	for i := len(hostCPUMask) - 1; i >= 0; i-- {
		if b := hostCPUMask[i]; b != 0 {
			hostNrCPUIDs = i*8 + bits.Len8(b)
			break
		}
	}
	hostNrCPUIDs = max(hostNrCPUIDs, 1)
}

// NumCPUs returns how many CPUs the sandbox has.
func NumCPUs() int {
	n := 0
	for _, b := range hostCPUMask {
		n += bits.OnesCount8(b)
	}
	return max(n, 1)
}

// lookupSchedTarget returns the task with TID tid in t's namespace, t for
// 0, or ESRCH.
func (t *Task) lookupSchedTarget(tid ThreadID) (*Task, error) {
	if tid == 0 {
		return t, nil
	}
	t.k.tasksMu.RLock()
	target := t.tg.pidns.tasks[tid]
	t.k.tasksMu.RUnlock()
	if target == nil {
		return nil, linux.ESRCH
	}
	return target, nil
}

// sameOwner is Linux's check_same_owner: whether c may change target's
// scheduling without CAP_SYS_NICE.
func sameOwner(c, target *auth.Credentials) bool {
	return c.EffectiveKUID == target.EffectiveKUID || c.EffectiveKUID == target.RealKUID
}

// mayReschedule reports whether t may change target's scheduling.
func (t *Task) mayReschedule(target *Task) bool {
	if target == t {
		return true
	}
	c, tc := t.Credentials(), target.Credentials()
	return sameOwner(c, tc) || c.HasCapabilityIn(linux.CAP_SYS_NICE, tc.UserNamespace)
}

// GetAffinity implements sched_getaffinity(2): it returns the mask of
// thread tid (0 for t), size bytes long at most. size must cover every
// possible CPU and be a multiple of 8.
func (t *Task) GetAffinity(tid ThreadID, size int) ([]byte, error) {
	if size*8 < hostNrCPUIDs || size%8 != 0 {
		return nil, linux.EINVAL
	}
	target, err := t.lookupSchedTarget(tid)
	if err != nil {
		return nil, err
	}
	e := target.extras()
	e.mu.Lock()
	mask := e.affinity.clone()
	e.mu.Unlock()
	if mask == nil {
		mask = hostCPUMask.clone()
	}
	return mask[:min(size, len(mask))], nil
}

// SetAffinity implements sched_setaffinity(2). CPUs outside the sandbox
// are dropped; a mask with none of the sandbox's CPUs is EINVAL.
func (t *Task) SetAffinity(tid ThreadID, mask []byte) error {
	target, err := t.lookupSchedTarget(tid)
	if err != nil {
		return err
	}
	if !t.mayReschedule(target) {
		return linux.EPERM
	}
	eff := make(cpuSet, hostCPUMaskSize)
	any := false
	for i := range eff {
		if i < len(mask) {
			eff[i] = mask[i] & hostCPUMask[i]
		}
		any = any || eff[i] != 0
	}
	if !any {
		return linux.EINVAL
	}
	e := target.extras()
	e.mu.Lock()
	e.affinity = eff
	e.mu.Unlock()
	return nil
}

// Nice returns thread t's nice value.
func (t *Task) Nice() int {
	e := t.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nice
}

// priorityTargets returns the threads getpriority/setpriority's which and
// who select, in t's namespace.
func (t *Task) priorityTargets(which, who int32) ([]*Task, error) {
	k := t.k
	switch which {
	case linux.PRIO_PROCESS:
		target, err := t.lookupSchedTarget(ThreadID(who))
		if err != nil {
			return nil, nil
		}
		return []*Task{target}, nil
	case linux.PRIO_PGRP:
		k.tasksMu.RLock()
		defer k.tasksMu.RUnlock()
		ns := t.tg.pidns
		pgid := t.tg.pgid
		if who != 0 {
			// pgids are kept as root-namespace IDs.
			pgid = ThreadID(who)
			if ns != k.rootPIDNS {
				tg := ns.groups[ThreadID(who)]
				if tg == nil {
					return nil, nil
				}
				pgid = k.rootPIDNS.tgids[tg]
			}
		}
		var out []*Task
		for tg := range ns.tgids {
			if tg.pgid == pgid {
				for m := range tg.tasks {
					out = append(out, m)
				}
			}
		}
		return out, nil
	case linux.PRIO_USER:
		uid := t.Credentials().RealKUID
		if who != 0 {
			uid = t.Credentials().UserNamespace.MapToKUID(uint32(who))
		}
		k.tasksMu.RLock()
		all := make([]*Task, 0, len(t.tg.pidns.tids))
		for m := range t.tg.pidns.tids {
			all = append(all, m)
		}
		k.tasksMu.RUnlock()
		var out []*Task
		for _, m := range all {
			if m.Credentials().RealKUID == uid {
				out = append(out, m)
			}
		}
		return out, nil
	}
	return nil, linux.EINVAL
}

// GetPriority implements getpriority(2): the lowest nice value of the
// selected threads, or ESRCH if none matched.
func (t *Task) GetPriority(which, who int32) (int, error) {
	targets, err := t.priorityTargets(which, who)
	if err != nil {
		return 0, err
	}
	if len(targets) == 0 {
		return 0, linux.ESRCH
	}
	best := linux.MaxNice
	for _, m := range targets {
		best = min(best, m.Nice())
	}
	return best, nil
}

// SetPriority implements setpriority(2): every selected thread gets nice
// (clamped to -20..19). Lowering a nice value needs CAP_SYS_NICE or room
// under RLIMIT_NICE (EACCES); another user's threads need CAP_SYS_NICE
// (EPERM).
func (t *Task) SetPriority(which, who int32, nice int) error {
	targets, err := t.priorityTargets(which, who)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return linux.ESRCH
	}
	nice = min(max(nice, linux.MinNice), linux.MaxNice)
	c := t.Credentials()
	var lastErr error
	for _, m := range targets {
		mc := m.Credentials()
		if m != t && mc.RealKUID != c.EffectiveKUID && mc.EffectiveKUID != c.EffectiveKUID &&
			!c.HasCapabilityIn(linux.CAP_SYS_NICE, mc.UserNamespace) {
			lastErr = linux.EPERM
			continue
		}
		// Lock order: a task's extras never wait for a process's.
		limit := m.RLimit(linux.RLIMIT_NICE).Cur
		e := m.extras()
		e.mu.Lock()
		if nice < e.nice && !c.HasCapability(linux.CAP_SYS_NICE) && uint64(20-nice) > limit {
			e.mu.Unlock()
			lastErr = linux.EACCES
			continue
		}
		e.nice = nice
		e.mu.Unlock()
	}
	return lastErr
}

// schedRRInterval is SCHED_RR's time slice (Linux's RR_TIMESLICE).
const schedRRInterval = 100_000_000

// GetScheduler returns thread tid's policy (with SCHED_RESET_ON_FORK) and
// real-time priority.
func (t *Task) GetScheduler(tid ThreadID) (policy, priority int32, err error) {
	target, err := t.lookupSchedTarget(tid)
	if err != nil {
		return 0, 0, err
	}
	e := target.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.policy, e.rtPriority, nil
}

// SchedPolicyPriorityRange returns sched_get_priority_min/max for policy.
func SchedPolicyPriorityRange(policy int32) (lo, hi int32, err error) {
	switch policy {
	case linux.SCHED_FIFO, linux.SCHED_RR:
		return 1, 99, nil
	case linux.SCHED_NORMAL, linux.SCHED_BATCH, linux.SCHED_IDLE, linux.SCHED_DEADLINE:
		return 0, 0, nil
	}
	return 0, 0, linux.EINVAL
}

// SetScheduler implements sched_setscheduler(2) and, with keepPolicy,
// sched_setparam(2).
func (t *Task) SetScheduler(tid ThreadID, policy, priority int32, keepPolicy bool) error {
	target, err := t.lookupSchedTarget(tid)
	if err != nil {
		return err
	}
	limit := target.RLimit(linux.RLIMIT_RTPRIO).Cur
	e := target.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	if keepPolicy {
		policy = e.policy
	}
	base := policy &^ linux.SCHED_RESET_ON_FORK
	lo, hi, err := SchedPolicyPriorityRange(base)
	if err != nil || base == linux.SCHED_DEADLINE || priority < lo || priority > hi {
		// SCHED_DEADLINE needs sched_setattr's parameters.
		return linux.EINVAL
	}
	if !t.mayReschedule(target) {
		return linux.EPERM
	}
	c := t.Credentials()
	if !c.HasCapability(linux.CAP_SYS_NICE) {
		rt := base == linux.SCHED_FIFO || base == linux.SCHED_RR
		if rt && (limit == 0 || (uint64(priority) > limit && priority > e.rtPriority)) {
			return linux.EPERM
		}
		if e.policy&linux.SCHED_RESET_ON_FORK != 0 && policy&linux.SCHED_RESET_ON_FORK == 0 {
			return linux.EPERM
		}
	}
	e.policy, e.rtPriority = policy, priority
	return nil
}

// SchedRRInterval implements sched_rr_get_interval(2) for thread tid.
func (t *Task) SchedRRInterval(tid ThreadID) (int64, error) {
	policy, _, err := t.GetScheduler(tid)
	if err != nil {
		return 0, err
	}
	if policy&^linux.SCHED_RESET_ON_FORK == linux.SCHED_RR {
		return schedRRInterval, nil
	}
	// FIFO has no slice; for fair policies Linux reports the slice in
	// whole jiffies, which is 0 with the default 3 ms slice at HZ=250.
	return 0, nil
}

// I/O priority classes and layout (ioprio_set(2)).
const (
	ioprioClassShift = 13
	ioprioDataMask   = 1<<ioprioClassShift - 1
	ioprioClassNone  = 0
	ioprioClassRT    = 1
	ioprioClassBE    = 2
	ioprioClassIdle  = 3
	// ioprioDefault is what a task without an I/O priority counts as
	// when priorities are compared: best-effort, level 4.
	ioprioDefault = ioprioClassBE<<ioprioClassShift | 4

	IOPRIO_WHO_PROCESS = 1
	IOPRIO_WHO_PGRP    = 2
	IOPRIO_WHO_USER    = 3
)

// ioprioTargets maps ioprio's which to priorityTargets' selector.
func ioprioTargets(t *Task, which, who int32) ([]*Task, error) {
	switch which {
	case IOPRIO_WHO_PROCESS:
		return t.priorityTargets(linux.PRIO_PROCESS, who)
	case IOPRIO_WHO_PGRP:
		return t.priorityTargets(linux.PRIO_PGRP, who)
	case IOPRIO_WHO_USER:
		return t.priorityTargets(linux.PRIO_USER, who)
	}
	return nil, linux.EINVAL
}

// IOPriority implements ioprio_get(2).
func (t *Task) IOPriority(which, who int32) (int32, error) {
	targets, err := ioprioTargets(t, which, who)
	if err != nil {
		return 0, err
	}
	if len(targets) == 0 {
		return 0, linux.ESRCH
	}
	var best int32
	for i, m := range targets {
		e := m.extras()
		e.mu.Lock()
		p := e.ioprio
		e.mu.Unlock()
		if i == 0 {
			best = p
			continue
		}
		a, b := best, p
		if a == 0 {
			a = ioprioDefault
		}
		if b == 0 {
			b = ioprioDefault
		}
		best = min(a, b)
	}
	return best, nil
}

// SetIOPriority implements ioprio_set(2).
func (t *Task) SetIOPriority(which, who, ioprio int32) error {
	class := (ioprio >> ioprioClassShift) & 7
	data := ioprio & ioprioDataMask
	c := t.Credentials()
	switch {
	case ioprio < 0 || ioprio > 0xffff:
		return linux.EINVAL
	case class == ioprioClassRT:
		if !c.HasCapability(linux.CAP_SYS_NICE) && !c.HasCapability(linux.CAP_SYS_ADMIN) {
			return linux.EPERM
		}
	case class == ioprioClassBE, class == ioprioClassIdle:
	case class == ioprioClassNone:
		if data != 0 {
			return linux.EINVAL
		}
	default:
		return linux.EINVAL
	}
	targets, err := ioprioTargets(t, which, who)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return linux.ESRCH
	}
	for _, m := range targets {
		mc := m.Credentials()
		if mc.RealKUID != c.EffectiveKUID && mc.RealKUID != c.RealKUID && !c.HasCapability(linux.CAP_SYS_NICE) {
			return linux.EPERM
		}
		e := m.extras()
		e.mu.Lock()
		e.ioprio = ioprio
		e.mu.Unlock()
	}
	return nil
}

// Personality returns t's personality(2) value.
func (t *Task) Personality() uint32 {
	e := t.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.personality
}

// SetPersonality replaces t's personality and returns the old one. Like
// Linux since 4.1, any value is accepted; of its flags only
// ADDR_NO_RANDOMIZE has an effect (on the next execve's layout).
func (t *Task) SetPersonality(p uint32) uint32 {
	e := t.extras()
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.personality
	e.personality = p
	return old
}

// HostCPU returns the host CPU and NUMA node the calling goroutine runs
// on. A task's goroutine is locked to its OS thread, which runs the
// task's syscalls; on the ptrace platform it shares a CPU with the
// task's stub, so this is where the task runs. Without a host answer it
// reports CPU 0, node 0.
func HostCPU() (cpu, node uint32) { return hostcpu.Current() }
