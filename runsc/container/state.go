package container

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"appkernel.dev/appkernel/runsc/cgroup"
)

// Status is a container's OCI status.
type Status string

// The OCI statuses, and runc's "paused".
const (
	Created Status = "created"
	Running Status = "running"
	Paused  Status = "paused"
	Stopped Status = "stopped"
)

// stateFile is the container's record inside its state directory.
const stateFile = "state.json"

// State is what runsc records about a container in
// <root>/<id>/state.json. The status recorded is the last one runsc set
// (created, then running); whether the container is still alive is read
// from its processes, so an exit or an outside SIGKILL needs no runsc call
// to be seen.
type State struct {
	ID      string    `json:"id"`
	Bundle  string    `json:"bundle"`
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Status  Status    `json:"status"`
	// Sandbox is the sandbox process (the pid file's pid); Gofer serves
	// the container's files.
	Sandbox     Process           `json:"sandbox"`
	Gofer       Process           `json:"gofer"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Hooks are the bundle's, kept for start and delete, when the bundle
	// may have changed or gone.
	Hooks *specs.Hooks `json:"hooks,omitempty"`
	// Cgroup is the container's cgroup, nil with --ignore-cgroups.
	Cgroup *cgroup.Cgroup `json:"cgroup,omitempty"`
	// SandboxID is, for a container that joined another's sandbox (a
	// pod's container), that container's id; Sandbox is then the
	// container's waiter process, not a sandbox.
	SandboxID string `json:"sandboxId,omitempty"`
}

// save replaces dir's state file atomically, so a reader never sees half
// of it.
func (s *State) save(dir string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), data, 0o600)
}

// loadState reads dir's state file.
func loadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("corrupt %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it over path.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
