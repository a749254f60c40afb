package boot

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// The sandbox process starts in mount, PID, IPC and UTS namespaces of its
// own (runsc/sandbox starts it so). These steps finish the confinement
// that needs the process itself: a /proc that matches its PID namespace,
// and a root file system with nothing in it.

// OwnNamespaces reports whether this process is the first of a PID
// namespace of its own, the sign that runsc/sandbox started it confined.
func OwnNamespaces() bool { return os.Getpid() == 1 }

// HostPID returns this process's pid in the host's PID namespace, read
// from the host's /proc before MountProc replaces it.
func HostPID() int {
	s, err := os.Readlink("/proc/self")
	if err != nil {
		return os.Getpid()
	}
	pid, err := strconv.Atoi(s)
	if err != nil {
		return os.Getpid()
	}
	return pid
}

// MountProc cuts this mount namespace off from mount propagation, so that
// nothing done here reaches the host, and mounts a /proc of this PID
// namespace: the platforms reach their stub processes through
// /proc/PID, with PIDs of this namespace.
func MountProc() error {
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("making the mounts private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	return nil
}

// PivotToEmptyRoot makes the root file system an empty read-only tmpfs
// holding only /proc: from then on, whatever the Sentry is made to do, no
// host path is there to open. Everything the Sentry needs from the host
// (the memory file, the gofer and control sockets, stdio, log files) is
// open by then.
func PivotToEmptyRoot() error {
	// Any directory does as the mount point: this namespace's view of it
	// is all that changes.
	const newRoot = "/proc"
	if err := unix.Mount("runsc-root", newRoot, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0555,size=64k"); err != nil {
		return fmt.Errorf("mounting the empty root: %w", err)
	}
	if err := os.Mkdir(newRoot+"/proc", 0o555); err != nil {
		return fmt.Errorf("empty root: %w", err)
	}
	if err := unix.Mount("proc", newRoot+"/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc in the empty root: %w", err)
	}
	if err := unix.Chdir(newRoot); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root on top of the new one;
	// detaching it leaves only the new root.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("making the root read-only: %w", err)
	}
	return nil
}
