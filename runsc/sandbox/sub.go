package sandbox

import (
	"os"
	"os/exec"
	"syscall"
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
	sb, clientSock, err := withGofer(a, self, exports)
	if err != nil {
		return nil, err
	}
	defer clientSock.Close()
	args := append(GlobalArgs(a.Conf), "subcontainer", "--id", a.ID, "--sandbox-socket", ownerSocket,
		"--config-fd", "3", "--gofer-fd", "4", "--status-fd", "5", "--exit-file", exitFile)
	cmd := &exec.Cmd{Path: self, Args: append([]string{subArgv0}, args...)}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.stdio()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: a.Detach}
	files := func(configR, statusW *os.File) []*os.File { return []*os.File{configR, clientSock, statusW} }
	if err := sb.launch(cmd, files, cmd.Start, a.Cgroup, bc, "the subcontainer's waiter"); err != nil {
		return nil, err
	}
	return sb, nil
}
