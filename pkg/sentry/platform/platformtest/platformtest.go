// Package platformtest is the conformance suite of the platform
// implementations: hand-assembled test programs and the tests every
// platform runs on them (syscall traps, signals, faults, interrupts,
// address-space isolation, many contexts, FP state, fs_base), each
// written once, with Options for where platforms legitimately differ.
// Only tests import it.
package platformtest
