package container

import (
	"fmt"

	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/sandbox"
)

// Pause freezes a running container: none of its processes runs until
// Resume.
func (c *Container) Pause() error {
	if c.SandboxID != "" {
		return fmt.Errorf("container %s shares the sandbox of %s: pause that one, which pauses both", c.ID, c.SandboxID)
	}
	if s := c.Status(); s != Running {
		return fmt.Errorf("cannot pause container %s: it is %s, not running", c.ID, s)
	}
	if _, err := sandbox.Call(c.socket(), boot.ControlRequest{Cmd: boot.CtlPause}, sandbox.CallTimeout); err != nil {
		return fmt.Errorf("pausing container %s: %w", c.ID, err)
	}
	c.State.Status = Paused
	return c.save(c.dir)
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if s := c.Status(); s != Paused {
		return fmt.Errorf("cannot resume container %s: it is %s, not paused", c.ID, s)
	}
	if _, err := sandbox.Call(c.socket(), boot.ControlRequest{Cmd: boot.CtlResume}, sandbox.CallTimeout); err != nil {
		return fmt.Errorf("resuming container %s: %w", c.ID, err)
	}
	c.State.Status = Running
	return c.save(c.dir)
}
