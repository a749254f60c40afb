package specutils

import specs "github.com/opencontainers/runtime-spec/specs-go"

// The annotations by which Kubernetes' CRI runtimes (containerd's CRI
// plugin and CRI-O) say that a container belongs to a pod: the pod's
// sandbox container comes first, and each container after it names the
// sandbox to join.
const (
	criContainerType  = "io.kubernetes.cri.container-type"
	criSandboxID      = "io.kubernetes.cri.sandbox-id"
	crioContainerType = "io.kubernetes.cri-o.ContainerType"
	crioSandboxID     = "io.kubernetes.cri-o.SandboxID"
)

// JoinsSandbox returns the id of the sandbox container spec's container
// joins, if it is a pod's non-sandbox container.
func JoinsSandbox(spec *specs.Spec) (string, bool) {
	a := spec.Annotations
	if a[criContainerType] == "container" && a[criSandboxID] != "" {
		return a[criSandboxID], true
	}
	if a[crioContainerType] == "container" && a[crioSandboxID] != "" {
		return a[crioSandboxID], true
	}
	return "", false
}
