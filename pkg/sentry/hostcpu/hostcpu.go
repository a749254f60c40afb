// Package hostcpu tells which host CPU the calling thread runs on, as
// cheaply as the host allows: the Sentry asks on every switch into
// application code (rseq's virtual CPUs follow the host's).
package hostcpu

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// getcpu asks the host kernel.
func getcpu() (cpu, node uint32) {
	unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), uintptr(unsafe.Pointer(&node)), 0)
	return cpu, node
}
