// Package container is runsc's OCI lifecycle: it keeps each container's
// state under --root, one directory per container guarded by a file lock,
// and moves containers through created, running and stopped with the
// semantics runc gives container engines.
package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/cgroup"
	"appkernel.dev/appkernel/runsc/config"
	"appkernel.dev/appkernel/runsc/sandbox"
	"appkernel.dev/appkernel/runsc/specutils"
)

// ErrNotExist is returned (wrapped) for a container id runsc does not
// know.
var ErrNotExist = errors.New("container does not exist")

// notExistError names the unknown container.
type notExistError struct{ id string }

func (e notExistError) Error() string { return fmt.Sprintf("container %s does not exist", e.id) }
func (e notExistError) Unwrap() error { return ErrNotExist }

// Container is one container's state, locked: only one runsc process at
// a time holds a given container. Release the lock with Unlock.
type Container struct {
	State
	// dir is the container's state directory.
	dir string
	// lock is dir, opened and flock'ed exclusively; closing it unlocks.
	lock *os.File
	// incomplete marks a directory without a state file: a create that
	// was killed halfway. Only deleting it makes sense.
	incomplete bool
}

// stateDir is id's directory under root.
func stateDir(root, id string) string { return filepath.Join(root, id) }

// lockDir opens dir and takes its lock, then checks that dir was not
// removed (by a delete that held the lock first) while it waited.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	var held, now unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &held); err != nil {
		f.Close()
		return nil, err
	}
	if err := unix.Stat(dir, &now); err != nil || now.Ino != held.Ino || now.Dev != held.Dev {
		f.Close()
		return nil, os.ErrNotExist
	}
	return f, nil
}

// Load finds and locks container id under root.
func Load(root, id string) (*Container, error) {
	if err := specutils.ValidateID(id); err != nil {
		return nil, err
	}
	dir := stateDir(root, id)
	lock, err := lockDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, notExistError{id}
		}
		return nil, err
	}
	c := &Container{dir: dir, lock: lock}
	st, err := loadState(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		c.incomplete = true
		c.State = State{ID: id, Status: Stopped}
	case err != nil:
		lock.Close()
		return nil, err
	default:
		c.State = *st
	}
	return c, nil
}

// Unlock releases the container for other runsc processes.
func (c *Container) Unlock() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

// Status is the container's status now: stopped once its sandbox process
// is gone, whatever was recorded.
func (c *Container) Status() Status {
	if c.incomplete || !c.Sandbox.Alive() {
		return Stopped
	}
	return c.State.Status
}

// CreateArgs are runsc create's.
type CreateArgs struct {
	ID     string
	Bundle string
	// PidFile, if set, receives the sandbox process's pid.
	PidFile string
	// Detach: see sandbox.Args.
	Detach bool
	// ConsoleSocket receives the master of the container's terminal,
	// for process.terminal.
	ConsoleSocket string
}

// Create validates the bundle, records a new container under
// conf.RootDir and starts its sandbox, which waits for Start. On failure
// nothing is left: no state directory, no process. The returned Sandbox
// is the caller's children; the container is unlocked.
func Create(conf *config.Config, a *CreateArgs) (*sandbox.Sandbox, error) {
	if err := specutils.ValidateID(a.ID); err != nil {
		return nil, err
	}
	bundle, err := specutils.AbsBundle(a.Bundle)
	if err != nil {
		return nil, err
	}
	spec, err := specutils.ReadSpec(bundle)
	if err != nil {
		return nil, err
	}
	if err := checkTerminal(spec.Process.Terminal, a.ConsoleSocket, a.Detach); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(conf.RootDir, 0o711); err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	dir := stateDir(conf.RootDir, a.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container with id %s already exists", a.ID)
		}
		return nil, fmt.Errorf("creating the state directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer lock.Close()

	sb, err := createLocked(conf, a, spec, bundle, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return sb, nil
}

func createLocked(conf *config.Config, a *CreateArgs, spec *specs.Spec, bundle, dir string) (*sandbox.Sandbox, error) {
	cg, err := newCgroup(conf, a.ID, spec)
	if err != nil {
		return nil, err
	}
	sb, err := createSandbox(conf, a, spec, bundle, dir, cg)
	if err != nil && cg != nil {
		cg.Destroy()
	}
	return sb, err
}

// newCgroup makes the container's cgroup, unless --ignore-cgroups.
func newCgroup(conf *config.Config, id string, spec *specs.Spec) (*cgroup.Cgroup, error) {
	if conf.IgnoreCgroups {
		return nil, nil
	}
	if conf.SystemdCgroup {
		return nil, cgroup.ErrSystemd
	}
	var path string
	var res *specs.LinuxResources
	if spec.Linux != nil {
		path, res = spec.Linux.CgroupsPath, spec.Linux.Resources
	}
	if path == "" {
		path = cgroup.DefaultPath(conf.RootDir, id)
	}
	cg, err := cgroup.New(path, id, res)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w (--ignore-cgroups skips cgroups)", err)
	}
	return cg, nil
}

func createSandbox(conf *config.Config, a *CreateArgs, spec *specs.Spec, bundle, dir string, cg *cgroup.Cgroup) (*sandbox.Sandbox, error) {
	sa := &sandbox.Args{ID: a.ID, Spec: spec, Bundle: bundle, StateDir: dir, Conf: conf, Detach: a.Detach, Cgroup: cg}
	if spec.Process.Terminal && a.ConsoleSocket != "" {
		replica, err := SendTerminal(a.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		// The sandbox process holds its own copies.
		defer replica.Close()
		sa.Stdio = [3]*os.File{replica, replica, replica}
		sa.Terminal = true
	}
	var sb *sandbox.Sandbox
	var err error
	sandboxID, joins := specutils.JoinsSandbox(spec)
	if joins {
		sb, err = createSub(conf, sa, sandboxID)
	} else {
		sb, err = sandbox.Create(sa)
	}
	if err != nil {
		return nil, err
	}
	st := State{
		ID:          a.ID,
		Bundle:      bundle,
		Rootfs:      specutils.RootfsPath(spec, bundle),
		Created:     time.Now().UTC(),
		Status:      Created,
		Annotations: spec.Annotations,
		Hooks:       spec.Hooks,
		Cgroup:      cg,
	}
	if joins {
		st.SandboxID = sandboxID
	}
	if st.Sandbox, err = processOf(sb.Sandbox.Process.Pid); err == nil {
		st.Gofer, err = processOf(sb.Gofer.Process.Pid)
	}
	if err == nil && spec.Hooks != nil {
		// The sandbox exists, with its namespaces, and its process has
		// not run: where runc runs these.
		hs := st.ociState(specs.StateCreating)
		err = runHooks("prestart", spec.Hooks.Prestart, hs) //nolint:staticcheck // still what Docker uses
		if err == nil {
			err = runHooks("createRuntime", spec.Hooks.CreateRuntime, hs)
		}
		if err == nil {
			err = runHooks("createContainer", spec.Hooks.CreateContainer, hs)
		}
	}
	if err == nil && !joins {
		err = sandbox.AttachNetwork(string(conf.Network), spec, st.Sandbox.PID, filepath.Join(dir, sandbox.ControlSocket))
	}
	if err == nil {
		err = st.save(dir)
	}
	if err == nil && a.PidFile != "" {
		// Engines read it as soon as create exits: decimal, no newline.
		err = writeFileAtomic(a.PidFile, []byte(strconv.Itoa(st.Sandbox.PID)), 0o644)
	}
	if err != nil {
		sb.Destroy()
		return nil, err
	}
	return sb, nil
}

// Start runs the created container's process.
func (c *Container) Start() error {
	switch s := c.Status(); s {
	case Created:
	case Stopped:
		return fmt.Errorf("cannot start a container that has stopped")
	default:
		return fmt.Errorf("cannot start an already %s container", s)
	}
	if c.Hooks != nil {
		if err := runHooks("startContainer", c.Hooks.StartContainer, c.ociState(specs.StateCreated)); err != nil {
			return err
		}
	}
	req := boot.ControlRequest{Cmd: boot.CtlStart}
	if c.SandboxID != "" {
		req = boot.ControlRequest{Cmd: boot.CtlStartSub, Container: c.ID}
	}
	if _, err := sandbox.Call(c.socket(), req, sandbox.CallTimeout); err != nil {
		return fmt.Errorf("starting container %s: %w", c.ID, err)
	}
	c.State.Status = Running
	if err := c.save(c.dir); err != nil {
		return err
	}
	if c.Hooks != nil {
		runHooksLogged("poststart", c.Hooks.Poststart, c.ociState(specs.StateRunning))
	}
	return nil
}

// Kill sends sig to the container's first process (with all, to all of
// its processes).
func (c *Container) Kill(sig unix.Signal, all bool) error {
	if c.Status() == Stopped {
		return sandbox.ErrNotRunning
	}
	_, err := sandbox.Call(c.socket(), boot.ControlRequest{Cmd: boot.CtlSignal, Signal: int(sig), All: all, Container: c.subID()}, sandbox.CallTimeout)
	return err
}

// Delete removes a container: refused for a running one unless force, as
// runc refuses. A created container is killed first (runc does too).
func (c *Container) Delete(force bool) error {
	if s := c.Status(); (s == Running || s == Paused) && !force {
		return fmt.Errorf("cannot delete container %s that is not stopped: %s", c.ID, s)
	}
	return c.destroy()
}

// killTimeout bounds how long destroy waits for SIGKILLed processes.
const killTimeout = 10 * time.Second

// destroy kills the container's processes, waits until they are gone,
// and removes its state. The processes are not runsc's children (the
// engine reaps them): "gone" means dead or a zombie.
func (c *Container) destroy() error {
	procs := []Process{c.Sandbox, c.Gofer}
	for _, p := range procs {
		if p.Alive() {
			if err := unix.Kill(p.PID, unix.SIGKILL); err != nil && err != unix.ESRCH {
				return fmt.Errorf("killing pid %d: %w", p.PID, err)
			}
		}
	}
	deadline := time.Now().Add(killTimeout)
	for _, p := range procs {
		for p.Alive() {
			if time.Now().After(deadline) {
				return fmt.Errorf("pid %d survived SIGKILL for %v", p.PID, killTimeout)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if c.Cgroup != nil {
		if err := c.Cgroup.Destroy(); err != nil {
			log.Warningf("removing the cgroup of %s: %v", c.ID, err)
		}
	}
	if c.Hooks != nil && !c.incomplete {
		runHooksLogged("poststop", c.Hooks.Poststop, c.ociState(specs.StateStopped))
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("removing the state of %s: %w", c.ID, err)
	}
	return nil
}

// socket is the sandbox's control socket path.
func (c *Container) socket() string {
	if c.SandboxID != "" {
		return filepath.Join(filepath.Dir(c.dir), c.SandboxID, sandbox.ControlSocket)
	}
	return filepath.Join(c.dir, sandbox.ControlSocket)
}

// WaitStatus returns how the container ended, waiting for it while it
// runs. Call it unlocked: waiting must not keep other runsc commands out.
func (c *Container) WaitStatus() (syscall.WaitStatus, error) {
	if c.SandboxID != "" {
		return c.waitSub()
	}
	if c.Status() != Stopped {
		resp, err := sandbox.Call(c.socket(), boot.ControlRequest{Cmd: boot.CtlWait}, 0)
		if err == nil {
			return syscall.WaitStatus(resp.WaitStatus), nil
		}
		if !errors.Is(err, sandbox.ErrNotRunning) {
			return 0, err
		}
	}
	return c.recordedExitStatus()
}

// recordedExitStatus reads the status the sandbox process (or a
// subcontainer's waiter) wrote when the container ended.
func (c *Container) recordedExitStatus() (syscall.WaitStatus, error) {
	data, err := os.ReadFile(filepath.Join(c.dir, sandbox.ExitStatusFile))
	if err != nil {
		return 0, fmt.Errorf("exit status of %s: %w", c.ID, err)
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return 0, fmt.Errorf("exit status of %s unknown: its process was killed from outside", c.ID)
	}
	ws, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("exit status of %s: %q: %w", c.ID, s, err)
	}
	return syscall.WaitStatus(ws), nil
}

// OCIState is the state JSON of the OCI runtime spec, with runc's extra
// fields (rootfs, created, owner).
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	PID         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// OCIState reports the container as `runsc state` prints it. The pid is
// 0 once it has stopped, as runc's.
func (c *Container) OCIState() OCIState {
	s := OCIState{
		OCIVersion:  specs.Version,
		ID:          c.ID,
		Status:      c.Status(),
		Bundle:      c.Bundle,
		Rootfs:      c.Rootfs,
		Created:     c.Created,
		Annotations: c.Annotations,
	}
	if s.Status != Stopped {
		s.PID = c.Sandbox.PID
	}
	return s
}

// List returns the ids of the containers under root, sorted.
func List(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && specutils.ValidateID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}
