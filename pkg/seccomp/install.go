package seccomp

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Install confines the whole calling process to p, irrevocably.
//
// It sets no_new_privs (required to install a filter without
// CAP_SYS_ADMIN, and inherited by anything we exec) and loads p with
// SECCOMP_FILTER_FLAG_TSYNC, which applies it to every thread of the
// process at once: the Go runtime runs on threads we never see, and a
// filter on one of them alone would leave the others free. The kernel
// also propagates no_new_privs to those threads. Threads created later
// inherit the filter. Later filters only add restrictions.
//
// p is checked with the same rules Evaluate applies before it reaches the
// kernel, so a malformed program is reported as such, not as EINVAL.
func Install(p Program) error {
	if err := Validate(p); err != nil {
		return err
	}
	// no_new_privs is per thread; the seccomp call must come from the
	// thread that set it (TSYNC then copies it to the others).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("seccomp: PR_SET_NO_NEW_PRIVS: %w", err)
	}
	// A heap copy in the kernel's layout, so that nothing moves under the
	// pointer while the kernel reads it.
	filters := make([]unix.SockFilter, len(p))
	for i, f := range p {
		filters[i] = unix.SockFilter{Code: f.Code, Jt: f.JT, Jf: f.JF, K: f.K}
	}
	fprog := &unix.SockFprog{Len: uint16(len(filters)), Filter: &filters[0]}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, linux.SECCOMP_SET_MODE_FILTER, linux.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(fprog)))
	runtime.KeepAlive(fprog)
	runtime.KeepAlive(filters)
	if errno != 0 {
		return fmt.Errorf("seccomp: SECCOMP_SET_MODE_FILTER: %w", errno)
	}
	if r != 0 {
		// With TSYNC a positive result is a thread that could not be
		// synchronized (it has a filter of its own); nothing was
		// installed.
		return fmt.Errorf("seccomp: thread %d cannot take the filter", r)
	}
	return nil
}
