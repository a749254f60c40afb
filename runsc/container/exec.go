package container

import (
	"fmt"
	"os"
	"syscall"

	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/sandbox"
)

// Exec starts p in the running container with stdio as its stdin,
// stdout and stderr, and returns its pid inside the container. The
// container may be unlocked once Exec returns: the process lives on in
// the sandbox.
func (c *Container) Exec(p *boot.ProcessArgs, stdio [3]*os.File) (int32, error) {
	if s := c.Status(); s != Running {
		return 0, fmt.Errorf("cannot exec in container %s: it is %s, not running", c.ID, s)
	}
	resp, err := sandbox.Call(c.socket(), boot.ControlRequest{Cmd: boot.CtlExec, Process: p, Container: c.subID()}, sandbox.CallTimeout, stdio[:]...)
	if err != nil {
		return 0, fmt.Errorf("exec in container %s: %w", c.ID, err)
	}
	return resp.PID, nil
}

// ExecHandle reaches a process Exec started, after the container is
// unlocked.
type ExecHandle struct {
	socket string
	PID    int32
}

// Handle returns the handle of the exec'd process pid.
func (c *Container) Handle(pid int32) ExecHandle { return ExecHandle{socket: c.socket(), PID: pid} }

// Wait waits for the process to exit and returns its wait status. If the
// caller dies first, the sandbox kills the process.
func (h ExecHandle) Wait() (syscall.WaitStatus, error) {
	resp, err := sandbox.Call(h.socket, boot.ControlRequest{Cmd: boot.CtlWaitPID, PID: h.PID}, 0)
	if err != nil {
		return 0, err
	}
	return syscall.WaitStatus(resp.WaitStatus), nil
}

// Signal sends sig to the process.
func (h ExecHandle) Signal(sig syscall.Signal) error {
	_, err := sandbox.Call(h.socket, boot.ControlRequest{Cmd: boot.CtlSignal, Signal: int(sig), PID: h.PID}, sandbox.CallTimeout)
	return err
}
