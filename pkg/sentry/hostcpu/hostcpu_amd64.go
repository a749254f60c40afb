package hostcpu

import "appkernel.dev/appkernel/pkg/sentry/arch"

// Linux sets each CPU's TSC_AUX to node<<12 | cpu, which RDTSCP reads in
// a few dozen cycles: a tenth of a getcpu system call in a VM.
var hasTSCAux = func() bool {
	if max, _, _, _ := arch.CPUID(0x80000000, 0); max < 0x80000001 {
		return false
	}
	_, _, _, edx := arch.CPUID(0x80000001, 0)
	return edx&(1<<27) != 0 // RDTSCP
}()

// HasTSCAux reports whether TSCAux works here.
func HasTSCAux() bool { return hasTSCAux }

// Current returns the calling thread's host CPU and NUMA node. The thread
// may have moved by the time the caller looks.
func Current() (cpu, node uint32) {
	if !hasTSCAux {
		return getcpu()
	}
	aux := TSCAux()
	return aux & 0xfff, aux >> 12
}

// TSCAux executes RDTSCP and returns TSC_AUX, the calling thread's
// node<<12 | cpu. Only if HasTSCAux.
func TSCAux() uint32
