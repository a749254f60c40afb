package linux

// Alternate signal stack sizes for amd64. MINSIGSTKSZ is the historical
// value; with AVX-512 the real frame exceeds it, and the kernel reports
// the true minimum in AT_MINSIGSTKSZ.
const (
	MINSIGSTKSZ = 2048
	SIGSTKSZ    = 8192
)
