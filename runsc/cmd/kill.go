package cmd

import (
	"context"
	"flag"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/runsc/container"
	"appkernel.dev/appkernel/runsc/specutils"
)

// Kill sends a signal to a container.
type Kill struct {
	all bool
}

// Name implements subcommands.Command.
func (*Kill) Name() string { return "kill" }

// Synopsis implements subcommands.Command.
func (*Kill) Synopsis() string { return "send a signal to a container" }

// Usage implements subcommands.Command.
func (*Kill) Usage() string {
	return `kill [--all] ID [SIGNAL]

Sends SIGNAL (default TERM; a number, or a name with or without SIG) to
the first process of container ID, which, as a container's init, ignores
signals it has no handler for, except KILL. --all signals every process.
`
}

// SetFlags implements subcommands.Command.
func (k *Kill) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&k.all, "all", false, "send the signal to every process of the container")
	f.BoolVar(&k.all, "a", false, "same as --all")
}

// Execute implements subcommands.Command.
func (k *Kill) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	if f.NArg() < 1 || f.NArg() > 2 {
		return usagef("kill: want ID [SIGNAL], got %d arguments", f.NArg())
	}
	sig := unix.SIGTERM
	if f.NArg() == 2 {
		var err error
		if sig, err = specutils.ParseSignal(f.Arg(1)); err != nil {
			return failf("kill: %v", err)
		}
	}
	c, err := container.Load(conf.RootDir, f.Arg(0))
	if err != nil {
		return failf("kill: %v", err)
	}
	defer c.Unlock()
	if err := c.Kill(sig, k.all); err != nil {
		return failf("kill: %v", err)
	}
	return subcommands.ExitSuccess
}
