package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"appkernel.dev/appkernel/pkg/lisafs"
)

// Process name of a subcontainer's waiter, as ps shows it.
const subArgv0 = "runsc-sub"

// CreateSub starts a container that joins the running sandbox whose
// control socket is at ownerSocket (a pod's second container): a gofer
// for its files, and a waiter process (`runsc subcontainer`) that asks
// the sandbox to build the container, then stays until the container
// exits and exits as it did. The waiter is what the pid file names, as
// the sandbox process is for a sandbox's first container. It returns
// once the container is built, or has failed to be, leaving nothing.
func CreateSub(a *Args, ownerSocket, exitFile string) (*Sandbox, error) {
	bc, exports, err := buildConfig(a.Spec, a.Bundle)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	clientSock, serverSock, err := lisafs.Socketpair()
	if err != nil {
		return nil, fmt.Errorf("gofer socket: %w", err)
	}
	defer clientSock.Close()
	gofer, err := startGofer(a, self, exports, serverSock)
	serverSock.Close()
	if err != nil {
		return nil, err
	}
	sb := &Sandbox{Gofer: gofer}
	if err := sb.join(a.Cgroup, gofer); err != nil {
		sb.Destroy()
		return nil, err
	}
	configR, configW, err := os.Pipe()
	if err != nil {
		sb.Destroy()
		return nil, err
	}
	defer configW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		configR.Close()
		sb.Destroy()
		return nil, err
	}
	defer statusR.Close()
	args := append(GlobalArgs(a.Conf), "subcontainer", "--id", a.ID, "--sandbox-socket", ownerSocket,
		"--config-fd", "3", "--gofer-fd", "4", "--status-fd", "5", "--exit-file", exitFile)
	cmd := &exec.Cmd{Path: self, Args: append([]string{subArgv0}, args...)}
	cmd.ExtraFiles = []*os.File{configR, clientSock, statusW}
	stdio := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	for i, f := range a.Stdio {
		if f != nil {
			stdio[i] = f
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: a.Detach}
	err = cmd.Start()
	configR.Close()
	statusW.Close()
	if err != nil {
		sb.Destroy()
		return nil, fmt.Errorf("starting the subcontainer's waiter: %w", err)
	}
	sb.Sandbox = cmd
	if err := sb.join(a.Cgroup, cmd); err != nil {
		sb.Destroy()
		return nil, err
	}
	werr := bc.Write(configW)
	configW.Close()
	if err := readStatus(statusR); err != nil {
		sb.Destroy()
		if werr != nil {
			return nil, fmt.Errorf("sending the subcontainer's config: %w", werr)
		}
		return nil, err
	}
	return sb, nil
}
