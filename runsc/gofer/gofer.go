// Package gofer serves a container's host files over lisafs: it is the
// only process that opens them, and it confines every operation to the
// exported trees: directories, or for a file bind mount
// (/etc/resolv.conf, a secret) the single file, which is then the
// export's root and its only node.
//
// Confinement rests on three rules. Every operation is relative to a
// handle's descriptor, and handles only come from walking down from an
// export root. Every name is one component (see lisafs), resolved with
// openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS), so
// no "..", symlink or /proc magic link is ever followed on a client's
// behalf. And mutations of a read-only export fail with EROFS before they
// reach the host.
//
// The one path the server itself follows is /proc/self/fd/N for its own
// descriptors: it is how an O_PATH handle is reopened for I/O (Linux has
// no other reopen) and how a hard link is made without
// CAP_DAC_READ_SEARCH. The directory is opened once, before any chroot.
package gofer

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/lisafs"
)

// RootExport is the export name of the container's root filesystem.
const RootExport = "/"

// Export is one tree the gofer serves.
type Export struct {
	// Name is what clients Mount: RootExport for the root filesystem,
	// otherwise the mount's path inside the container.
	Name string
	// HostPath is the directory on the host; for an export other than
	// the root it may be any other kind of file (a file bind mount).
	// A symlink there is followed, as mount --bind follows one.
	HostPath string
	// ReadOnly refuses every mutation with EROFS and every writable open.
	ReadOnly bool
}

// export is an Export with its root open.
type export struct {
	name     string
	hostPath string
	readOnly bool
	// rootFD is an O_PATH descriptor of the root (a directory, or the
	// file of a file export); each Mount gets its own dup of it.
	rootFD int
}

// Gofer serves a fixed set of exports to any number of connections.
type Gofer struct {
	exports map[string]*export
	// procSelfFD is /proc/self/fd opened as a directory, or -1 when
	// /proc is not there; then only directories can be opened for I/O.
	procSelfFD int
}

// New opens every export's root. It must run before any chroot, while the
// host paths and /proc are reachable.
func New(exports []Export) (*Gofer, error) {
	g := &Gofer{exports: make(map[string]*export), procSelfFD: -1}
	for _, e := range exports {
		if _, dup := g.exports[e.Name]; dup {
			g.Close()
			return nil, fmt.Errorf("gofer: export %q given twice", e.Name)
		}
		if e.Name == "" || !filepath.IsAbs(e.Name) {
			g.Close()
			return nil, fmt.Errorf("gofer: export name %q is not an absolute container path", e.Name)
		}
		fd, err := openExportRoot(e)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("gofer: opening export %q at %s: %w", e.Name, e.HostPath, err)
		}
		g.exports[e.Name] = &export{name: e.Name, hostPath: e.HostPath, readOnly: e.ReadOnly, rootFD: fd}
	}
	if len(g.exports) == 0 {
		return nil, fmt.Errorf("gofer: nothing to export")
	}
	if fd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		g.procSelfFD = fd
	}
	return g, nil
}

// Close releases the export roots. Sessions still running keep their own
// descriptors and stay usable.
func (g *Gofer) Close() {
	for _, e := range g.exports {
		if e.rootFD >= 0 {
			unix.Close(e.rootFD)
			e.rootFD = -1
		}
	}
	if g.procSelfFD >= 0 {
		unix.Close(g.procSelfFD)
		g.procSelfFD = -1
	}
}

// NewSession implements lisafs.Backend.
func (g *Gofer) NewSession() lisafs.Session {
	return &session{g: g, handles: make(map[lisafs.FDID]*handle)}
}
