package boot

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/log"
)

// watchGofer ends the container if its gofer goes away while it runs:
// its files are then unreachable, and a container that limps on with
// EIO for every file is worse than one that is seen to fail. SIGKILL to
// the first process takes every other process with it, and the sandbox
// reports the container killed, as runc's would be.
func (s *Sandbox) watchGofer(c *lisafs.Client) {
	<-c.Disconnected()
	select {
	case <-s.k.AllTasksExited():
		// The container is over; the connection went with it.
		return
	default:
	}
	log.Warningf("the gofer's connection is gone: killing the container")
	if err := s.k.SignalRootProcess(linux.SIGKILL); err != nil {
		log.Warningf("killing the container: %v", err)
	}
}
