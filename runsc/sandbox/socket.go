package sandbox

import (
	"fmt"
	"net"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// maxSunPath is the longest path a sockaddr_un holds, less its NUL.
const maxSunPath = 107

// withShortPath calls fn with a path naming the same file as path that
// fits in a sockaddr_un. State directories under Docker's --root are
// longer than that (…/runtime-runc/moby/<64 hex>/), so a long path goes
// through /proc/self/fd of its directory, which the kernel resolves like
// the directory itself.
func withShortPath(path string, fn func(string) error) error {
	if len(path) <= maxSunPath {
		return fn(path)
	}
	dir, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", filepath.Dir(path), err)
	}
	defer unix.Close(dir)
	short := fmt.Sprintf("/proc/self/fd/%d/%s", dir, filepath.Base(path))
	if len(short) > maxSunPath {
		return fmt.Errorf("socket name %q is too long", filepath.Base(path))
	}
	return fn(short)
}

// listen binds a stream socket at path and listens on it.
func listen(path string) (*net.UnixListener, error) {
	var ln *net.UnixListener
	err := withShortPath(path, func(p string) error {
		var err error
		ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
		return err
	})
	if err != nil {
		return nil, err
	}
	// The file outlives this process's listener (the sandbox process
	// holds a copy); removing it is delete's job.
	ln.SetUnlinkOnClose(false)
	return ln, nil
}

// dial connects to the stream socket at path.
func dial(path string) (*net.UnixConn, error) {
	var conn *net.UnixConn
	err := withShortPath(path, func(p string) error {
		var err error
		conn, err = net.DialUnix("unix", nil, &net.UnixAddr{Name: p, Net: "unix"})
		return err
	})
	return conn, err
}
