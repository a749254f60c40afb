package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Spec writes a template config.json into a bundle directory.
type Spec struct {
	bundle string
	cwd    string
}

// Name implements subcommands.Command.
func (*Spec) Name() string { return "spec" }

// Synopsis implements subcommands.Command.
func (*Spec) Synopsis() string { return "write a template OCI config.json" }

// Usage implements subcommands.Command.
func (*Spec) Usage() string {
	return "spec [--bundle DIR] [--cwd DIR] [-- CMD ARG...]\n\nWrites DIR/config.json for a container that runs CMD (default: sh) in DIR/rootfs.\nAn existing config.json is never overwritten.\n"
}

// SetFlags implements subcommands.Command.
func (s *Spec) SetFlags(f *flag.FlagSet) {
	f.StringVar(&s.bundle, "bundle", ".", "bundle directory to write config.json into")
	f.StringVar(&s.cwd, "cwd", "/", "working directory of the container's process")
}

// Execute implements subcommands.Command.
func (s *Spec) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	_ = configFrom(args)
	if !filepath.IsAbs(s.cwd) {
		return usagef("spec: --cwd must be an absolute path inside the container, got %q", s.cwd)
	}
	argv := f.Args()
	if len(argv) == 0 {
		argv = []string{"sh"}
	}
	out, err := json.MarshalIndent(templateSpec(argv, s.cwd), "", "\t")
	if err != nil {
		return failf("spec: %v", err)
	}
	path := filepath.Join(s.bundle, "config.json")
	// O_EXCL so that a user's hand-written config is never clobbered.
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return failf("spec: %v", err)
	}
	if _, err := file.Write(append(out, '\n')); err != nil {
		file.Close()
		os.Remove(path)
		return failf("spec: writing %s: %v", path, err)
	}
	if err := file.Close(); err != nil {
		os.Remove(path)
		return failf("spec: writing %s: %v", path, err)
	}
	return subcommands.ExitSuccess
}

// templateSpec is the configuration a user edits to get started: a
// terminal shell in ./rootfs with the confinement an engine would ask for.
func templateSpec(argv []string, cwd string) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: true,
			User:     specs.User{UID: 0, GID: 0},
			Args:     argv,
			Env:      []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:      cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: caps,
				Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "runsc",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
}
