package boot

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DropPrivileges leaves the sandbox process with only the capabilities in
// keep (as bits, 1<<CAP_X), an empty bounding set and no_new_privs, on
// every thread: after boot the Sentry needs none of root's powers beyond
// what its network mode uses, and a Sentry an application has taken over
// must not get them back by executing anything.
func DropPrivileges(keep uint64) error {
	// Capabilities, the bounding set and no_new_privs are per thread: each
	// step goes to every thread of the Go runtime.
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
		return fmt.Errorf("no_new_privs: %w", e)
	}
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if keep&(1<<c) != 0 {
			continue
		}
		// EINVAL: a capability the running kernel does not know.
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); e != 0 && e != unix.EINVAL {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, e)
		}
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); e != 0 && e != unix.EINVAL {
		return fmt.Errorf("clearing ambient capabilities: %w", e)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		bits := uint32(keep >> (32 * i))
		data[i] = unix.CapUserData{Effective: bits, Permitted: bits}
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	return nil
}

// keptCapabilities are what the Sentry still needs after boot: binding
// ports below 1024 for the application's host sockets with
// --network=host (the application's own capability is checked first),
// and with the ptrace platform tracing its stub processes, which were
// started before the drop and so hold capabilities the tracer would not
// (the kernel refuses to let a process trace one with more).
func keptCapabilities(network, platform string) uint64 {
	var keep uint64
	if network == "host" {
		keep |= 1 << unix.CAP_NET_BIND_SERVICE
	}
	if platform == "ptrace" {
		keep |= 1 << unix.CAP_SYS_PTRACE
	}
	return keep
}

// KeptCapabilities is keptCapabilities of the sandbox's configuration.
func (s *Sandbox) KeptCapabilities() uint64 { return keptCapabilities(s.conf.Network, s.conf.Platform) }
