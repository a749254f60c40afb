package container

import (
	"fmt"
	"path/filepath"
	"syscall"
	"time"

	"appkernel.dev/appkernel/runsc/config"
	"appkernel.dev/appkernel/runsc/sandbox"
)

// createSub starts a container in the sandbox of container sandboxID
// (a pod's sandbox container, running under the same root).
func createSub(conf *config.Config, sa *sandbox.Args, sandboxID string) (*sandbox.Sandbox, error) {
	owner, err := Load(conf.RootDir, sandboxID)
	if err != nil {
		return nil, fmt.Errorf("the pod's sandbox: %w", err)
	}
	status, socket, nested := owner.Status(), owner.socket(), owner.SandboxID != ""
	owner.Unlock()
	switch {
	case nested:
		return nil, fmt.Errorf("container %s joined the sandbox of %s itself: join that one", sandboxID, owner.SandboxID)
	case status == Stopped:
		return nil, fmt.Errorf("the pod's sandbox %s has stopped", sandboxID)
	}
	return sandbox.CreateSub(sa, socket, filepath.Join(sa.StateDir, sandbox.ExitStatusFile))
}

// subID is the id the sandbox knows this container by: "" for the
// sandbox's first container.
func (c *Container) subID() string {
	if c.SandboxID == "" {
		return ""
	}
	return c.ID
}

// waitSub waits for a subcontainer's waiter to end and returns the status
// it recorded (it exits as the container did, but only its parent, the
// engine, can reap it).
func (c *Container) waitSub() (syscall.WaitStatus, error) {
	for c.Sandbox.Alive() {
		time.Sleep(20 * time.Millisecond)
	}
	return c.recordedExitStatus()
}
