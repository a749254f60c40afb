// Command containerd-shim-runsc-v1 is the containerd shim (v2 API) for
// runsc: containerd, and Kubernetes through a RuntimeClass, start it for
// the runtime type io.containerd.runsc.v1. It is containerd's own runc
// shim service, pointed at runsc: the container lifecycle goes through
// runsc's OCI command line, exactly as with containerd-shim-runc-v2 and
// --runc-binary.
package main

import (
	"context"

	"github.com/containerd/containerd/runtime/v2/runc/manager"
	"github.com/containerd/containerd/runtime/v2/shim"
)

// runtimeType is the name containerd knows the shim by.
const runtimeType = "io.containerd.runsc.v1"

func main() {
	shim.RunManager(context.Background(), manager.NewShimManager(runtimeType))
}
