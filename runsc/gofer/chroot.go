package gofer

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// OwnMountNamespace reports whether this process has a mount namespace
// of its own: one that differs from its parent's and, where /proc/1 is
// readable, from the host init's. Pivoting in a shared namespace would
// change other processes' view of the filesystem, so a false answer is
// the safe one: a parent that forked inside its new namespace (unshare
// --fork) is refused too.
func OwnMountNamespace() (bool, error) {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return false, err
	}
	// In a PID namespace of its own the parent is outside it (getppid
	// is 0): the check against init below has to do then.
	if ppid := os.Getppid(); ppid > 0 {
		parent, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", ppid))
		if err != nil {
			return false, err
		}
		if self == parent {
			return false, nil
		}
	}
	// Unreadable without ptrace rights over init, as in some containers;
	// the parent check above has to do then.
	if init, err := os.Readlink("/proc/1/ns/mnt"); err == nil && init == self {
		return false, nil
	}
	return true, nil
}

// PivotRoot makes the root export the process's root directory and drops
// every other host path from its view: afterwards an absolute path, or a
// ".." out of "/", can only reach the container's files. It needs
// CAP_SYS_ADMIN in a mount namespace of its own (see
// OwnMountNamespace); New must have run first, since the other
// exports and /proc/self/fd stay reachable only through the descriptors
// it opened. A read-only root export also becomes a read-only mount, so
// the kernel refuses writes even if the server's checks had a hole.
func (g *Gofer) PivotRoot() error {
	exp, ok := g.exports[RootExport]
	if !ok {
		return fmt.Errorf("gofer: pivot: no %q export", RootExport)
	}
	// Mounts made below must not propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("gofer: pivot: making / a slave: %w", err)
	}
	// pivot_root wants the new root to be a mount point.
	if err := unix.Mount(exp.hostPath, exp.hostPath, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("gofer: pivot: bind-mounting %s: %w", exp.hostPath, err)
	}
	if err := unix.Chdir(exp.hostPath); err != nil {
		return fmt.Errorf("gofer: pivot: %w", err)
	}
	// pivot_root(".", ".") stacks the old root on top of the new one;
	// detaching it leaves only the new root visible.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("gofer: pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("gofer: pivot: detaching the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("gofer: pivot: %w", err)
	}
	if exp.readOnly {
		if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("gofer: pivot: remounting / read-only: %w", err)
		}
	}
	// The old root descriptor is on the original mount; serve the new one
	// so the read-only flag above applies to everything clients reach.
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("gofer: pivot: reopening /: %w", err)
	}
	unix.Close(exp.rootFD)
	exp.rootFD = fd
	return nil
}
