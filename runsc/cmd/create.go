package cmd

import (
	"context"
	"flag"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/runsc/container"
)

// Create creates a container from an OCI bundle; `runsc start` runs it.
type Create struct {
	bundle        string
	pidFile       string
	consoleSocket string
}

// Name implements subcommands.Command.
func (*Create) Name() string { return "create" }

// Synopsis implements subcommands.Command.
func (*Create) Synopsis() string { return "create a container from a bundle (run it with start)" }

// Usage implements subcommands.Command.
func (*Create) Usage() string {
	return `create [--bundle DIR] [--pid-file FILE] [--console-socket PATH] ID

Creates container ID from the OCI bundle DIR (default: the current
directory) and leaves it waiting for "runsc start ID". The pid file names
the sandbox process, which exits with the container's status; its stdin,
stdout and stderr are this command's.
`
}

// SetFlags implements subcommands.Command.
func (c *Create) SetFlags(f *flag.FlagSet) {
	f.StringVar(&c.bundle, "bundle", "", "path to the bundle directory (default: current directory)")
	f.StringVar(&c.bundle, "b", "", "same as --bundle")
	f.StringVar(&c.pidFile, "pid-file", "", "file to write the sandbox process's pid to")
	f.StringVar(&c.consoleSocket, "console-socket", "", "unix socket to send the pty master to (terminal: true)")
}

// Execute implements subcommands.Command.
func (c *Create) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	id, ok := oneID(f, "create")
	if !ok {
		return subcommands.ExitUsageError
	}
	if _, err := container.Create(conf, &container.CreateArgs{ID: id, Bundle: c.bundle, PidFile: c.pidFile, ConsoleSocket: c.consoleSocket, Detach: true}); err != nil {
		return failf("create: %v", err)
	}
	ensureMetricServer(conf)
	return subcommands.ExitSuccess
}

// oneID returns the single container id a command takes.
func oneID(f *flag.FlagSet, cmd string) (string, bool) {
	if f.NArg() != 1 {
		usagef("%s: want exactly one container id, got %d arguments", cmd, f.NArg())
		return "", false
	}
	return f.Arg(0), true
}
