package linux

// Alternate signal stack sizes for arm64, larger than asm-generic's
// because the signal frame carries the FP/SIMD (and possibly SVE) state.
const (
	MINSIGSTKSZ = 5120
	SIGSTKSZ    = 16384
)
