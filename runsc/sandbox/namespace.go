package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// sandboxCloneFlags are the namespaces every sandbox process gets of its
// own, whatever the spec says: the container's mount, PID, IPC and UTS
// namespaces are the Sentry's to emulate, so the host's only confine the
// Sentry itself. (Its dying as PID 1 of its namespace also takes every
// stub process with it.)
const sandboxCloneFlags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS

// goferCloneFlags confine the gofer: it pivots into the container's root
// in a mount namespace of its own and needs no network.
const goferCloneFlags = sandboxCloneFlags | unix.CLONE_NEWNET

// networkNamespace says where the sandbox process's network is: a new
// empty namespace (the spec asks for one without a path), the namespace
// at a path (an engine made it, as Docker's bridge and CNI do), or the
// caller's (the spec asks for none: docker --network=host).
func networkNamespace(spec *specs.Spec) (newNS bool, path string) {
	if spec.Linux == nil {
		return false, ""
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			return ns.Path == "", ns.Path
		}
	}
	return false, ""
}

// startInNetns starts cmd, joining the network namespace at path first
// when path is set. The join happens on a thread of its own that is
// thrown away afterwards, so no other goroutine ever runs in that
// namespace.
func startInNetns(cmd *exec.Cmd, path string) error {
	if path == "" {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine.
		runtime.LockOSThread()
		f, err := os.Open(path)
		if err != nil {
			errc <- fmt.Errorf("network namespace: %w", err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("joining the network namespace %s: %w", path, err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}
