package hostcpu

// Linux sets each CPU's TSC_AUX to node<<12 | cpu, which RDTSCP reads in
// a few dozen cycles: a tenth of a getcpu system call in a VM.
var hasRDTSCP = func() bool {
	if max, _, _, _ := cpuid(0x80000000, 0); max < 0x80000001 {
		return false
	}
	_, _, _, edx := cpuid(0x80000001, 0)
	return edx&(1<<27) != 0
}()

// Current returns the calling thread's host CPU and NUMA node. The thread
// may have moved by the time the caller looks.
func Current() (cpu, node uint32) {
	if !hasRDTSCP {
		return getcpu()
	}
	aux := tscAux()
	return aux & 0xfff, aux >> 12
}

func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// tscAux executes RDTSCP and returns TSC_AUX.
func tscAux() uint32
