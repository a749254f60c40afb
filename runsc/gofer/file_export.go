package gofer

import (
	"golang.org/x/sys/unix"
)

// openExportRoot opens e's root as an O_PATH descriptor. The root
// export must be a directory; any other export may also be a single
// non-directory (a file bind mount), which clients then reach only as
// the export root: every walk from it fails with ENOTDIR, and no name
// beside it on the host is ever looked up.
func openExportRoot(e Export) (int, error) {
	flags := unix.O_PATH | unix.O_CLOEXEC
	if e.Name == RootExport {
		flags |= unix.O_DIRECTORY
	}
	return unix.Open(e.HostPath, flags, 0)
}
