package metricserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"appkernel.dev/appkernel/runsc/container"
	"appkernel.dev/appkernel/runsc/sandbox"
	"appkernel.dev/appkernel/runsc/specutils"
)

// target is one running sandbox under the server's root.
type target struct {
	// ID is the container's (and, one container per sandbox, the
	// sandbox's) id: the directory name under the root.
	ID string
	// Socket is the sandbox's control socket.
	Socket string
	// Sandbox is the sandbox process as runsc recorded it.
	Sandbox container.Process
}

// key identifies one sandbox process across id reuse: metadata is
// fetched once per key.
func (t *target) key() string {
	return fmt.Sprintf("%s/%d/%d", t.ID, t.Sandbox.PID, t.Sandbox.StartTime)
}

// maxStateFile bounds how much of a state file the server reads.
const maxStateFile = 1 << 20

// errNotSandbox marks a name under the root that is not a running
// container's directory.
var errNotSandbox = errors.New("not a running sandbox under the root")

// discover lists the running sandboxes under root, sorted by id. Every
// entry is checked by lookup; those that fail are skipped.
func discover(root string) ([]target, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []target
	for _, e := range entries {
		t, err := lookup(root, e.Name())
		if err != nil {
			continue
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// lookup checks that id names a running container directly under root
// and returns it. Clients of the server are untrusted, and so is
// whatever else can write under the root, so this trusts no name: the id
// must be a valid container id (no path separators, no dot-dot), its
// directory a real directory (not a symlink out of the root) owned by
// this user, its state file a regular file recording the same id, its
// sandbox process alive, and its control socket a socket in that
// directory. Whoever serves that socket is then asked for metrics; what
// it answers is checked against the server's own schema (validate.go).
func lookup(root, id string) (target, error) {
	if err := specutils.ValidateID(id); err != nil {
		return target{}, fmt.Errorf("%w: %v", errNotSandbox, err)
	}
	dir := filepath.Join(root, id)
	if filepath.Dir(dir) != root {
		return target{}, fmt.Errorf("%w: %q", errNotSandbox, id)
	}
	if err := checkOwned(dir, syscall.S_IFDIR); err != nil {
		return target{}, fmt.Errorf("%w: %v", errNotSandbox, err)
	}
	statePath := filepath.Join(dir, "state.json")
	if err := checkOwned(statePath, syscall.S_IFREG); err != nil {
		return target{}, fmt.Errorf("%w: %v", errNotSandbox, err)
	}
	f, err := os.Open(statePath)
	if err != nil {
		return target{}, fmt.Errorf("%w: %v", errNotSandbox, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxStateFile))
	f.Close()
	if err != nil {
		return target{}, fmt.Errorf("%w: %v", errNotSandbox, err)
	}
	// runsc replaces state files atomically, so reading without the
	// container's lock sees a whole one; not locking keeps scrapes from
	// ever waiting on a runsc command (or holding one up).
	var st container.State
	if err := json.Unmarshal(data, &st); err != nil {
		return target{}, fmt.Errorf("%w: state: %v", errNotSandbox, err)
	}
	if st.ID != id {
		return target{}, fmt.Errorf("%w: state of %q records id %q", errNotSandbox, id, st.ID)
	}
	if !st.Sandbox.Alive() {
		return target{}, fmt.Errorf("%w: sandbox of %s is not running", errNotSandbox, id)
	}
	sock := filepath.Join(dir, sandbox.ControlSocket)
	if err := checkOwned(sock, syscall.S_IFSOCK); err != nil {
		return target{}, fmt.Errorf("%w: %v", errNotSandbox, err)
	}
	return target{ID: id, Socket: sock, Sandbox: st.Sandbox}, nil
}

// checkOwned fails unless path, not followed if a symlink, has file type
// typ and belongs to this user or root.
func checkOwned(path string, typ uint32) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return err
	}
	if st.Mode&syscall.S_IFMT != typ {
		return fmt.Errorf("%s: wrong file type %#o", path, st.Mode&syscall.S_IFMT)
	}
	if st.Uid != uint32(os.Geteuid()) && st.Uid != 0 {
		return fmt.Errorf("%s: owned by uid %d", path, st.Uid)
	}
	return nil
}
