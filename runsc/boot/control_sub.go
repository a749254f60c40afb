package boot

import (
	"errors"
	"net"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// createSub builds subcontainer id; files are its gofer socket and stdio,
// which it owns.
func (c *controlServer) createSub(id string, conf *Config, files []int) error {
	if conf == nil || len(files) != 4 {
		closeFDs(files)
		return errors.New("create-sub: want a config, a gofer socket and 3 stdio files")
	}
	c.mu.Lock()
	select {
	case <-c.exited:
		c.mu.Unlock()
		closeFDs(files)
		return errors.New("the sandbox's container has exited")
	default:
	}
	c.mu.Unlock()
	return c.s.CreateSubcontainer(id, conf, files[0], [3]int{files[1], files[2], files[3]})
}

// waitSub waits for subcontainer id to end, killing it if the caller
// hangs up first, and forgets it.
func (c *controlServer) waitSub(conn *net.UnixConn, id string) (linux.WaitStatus, error) {
	tg, err := c.s.subcontainerExit(id)
	if err != nil {
		return 0, err
	}
	ws := c.waitOrKill(conn, tg, "container "+id, func() { c.s.killSubcontainer(id) })
	c.s.removeSubcontainer(id)
	return ws, nil
}
