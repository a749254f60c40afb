// Package sandbox starts and reaches the processes behind one container:
// the gofer that serves its files and the sandbox process (`runsc boot`)
// that runs the Sentry. runsc/container decides when; this package knows
// how: command lines, inherited descriptors, the creation handshake and
// the control socket protocol's client side.
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/cgroup"
	"appkernel.dev/appkernel/runsc/config"
	"appkernel.dev/appkernel/runsc/specutils"
)

// Files in a container's state directory that the sandbox uses.
const (
	// ControlSocket is the sandbox process's control socket.
	ControlSocket = "sandbox.sock"
	// ExitStatusFile receives the container's wait status, in decimal,
	// when it ends.
	ExitStatusFile = "exit_status"
)

// Process names, as ps shows them (argv[0]).
const (
	sandboxArgv0 = "runsc-sandbox"
	goferArgv0   = "runsc-gofer"
)

// bootTimeout bounds how long creation waits for the Sentry to be ready.
const bootTimeout = 60 * time.Second

// Args describe the container whose processes Create starts.
type Args struct {
	ID     string
	Spec   *specs.Spec
	Bundle string
	// StateDir is the container's directory under --root.
	StateDir string
	Conf     *config.Config
	// Detach makes the processes independent of the caller (runsc
	// create): each gets its own process group, so the caller's terminal
	// signals do not reach them.
	Detach bool
	// Stdio are the container's stdin, stdout and stderr; nil entries are
	// the caller's own.
	Stdio [3]*os.File
	// Cgroup, if set, receives both processes as soon as they exist.
	Cgroup *cgroup.Cgroup
	// Terminal says Stdio is a terminal (a pty for --console-socket): the
	// sandbox process then leads a session with it as the controlling
	// terminal, so that the keyboard's signals (Ctrl-C, Ctrl-Z) and
	// window changes reach the Sentry, which passes them on inside.
	Terminal bool
}

// Sandbox is a started container's pair of processes.
type Sandbox struct {
	// Sandbox is the sandbox process: what the pid file names.
	Sandbox *exec.Cmd
	// Gofer serves the container's files; it exits when the sandbox
	// process does.
	Gofer *exec.Cmd
}

// Create starts the gofer and the sandbox process, and returns once the
// sandbox has built the container (its first process loaded, waiting for
// CtlStart) or has failed to. On failure nothing is left running. The
// sandbox process's stdin, stdout and stderr are the caller's: they become
// the container's.
func Create(a *Args) (*Sandbox, error) {
	bc, exports, err := buildConfig(a.Spec, a.Bundle)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ln, err := listen(filepath.Join(a.StateDir, ControlSocket))
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ctlFile, err := ln.File()
	ln.Close()
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer ctlFile.Close()
	exitFile, err := os.OpenFile(filepath.Join(a.StateDir, ExitStatusFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("exit status file: %w", err)
	}
	defer exitFile.Close()

	sb, clientSock, err := withGofer(a, self, exports)
	if err != nil {
		return nil, err
	}
	defer clientSock.Close()

	args := append(GlobalArgs(a.Conf), "boot", "--gofer-fd", "3", "--config-fd", "4",
		"--control-fd", "5", "--status-fd", "6", "--exit-fd", "7", "--id", a.ID)
	cmd := &exec.Cmd{Path: self, Args: append([]string{sandboxArgv0}, args...)}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.stdio()
	newNet, netnsPath := networkNamespace(a.Spec)
	flags := uintptr(sandboxCloneFlags)
	if newNet {
		flags |= unix.CLONE_NEWNET
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: a.Detach, Cloneflags: flags}
	if a.Terminal {
		cmd.SysProcAttr.Setpgid = false
		cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	}
	files := func(configR, statusW *os.File) []*os.File {
		return []*os.File{clientSock, configR, ctlFile, statusW, exitFile}
	}
	if err := sb.launch(cmd, files, func() error { return startInNetns(cmd, netnsPath) }, a.Cgroup, bc, "the sandbox"); err != nil {
		return nil, err
	}
	return sb, nil
}

// withGofer starts a container's gofer, in a's cgroup, and returns the
// Sandbox holding it with the client end of its socket, which the caller
// closes.
func withGofer(a *Args, self string, exports []goferMount) (*Sandbox, *os.File, error) {
	clientSock, serverSock, err := lisafs.Socketpair()
	if err != nil {
		return nil, nil, fmt.Errorf("gofer socket: %w", err)
	}
	gofer, err := startGofer(a, self, exports, serverSock)
	serverSock.Close()
	if err != nil {
		clientSock.Close()
		return nil, nil, err
	}
	sb := &Sandbox{Gofer: gofer}
	if err := sb.join(a.Cgroup, gofer); err != nil {
		sb.Destroy()
		clientSock.Close()
		return nil, nil, err
	}
	return sb, clientSock, nil
}

// startGofer starts the gofer serving the container's root and bind
// mounts over sock.
func startGofer(a *Args, self string, exports []goferMount, sock *os.File) (*exec.Cmd, error) {
	args := append(GlobalArgs(a.Conf), "gofer", "--root-dir", specutils.RootfsPath(a.Spec, a.Bundle), "--socket-fd", "3", "--chroot")
	if a.Spec.Root.Readonly {
		args = append(args, "--ro")
	}
	for _, e := range exports {
		args = append(args, "--mount", e.flag())
	}
	cmd := &exec.Cmd{Path: self, Args: append([]string{goferArgv0}, args...)}
	cmd.ExtraFiles = []*os.File{sock}
	// Its stdio is not the container's: holding the engine's pipes open
	// would delay their EOF, and its log would mix into the container's
	// output. Its errors surface as the sandbox failing to mount.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Cloneflags: goferCloneFlags}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the gofer: %w", err)
	}
	return cmd, nil
}

// readStatus waits for the sandbox's creation report.
func readStatus(r *os.File) error {
	r.SetReadDeadline(time.Now().Add(bootTimeout))
	var st boot.CreationStatus
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return fmt.Errorf("waiting for the sandbox: %w", err)
	}
	if len(data) == 0 {
		return errors.New("the sandbox process exited while creating the container")
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("the sandbox's creation report %q: %w", data, err)
	}
	if st.Error != "" {
		return errors.New(st.Error)
	}
	return nil
}

// stdio are the container's stdin, stdout and stderr: a.Stdio's, or the
// caller's own where a.Stdio has none.
func (a *Args) stdio() (stdin, stdout, stderr *os.File) {
	f := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	for i, s := range a.Stdio {
		if s != nil {
			f[i] = s
		}
	}
	return f[0], f[1], f[2]
}

// launch runs the creation handshake of a process that builds a
// container (the sandbox process, or a subcontainer's waiter): it starts
// cmd with start, passing it the read end of a config pipe and the write
// end of a status pipe among the files files returns, puts it into cg
// before it reads its config, sends bc, and waits for the report that
// the container is built. On failure sb is destroyed.
func (sb *Sandbox) launch(cmd *exec.Cmd, files func(configR, statusW *os.File) []*os.File, start func() error, cg *cgroup.Cgroup, bc *boot.Config, what string) error {
	configR, configW, err := os.Pipe()
	if err != nil {
		sb.Destroy()
		return err
	}
	defer configW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		configR.Close()
		sb.Destroy()
		return err
	}
	defer statusR.Close()
	cmd.ExtraFiles = files(configR, statusW)
	err = start()
	configR.Close()
	statusW.Close()
	if err != nil {
		sb.Destroy()
		return fmt.Errorf("starting %s: %w", what, err)
	}
	sb.Sandbox = cmd
	// Before it reads its config: from then on it builds the container,
	// and the memory it uses belongs to the container's cgroup.
	if err := sb.join(cg, cmd); err != nil {
		sb.Destroy()
		return err
	}
	werr := bc.Write(configW)
	configW.Close()
	if err := readStatus(statusR); err != nil {
		sb.Destroy()
		if werr != nil {
			return fmt.Errorf("sending %s its config: %w", what, werr)
		}
		return err
	}
	return nil
}

// join puts cmd's process into cg, if any.
func (sb *Sandbox) join(cg *cgroup.Cgroup, cmd *exec.Cmd) error {
	if cg == nil {
		return nil
	}
	return cg.AddProcess(cmd.Process.Pid)
}

// Destroy kills and reaps whichever processes were started.
func (sb *Sandbox) Destroy() {
	for _, c := range []*exec.Cmd{sb.Sandbox, sb.Gofer} {
		if c != nil && c.Process != nil {
			c.Process.Kill()
			c.Wait()
		}
	}
}

// GlobalArgs are the global flags a child runsc process inherits. --log
// is not among them: the engine's log file is for the commands it runs.
func GlobalArgs(conf *config.Config) []string {
	args := []string{"--root", conf.RootDir, "--platform", string(conf.Platform), "--network", string(conf.Network)}
	if conf.Debug {
		args = append(args, "--debug")
	}
	if conf.Strace {
		args = append(args, "--strace")
	}
	if !conf.SyscallPatch {
		args = append(args, "--syscall-patch=false")
	}
	if conf.DebugLog != "" {
		args = append(args, "--debug-log", conf.DebugLog)
	}
	return args
}
