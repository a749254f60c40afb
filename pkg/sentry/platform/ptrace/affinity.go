package ptrace

// pin keeps t on the CPU the calling (tracer) thread runs on, so that the
// tracer's wake-up and the stub's run happen on one CPU rather than the
// stub waking a halted vCPU (about 7 us vs 100 us per stop on the VMs we
// measured). Called on the tracer thread at every Switch: one getcpu, and
// sched_setaffinity only when the tracer moved.
func (p *Platform) pin(t *thread) {
	cpu := getcpu()
	if cpu < 0 || cpu == t.cpu {
		return
	}
	// On failure (CPU outside the stub's cpuset) remember the CPU anyway
	// so as not to retry at every Switch; the stub just runs unpinned.
	pinTo(t.tid, cpu)
	t.cpu = cpu
}
