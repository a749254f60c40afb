// Package boot starts the Sentry inside the sandbox process (`runsc
// boot`): it builds the memory file, platform, kernel and file system,
// creates the container's first process, and reports how it ended.
package boot

import (
	"encoding/json"
	"fmt"
	"io"
)

// Config is what the runsc process that creates a sandbox tells the
// sandbox process, over a pipe, about the container to run.
type Config struct {
	// Argv, Env and Cwd describe the first process.
	Argv []string
	Env  []string
	Cwd  string
	// UID and GID are the first process's credentials.
	UID, GID uint32
	// Hostname is the sandbox's UTS name.
	Hostname string
	// Platform names the platform ("ptrace" or "systrap").
	Platform string
	// Strace logs every syscall.
	Strace bool
	// NoSyscallPatch keeps application code as written (runsc
	// --syscall-patch=false).
	NoSyscallPatch bool
	// Network is the network mode: "sandbox", "host" or "none".
	Network string
	// RootReadOnly has the gofer serve the root file system read-only.
	RootReadOnly bool
	// RootOverlay puts an in-memory upper layer over the root, so the
	// container can write anywhere while the served files never change
	// (runsc do). Without it the root is the gofer's tree as served:
	// writable, as an engine's container layer is, unless RootReadOnly.
	RootOverlay bool
	// Mounts are mounted over the root, in order, after /dev and /proc.
	Mounts []Mount
	// Rlimits are the first process's resource limits.
	Rlimits []Rlimit
	// Cgroup are the container's cgroup limits, which the Sentry's
	// cgroup2 file system shows (fs_cgroup.go). The sandbox's first
	// container sets them for all.
	Cgroup CgroupLimits
	// Seccomp confines the container's processes (seccomp_profile.go);
	// nil for none.
	Seccomp *SeccompConfig `json:",omitempty"`
	// HostCPUInfo and HostRelease are host facts captured by the creator,
	// since the Sentry reads no host files.
	HostCPUInfo []byte
	HostRelease string
	HostVersion string
}

// Mount kinds.
const (
	// MountGofer mounts the gofer export named by the mount's
	// destination (an OCI bind mount).
	MountGofer = "gofer"
	// MountTmpfs mounts a new, empty tmpfs.
	MountTmpfs = "tmpfs"
	// MountDevpts mounts a new devpts instance (Data: its options).
	MountDevpts = "devpts"
	// MountSysfs mounts the Sentry's sysfs (an OCI sysfs mount).
	MountSysfs = "sysfs"
	// MountMqueue mounts the IPC namespace's POSIX message queues (an
	// OCI mqueue mount).
	MountMqueue = "mqueue"
	// MountCgroup mounts the Sentry's cgroup2, the container's own
	// cgroup (an OCI cgroup or cgroup2 mount).
	MountCgroup = "cgroup2"
)

// Mount is one file system mounted into the container.
type Mount struct {
	// Dest is the absolute path inside the container; it is created
	// when missing.
	Dest string
	// Kind is one of the Mount kinds above.
	Kind string
	// Flags are MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC.
	Flags uint32
	// Data are the file system's options (tmpfs: mode=, size=, uid=,
	// gid=).
	Data string
}

// CgroupLimits are the container's resource limits as its OCI spec's
// linux.resources gives them (cgroup v1's terms, which runc and crun
// convert for cgroup v2). A value of 0 is unset; -1 is no limit.
type CgroupLimits struct {
	// MemoryLimit is memory.limit, in bytes.
	MemoryLimit int64 `json:",omitempty"`
	// MemorySwap is memory.swap: memory plus swap, in bytes.
	MemorySwap int64 `json:",omitempty"`
	// CPUQuota and CPUPeriod are cpu.quota and cpu.period, in
	// microseconds.
	CPUQuota  int64  `json:",omitempty"`
	CPUPeriod uint64 `json:",omitempty"`
	// CPUShares is cpu.shares, the relative weight (2 to 262144).
	CPUShares uint64 `json:",omitempty"`
	// PidsLimit is pids.limit, in tasks.
	PidsLimit int64 `json:",omitempty"`
}

// Rlimit is one resource limit (RLIMIT_* number) of the first process.
type Rlimit struct {
	Resource int
	Cur, Max uint64
}

// maxConfigSize bounds what the sandbox reads, so a broken creator cannot
// make it allocate without limit.
const maxConfigSize = 16 << 20

// ReadConfig decodes a Config from r.
func ReadConfig(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading sandbox config: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("sandbox config larger than %d bytes", maxConfigSize)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("decoding sandbox config: %w", err)
	}
	if len(c.Argv) == 0 {
		return nil, fmt.Errorf("sandbox config has no command")
	}
	return &c, nil
}

// Write encodes c to w.
func (c *Config) Write(w io.Writer) error {
	return json.NewEncoder(w).Encode(c)
}
