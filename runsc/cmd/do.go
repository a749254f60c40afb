package cmd

import (
	"context"
	"errors"
	"flag"

	"github.com/google/subcommands"
)

// errNoSentry is what every command that would run application code says
// until the Sentry exists: no output is faked.
var errNoSentry = errors.New("the sandbox is not implemented yet: runsc cannot run programs until the Sentry lands")

// Do runs a command in a new sandbox over the host's root filesystem.
type Do struct{}

// Name implements subcommands.Command.
func (*Do) Name() string { return "do" }

// Synopsis implements subcommands.Command.
func (*Do) Synopsis() string { return "run a command in a sandbox over the host's root filesystem" }

// Usage implements subcommands.Command.
func (*Do) Usage() string {
	return "do [flags] CMD [ARG...]\n\nRuns CMD in a sandbox whose root is the host's, read-only, with writes kept in memory.\n"
}

// SetFlags implements subcommands.Command.
func (*Do) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*Do) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	_ = configFrom(args)
	if f.NArg() == 0 {
		return usagef("do: missing command to run\nusage: runsc %s", (*Do)(nil).Usage())
	}
	return failf("do: %v", errNoSentry)
}
