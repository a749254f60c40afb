package linux

import (
	"encoding/binary"
	"runtime"

	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// Scheduling: yield, affinity, policies and priorities, I/O priorities,
// getcpu.

// SchedYield implements sched_yield(2): the task's goroutine yields its
// Go processor.
func SchedYield(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	runtime.Gosched()
	return 0, nil
}

// schedPID decodes the pid argument of the sched_* calls: negative is
// EINVAL.
func schedPID(a arch.SyscallArgument) (kernel.ThreadID, error) {
	pid := a.Int()
	if pid < 0 {
		return 0, abilinux.EINVAL
	}
	return kernel.ThreadID(pid), nil
}

// SchedGetaffinity implements sched_getaffinity(2); it returns the number
// of bytes of mask written.
func SchedGetaffinity(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	// A negative pid names no task: ESRCH, after the size checks.
	pid := kernel.ThreadID(args[0].Int())
	size := args[1].SizeT()
	if size > 1<<20 {
		size = 1 << 20
	}
	mask, err := t.GetAffinity(pid, int(size))
	if err != nil {
		return 0, err
	}
	if _, err := t.CopyOut(args[2].Pointer(), mask); err != nil {
		return 0, abilinux.EFAULT
	}
	return uintptr(len(mask)), nil
}

// SchedSetaffinity implements sched_setaffinity(2).
func SchedSetaffinity(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	pid := kernel.ThreadID(args[0].Int())
	// Bits beyond the host's mask size cannot name a sandbox CPU; read no
	// more than that, as Linux reads no more than its cpumask.
	size := min(args[1].SizeT(), 8192)
	mask := make([]byte, size)
	if _, err := t.CopyIn(args[2].Pointer(), mask); err != nil {
		return 0, abilinux.EFAULT
	}
	return 0, t.SetAffinity(pid, mask)
}

// copyInSchedParam reads struct sched_param; NULL is EINVAL.
func copyInSchedParam(t *kernel.Task, addr uintptr) (int32, error) {
	if addr == 0 {
		return 0, abilinux.EINVAL
	}
	var b [4]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, abilinux.EFAULT
	}
	return int32(binary.LittleEndian.Uint32(b[:])), nil
}

// SchedGetparam implements sched_getparam(2).
func SchedGetparam(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	pid, err := schedPID(args[0])
	if err != nil || args[1].Pointer() == 0 {
		return 0, abilinux.EINVAL
	}
	_, prio, err := t.GetScheduler(pid)
	if err != nil {
		return 0, err
	}
	return 0, putU32(t, args[1].Pointer(), uint32(prio))
}

// SchedSetparam implements sched_setparam(2).
func SchedSetparam(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	pid, err := schedPID(args[0])
	if err != nil {
		return 0, err
	}
	prio, err := copyInSchedParam(t, args[1].Pointer())
	if err != nil {
		return 0, err
	}
	return 0, t.SetScheduler(pid, 0, prio, true)
}

// SchedGetscheduler implements sched_getscheduler(2).
func SchedGetscheduler(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	pid, err := schedPID(args[0])
	if err != nil {
		return 0, err
	}
	policy, _, err := t.GetScheduler(pid)
	if err != nil {
		return 0, err
	}
	return uintptr(policy), nil
}

// SchedSetscheduler implements sched_setscheduler(2). SCHED_OTHER, BATCH
// and IDLE are accepted; FIFO and RR need CAP_SYS_NICE or RLIMIT_RTPRIO.
// Policies are recorded, not enforced: Go schedules task goroutines.
func SchedSetscheduler(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	pid, err := schedPID(args[0])
	if err != nil {
		return 0, err
	}
	policy := args[1].Int()
	if policy < 0 {
		return 0, abilinux.EINVAL
	}
	prio, err := copyInSchedParam(t, args[2].Pointer())
	if err != nil {
		return 0, err
	}
	return 0, t.SetScheduler(pid, policy, prio, false)
}

// SchedGetPriorityMax implements sched_get_priority_max(2).
func SchedGetPriorityMax(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	_, hi, err := kernel.SchedPolicyPriorityRange(args[0].Int())
	return uintptr(hi), err
}

// SchedGetPriorityMin implements sched_get_priority_min(2).
func SchedGetPriorityMin(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	lo, _, err := kernel.SchedPolicyPriorityRange(args[0].Int())
	return uintptr(lo), err
}

// SchedRrGetInterval implements sched_rr_get_interval(2).
func SchedRrGetInterval(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	pid, err := schedPID(args[0])
	if err != nil {
		return 0, err
	}
	ns, err := t.SchedRRInterval(pid)
	if err != nil {
		return 0, err
	}
	return 0, copyOutTimespec(t, args[1].Pointer(), ns)
}

// Getcpu implements getcpu(2): the host CPU the task's Sentry thread is
// on (see kernel.HostCPU); either pointer may be NULL.
func Getcpu(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	cpu, node := kernel.HostCPU()
	if addr := args[0].Pointer(); addr != 0 {
		if err := putU32(t, addr, cpu); err != nil {
			return 0, err
		}
	}
	if addr := args[1].Pointer(); addr != 0 {
		if err := putU32(t, addr, node); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// IoprioGet implements ioprio_get(2).
func IoprioGet(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	p, err := t.IOPriority(args[0].Int(), args[1].Int())
	if err != nil {
		return 0, err
	}
	return uintptr(p), nil
}

// IoprioSet implements ioprio_set(2). Priorities are recorded and
// reported; the sandbox's I/O is not scheduled by them.
func IoprioSet(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	return 0, t.SetIOPriority(args[0].Int(), args[1].Int(), args[2].Int())
}
