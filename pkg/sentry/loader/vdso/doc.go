// Package vdso is the sandbox's virtual dynamic shared object: a small ELF
// shared library, built here in Go without a C toolchain, that the loader
// maps into every program (AT_SYSINFO_EHDR) so that clock_gettime,
// gettimeofday, time and clock_getres are answered in the application's own
// address space instead of trapping into the Sentry.
//
// The image is preceded by a one-page data area, the vvar page, that the
// Sentry shares read-only with every address space. It holds a sequence
// counter and the parameters to turn the CPU's time stamp counter into
// CLOCK_MONOTONIC (and, by fixed offsets, CLOCK_REALTIME and
// CLOCK_BOOTTIME): ns = base + ((tsc - baseTSC) * mult) >> shift. The
// Sentry re-derives those parameters from the host's clocks periodically
// (Tracker); the vDSO code retries when the counter is odd or changed
// while it read.
//
// What the vDSO does not answer it passes to the Sentry with a real
// syscall instruction: CPU-time clocks, CLOCK_MONOTONIC_RAW, CLOCK_TAI,
// unknown clock IDs (so EINVAL comes from the Sentry), gettimeofday with a
// timezone argument, getcpu (the Sentry's answer, the CPU of the task's
// goroutine, is not something the stub thread can know), and every clock
// when the host's TSC is not invariant or until the first two samples
// give a rate.
//
// Only amd64 has an image; on other architectures Image reports
// ErrNoImage and programs make real system calls, which every C library
// does when AT_SYSINFO_EHDR is absent. The image has no unwind
// information (.eh_frame): debuggers and unwinders cannot step out of a
// vDSO function by CFI; the functions are leaf code that only push the
// return address of one internal call.
package vdso
