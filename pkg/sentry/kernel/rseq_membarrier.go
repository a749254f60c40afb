package kernel

import (
	"runtime"
	"time"
)

// MembarrierRseq implements MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ: every
// other thread of t's process (only those last on CPU cpu, if cpu >= 0)
// aborts the rseq critical section it may be in before it runs
// application code again, and the threads running application code now
// have stopped doing so by the time it returns. Those are what Linux's
// IPI to each CPU running the process guarantees: a critical section
// begun before the call cannot commit after it.
func (t *Task) MembarrierRseq(cpu int32) {
	slot := int32(-1)
	if cpu >= 0 {
		rseqInitCPUs()
		if int(cpu) >= len(rseqSlotOfCPU) || rseqSlotOfCPU[cpu] < 0 {
			// Linux ignores a CPU that is not online.
			return
		}
		slot = rseqSlotOfCPU[cpu]
	}
	// Threads not running application code right now abort when they
	// next do: one that left it in the middle of a section (a page
	// fault, an interrupt) would otherwise resume it.
	t.k.tasksMu.RLock()
	for other := range t.tg.tasks {
		if other == t {
			continue
		}
		if r := other.rseq.Load(); r != nil && (slot < 0 || r.slot.Load() == slot) {
			r.forceAbort.Store(true)
		}
	}
	t.k.tasksMu.RUnlock()

	c := t.tg.rseqCPUTable.Load()
	if c == nil {
		return
	}
	// Kick the running ones out and wait for each to leave its CPU.
	type running struct {
		s     *rseqSlot
		epoch uint64
	}
	var wait []running
	for i := range c.slots {
		if slot >= 0 && int32(i) != slot {
			continue
		}
		s := &c.slots[i]
		epoch := s.epoch.Load()
		if h := s.holder.Load(); h != nil && h != t {
			h.rseqKick()
			wait = append(wait, running{s, epoch})
		}
	}
	for _, w := range wait {
		for spins := 0; w.s.epoch.Load() == w.epoch && w.s.holder.Load() != nil; spins++ {
			if spins < 50 {
				runtime.Gosched()
			} else {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
}
