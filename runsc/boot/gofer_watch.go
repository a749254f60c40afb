package boot

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/log"
)

// watchGofer runs lost if a container's gofer goes away: the container's
// files are then unreachable, and a container that limps on with EIO for
// every file is worse than one that is seen to fail.
func watchGofer(c *lisafs.Client, lost func()) {
	<-c.Disconnected()
	lost()
}

// killContainer kills the sandbox's first container, whose gofer is gone,
// unless it is over anyway. SIGKILL to its first process takes every
// other process with it, and the sandbox reports the container killed, as
// runc's would be.
func (s *Sandbox) killContainer() {
	select {
	case <-s.k.AllTasksExited():
		return
	default:
	}
	log.Warningf("the gofer's connection is gone: killing the container")
	if err := s.k.SignalRootProcess(linux.SIGKILL); err != nil {
		log.Warningf("killing the container: %v", err)
	}
}
