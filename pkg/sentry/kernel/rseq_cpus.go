package kernel

import (
	"sync"
	"sync/atomic"
	"time"
)

// Virtual CPUs for restartable sequences.
//
// An rseq critical section is only atomic if no other thread of the
// process runs a critical section on the same CPU number meanwhile: that
// is what makes per-CPU data safe without locks. The Sentry cannot see
// where the host runs a stub thread, nor when the host preempts one, so
// the CPU numbers it reports cannot come from the host alone. Instead,
// each process with rseq threads has a table of virtual CPUs, one per
// sandbox CPU, and a thread with rseq registered holds one exclusively
// (a lease) for as long as it runs application code: from just before
// the platform's Switch to just after it returns. The number in the
// thread's rseq area is its lease's CPU, so two threads of a process
// never run with one CPU number at once, and a thread that finds its
// CPU was used by another thread since it last ran is treated as
// preempted (its critical section, if any, is aborted), exactly the
// cases in which Linux aborts.
//
// A thread prefers the CPU its Sentry thread runs on (what getcpu(2)
// answers), then the one it had, then any free one its affinity mask
// allows. When every allowed CPU is leased it waits; a waiter that has
// waited a timeslice kicks a holder out of application code (the
// platform's Interrupt), as a tick preempts a thread on Linux. Threads
// without rseq take no lease.

// rseqTimeslice is how long a thread waits for a virtual CPU before it
// preempts a holder. Linux's scheduler grants a few milliseconds too.
const rseqTimeslice = 3 * time.Millisecond

// rseqCPUTable is one process's virtual CPUs.
type rseqCPUTable struct {
	slots []rseqSlot
	// waiters counts threads blocked in acquireSlow; release wakes one
	// through wake (capacity 1) only when it is not 0.
	waiters atomic.Int32
	wake    chan struct{}
	// nextKick rotates the holder a waiter preempts.
	nextKick atomic.Uint32
}

// rseqSlot is one virtual CPU.
type rseqSlot struct {
	// holder is the thread running application code on this CPU, nil
	// when it is free. Taken by compare-and-swap.
	holder atomic.Pointer[Task]
	// epoch counts releases, so membarrier can wait for a holder to have
	// left application code even if it took the CPU again since.
	epoch atomic.Uint64
	// last is the thread that held the CPU last. Guarded by holding the
	// CPU: only the holder reads or writes it.
	last *Task
	_    [32]byte // keep slots on separate cache lines
}

var (
	rseqCPUsOnce sync.Once
	// rseqCPUNumbers maps a slot to its CPU number: the sandbox CPUs
	// (hostCPUMask) in increasing order.
	rseqCPUNumbers []uint32
	// rseqSlotOfCPU maps a CPU number below hostNrCPUIDs to its slot, -1
	// for CPUs outside the sandbox.
	rseqSlotOfCPU []int32
)

func rseqInitCPUs() {
	rseqCPUsOnce.Do(func() {
		rseqSlotOfCPU = make([]int32, hostNrCPUIDs)
		for cpu := range rseqSlotOfCPU {
			rseqSlotOfCPU[cpu] = -1
			if cpu/8 < len(hostCPUMask) && hostCPUMask[cpu/8]&(1<<(cpu%8)) != 0 {
				rseqSlotOfCPU[cpu] = int32(len(rseqCPUNumbers))
				rseqCPUNumbers = append(rseqCPUNumbers, uint32(cpu))
			}
		}
		if len(rseqCPUNumbers) == 0 {
			rseqCPUNumbers = []uint32{0}
			rseqSlotOfCPU = []int32{0}
		}
	})
}

// rseqCPUs returns tg's virtual CPU table, creating it on first use.
func (tg *ThreadGroup) rseqCPUs() *rseqCPUTable {
	if c := tg.rseqCPUTable.Load(); c != nil {
		return c
	}
	rseqInitCPUs()
	c := &rseqCPUTable{slots: make([]rseqSlot, len(rseqCPUNumbers)), wake: make(chan struct{}, 1)}
	if !tg.rseqCPUTable.CompareAndSwap(nil, c) {
		return tg.rseqCPUTable.Load()
	}
	return c
}

// rseqAllowed reports whether slot i is in mask (nil: every CPU).
func rseqAllowed(mask cpuSet, i int32) bool {
	if mask == nil {
		return true
	}
	cpu := rseqCPUNumbers[i]
	return int(cpu/8) < len(mask) && mask[cpu/8]&(1<<(cpu%8)) != 0
}

// hostSlot returns the slot of the host CPU the calling thread runs on,
// -1 if it is not a sandbox CPU.
func hostSlot() int32 {
	cpu, _ := HostCPU()
	if int(cpu) < len(rseqSlotOfCPU) {
		return rseqSlotOfCPU[cpu]
	}
	return -1
}

// acquire leases a CPU to t, preferring its host CPU, then prev. It
// returns false if t was interrupted (a signal, a kill, a pause) while
// waiting for one.
func (c *rseqCPUTable) acquire(t *Task, prev int32) (int32, bool) {
	var mask cpuSet
	if t.extrasField.Load() != nil {
		// SetAffinity replaces the mask, never edits it, so it may be
		// read after the lock is dropped.
		e := t.extras()
		e.mu.Lock()
		mask = e.affinity
		e.mu.Unlock()
	}
	if h := hostSlot(); h >= 0 && rseqAllowed(mask, h) && c.slots[h].holder.CompareAndSwap(nil, t) {
		return h, true
	}
	if prev >= 0 && rseqAllowed(mask, prev) && c.slots[prev].holder.CompareAndSwap(nil, t) {
		return prev, true
	}
	if i := c.tryAny(t, mask); i >= 0 {
		return i, true
	}
	return c.acquireSlow(t, mask)
}

// tryAny leases any free allowed CPU, or returns -1.
func (c *rseqCPUTable) tryAny(t *Task, mask cpuSet) int32 {
	for i := range c.slots {
		if rseqAllowed(mask, int32(i)) && c.slots[i].holder.CompareAndSwap(nil, t) {
			return int32(i)
		}
	}
	return -1
}

// acquireSlow waits until an allowed CPU is free, preempting a holder
// every timeslice.
func (c *rseqCPUTable) acquireSlow(t *Task, mask cpuSet) (int32, bool) {
	c.waiters.Add(1)
	defer c.waiters.Add(-1)
	// Waiting for a virtual CPU is waiting to run: the time is not
	// charged as Sentry work, but the task stays runnable in the load
	// average, as a Linux task on a run queue does.
	t.accountPark()
	t.k.loadAvg.unpark()
	defer func() {
		t.k.loadAvg.park()
		t.accountUnpark()
	}()
	timer := time.NewTimer(rseqTimeslice)
	defer timer.Stop()
	for {
		// Registered as a waiter before this look, so a release after
		// it leaves a token in wake.
		if i := c.tryAny(t, mask); i >= 0 {
			if c.waiters.Load() > 1 {
				// Another CPU may have been freed with one token for
				// both of us: pass it on.
				c.wakeOne()
			}
			return i, true
		}
		select {
		case <-c.wake:
		case <-t.interruptCh:
			return -1, false
		case <-timer.C:
			c.preemptOne(mask)
			timer.Reset(rseqTimeslice)
		}
	}
}

// preemptOne forces one holder of an allowed CPU out of application
// code, rotating among them.
func (c *rseqCPUTable) preemptOne(mask cpuSet) {
	n := uint32(len(c.slots))
	start := c.nextKick.Add(1)
	for k := uint32(0); k < n; k++ {
		i := int32((start + k) % n)
		if !rseqAllowed(mask, i) {
			continue
		}
		if h := c.slots[i].holder.Load(); h != nil {
			h.rseqKick()
			return
		}
	}
}

// rseqKick makes t's current or next Switch return.
func (t *Task) rseqKick() {
	if pc := t.pc; pc != nil {
		pc.Interrupt()
	}
}

func (c *rseqCPUTable) wakeOne() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// release ends t's lease of slot i.
func (c *rseqCPUTable) release(i int32) {
	s := &c.slots[i]
	s.epoch.Add(1)
	s.holder.Store(nil)
	if c.waiters.Load() != 0 {
		c.wakeOne()
	}
}
