package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"os"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/runsc/container"
)

// State prints a container's OCI state.
type State struct{}

// Name implements subcommands.Command.
func (*State) Name() string { return "state" }

// Synopsis implements subcommands.Command.
func (*State) Synopsis() string { return "print a container's OCI state as JSON" }

// Usage implements subcommands.Command.
func (*State) Usage() string {
	return "state ID\n\nPrints {ociVersion, id, pid, status, bundle, rootfs, created, owner} of container ID.\n"
}

// SetFlags implements subcommands.Command.
func (*State) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*State) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	id, ok := oneID(f, "state")
	if !ok {
		return subcommands.ExitUsageError
	}
	c, err := container.Load(conf.RootDir, id)
	if err != nil {
		return failf("state: %v", err)
	}
	st := c.OCIState()
	c.Unlock()
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return failf("state: %v", err)
	}
	os.Stdout.Write(append(out, '\n'))
	return subcommands.ExitSuccess
}
