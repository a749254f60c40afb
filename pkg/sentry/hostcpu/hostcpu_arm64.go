package hostcpu

// Current returns the calling thread's host CPU and NUMA node. The thread
// may have moved by the time the caller looks.
func Current() (cpu, node uint32) { return getcpu() }
