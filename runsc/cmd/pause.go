package cmd

import (
	"context"
	"flag"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/runsc/container"
)

// Pause freezes a running container; Resume thaws it.
type Pause struct{ resume bool }

// Resume is the command that thaws what Pause froze.
func Resume() *Pause { return &Pause{resume: true} }

// Name implements subcommands.Command.
func (p *Pause) Name() string {
	if p.resume {
		return "resume"
	}
	return "pause"
}

// Synopsis implements subcommands.Command.
func (p *Pause) Synopsis() string {
	if p.resume {
		return "resume the processes of a paused container"
	}
	return "suspend every process of a running container"
}

// Usage implements subcommands.Command.
func (p *Pause) Usage() string { return p.Name() + " ID\n" }

// SetFlags implements subcommands.Command.
func (*Pause) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (p *Pause) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	id, ok := oneID(f, p.Name())
	if !ok {
		return subcommands.ExitUsageError
	}
	c, err := container.Load(conf.RootDir, id)
	if err != nil {
		return failf("%s: %v", p.Name(), err)
	}
	defer c.Unlock()
	if p.resume {
		err = c.Resume()
	} else {
		err = c.Pause()
	}
	if err != nil {
		return failf("%s: %v", p.Name(), err)
	}
	return subcommands.ExitSuccess
}
