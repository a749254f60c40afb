package cmd

import (
	"context"
	"errors"
	"flag"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/runsc/container"
)

// Delete removes a container and whatever is left of its processes.
type Delete struct {
	force bool
}

// Name implements subcommands.Command.
func (*Delete) Name() string { return "delete" }

// Synopsis implements subcommands.Command.
func (*Delete) Synopsis() string { return "delete a container" }

// Usage implements subcommands.Command.
func (*Delete) Usage() string {
	return `delete [--force] ID...

Removes each container's state. A running container is refused unless
--force, which kills it; --force on an unknown id succeeds (engines clean
up with it after a normal delete).
`
}

// SetFlags implements subcommands.Command.
func (d *Delete) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&d.force, "force", false, "kill a running container; ignore unknown ids")
	f.BoolVar(&d.force, "f", false, "same as --force")
}

// Execute implements subcommands.Command.
func (d *Delete) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	if f.NArg() == 0 {
		return usagef("delete: want at least one container id")
	}
	status := subcommands.ExitSuccess
	for _, id := range f.Args() {
		c, err := container.Load(conf.RootDir, id)
		if err != nil {
			if d.force && errors.Is(err, container.ErrNotExist) {
				continue
			}
			status = failf("delete: %v", err)
			continue
		}
		err = c.Delete(d.force)
		c.Unlock()
		if err != nil {
			status = failf("delete: %v", err)
		}
	}
	return status
}
