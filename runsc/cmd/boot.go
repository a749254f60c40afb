package cmd

import (
	"context"
	"flag"
	"os"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/runsc/boot"
)

// Boot is the sandbox process: it runs the Sentry. runsc starts it; users
// do not.
type Boot struct {
	goferFD  int
	configFD int
}

// Name implements subcommands.Command.
func (*Boot) Name() string { return "boot" }

// Synopsis implements subcommands.Command.
func (*Boot) Synopsis() string { return "run the Sentry in a sandbox process (internal)" }

// Usage implements subcommands.Command.
func (*Boot) Usage() string {
	return "boot --gofer-fd N --config-fd N\n\nRuns the Sentry for one container. Started by runsc itself.\n"
}

// SetFlags implements subcommands.Command.
func (b *Boot) SetFlags(f *flag.FlagSet) {
	f.IntVar(&b.goferFD, "gofer-fd", -1, "socket to the root file system's gofer")
	f.IntVar(&b.configFD, "config-fd", -1, "pipe carrying the sandbox configuration")
}

// Execute implements subcommands.Command.
func (b *Boot) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	if b.goferFD < 0 || b.configFD < 0 || f.NArg() != 0 {
		return usagef("boot: --gofer-fd and --config-fd are required")
	}
	cf := os.NewFile(uintptr(b.configFD), "config")
	bc, err := boot.ReadConfig(cf)
	cf.Close()
	if err != nil {
		return failf("boot: %v", err)
	}
	bc.Platform = string(conf.Platform)
	bc.Strace = bc.Strace || conf.Strace
	files := &boot.Files{
		Gofer: os.NewFile(uintptr(b.goferFD), "gofer"),
		Stdio: [3]*os.File{os.Stdin, os.Stdout, os.Stderr},
	}
	s, err := boot.New(bc, files)
	if err != nil {
		return failf("boot: %v", err)
	}
	defer s.Release()
	ws, err := s.Run(files)
	if err != nil {
		return failf("boot: %v", err)
	}
	// The sandbox's status is the container's: exit with it directly.
	s.Release()
	os.Exit(boot.ExitCode(ws))
	return subcommands.ExitSuccess
}
