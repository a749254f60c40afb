package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"os"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/runsc/container"
)

// Wait waits for a container to exit and prints its status.
type Wait struct{}

// Name implements subcommands.Command.
func (*Wait) Name() string { return "wait" }

// Synopsis implements subcommands.Command.
func (*Wait) Synopsis() string { return "wait for a container to exit and print its exit status" }

// Usage implements subcommands.Command.
func (*Wait) Usage() string {
	return `wait ID

Waits until container ID has exited and prints {"id": ID, "exitStatus": N}
(N is 128+S when signal S killed it). Works after the exit too, until the
container is deleted.
`
}

// SetFlags implements subcommands.Command.
func (*Wait) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*Wait) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	id, ok := oneID(f, "wait")
	if !ok {
		return subcommands.ExitUsageError
	}
	c, err := container.Load(conf.RootDir, id)
	if err != nil {
		return failf("wait: %v", err)
	}
	// Waiting must not keep other commands (kill!) away from the
	// container.
	c.Unlock()
	ws, err := c.WaitStatus()
	if err != nil {
		return failf("wait: %v", err)
	}
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	out, _ := json.Marshal(struct {
		ID         string `json:"id"`
		ExitStatus int    `json:"exitStatus"`
	}{id, code})
	os.Stdout.Write(append(out, '\n'))
	return subcommands.ExitSuccess
}
