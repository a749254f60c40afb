package cmd

import (
	"context"
	"flag"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/runsc/container"
)

// Start runs a created container's process.
type Start struct{}

// Name implements subcommands.Command.
func (*Start) Name() string { return "start" }

// Synopsis implements subcommands.Command.
func (*Start) Synopsis() string { return "start a created container" }

// Usage implements subcommands.Command.
func (*Start) Usage() string {
	return "start ID\n\nRuns the process of container ID, made by create.\n"
}

// SetFlags implements subcommands.Command.
func (*Start) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*Start) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	id, ok := oneID(f, "start")
	if !ok {
		return subcommands.ExitUsageError
	}
	c, err := container.Load(conf.RootDir, id)
	if err != nil {
		return failf("start: %v", err)
	}
	defer c.Unlock()
	if err := c.Start(); err != nil {
		return failf("start: %v", err)
	}
	return subcommands.ExitSuccess
}
