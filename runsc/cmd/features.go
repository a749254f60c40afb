package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"os"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"appkernel.dev/appkernel/runsc/boot"
)

// Features prints what this runtime supports, as the runtime-spec's
// features document describes it.
type Features struct{}

// Name implements subcommands.Command.
func (*Features) Name() string { return "features" }

// Synopsis implements subcommands.Command.
func (*Features) Synopsis() string { return "print the OCI features this runtime supports, as JSON" }

// Usage implements subcommands.Command.
func (*Features) Usage() string { return "features\n" }

// SetFlags implements subcommands.Command.
func (*Features) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*Features) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() != 0 {
		return usagef("features: takes no arguments")
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "    ")
	if err := enc.Encode(runtimeFeatures()); err != nil {
		return failf("features: %v", err)
	}
	return subcommands.ExitSuccess
}

// runtimeFeatures is what runsc honours. Only what is implemented is
// listed: AppArmor, SELinux and Intel RDT are not applied, so they say
// disabled. The bundle's seccomp profile is applied inside the sandbox.
func runtimeFeatures() *features.Features {
	yes, no := true, false
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		// The options the sandbox's mounts and the gofer's binds act on.
		MountOptions: []string{"bind", "rbind", "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec"},
		Linux: &features.Linux{
			// Each is the Sentry's own, emulated inside the sandbox;
			// the network one is also honoured on the host (a new one,
			// or the one at the spec's path).
			Namespaces: []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts"},
			Cgroup:     &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no},
			Seccomp:    seccompFeatures(),
			Apparmor:   &features.Apparmor{Enabled: &no},
			Selinux:    &features.Selinux{Enabled: &no},
			IntelRdt:   &features.IntelRdt{Enabled: &no},
		},
		Annotations: map[string]string{
			"org.opencontainers.runc.checkpoint.enabled": "false",
			"dev.appkernel.runsc.platforms":              "systrap,ptrace",
		},
	}
}

// seccompFeatures describes the seccomp profiles the sandbox applies
// (runsc/boot/seccomp_profile.go): every action but SCMP_ACT_NOTIFY,
// every operator, and the flags that mean something inside it.
func seccompFeatures() *features.Seccomp {
	yes := true
	actions, operators, archs, flags := boot.SeccompFeatures()
	return &features.Seccomp{
		Enabled:        &yes,
		Actions:        actions,
		Operators:      operators,
		Archs:          archs,
		KnownFlags:     flags,
		SupportedFlags: flags,
	}
}
