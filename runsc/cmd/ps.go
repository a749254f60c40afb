package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/runsc/container"
)

// PS lists a container's processes as the host sees them.
type PS struct {
	format string
}

// Name implements subcommands.Command.
func (*PS) Name() string { return "ps" }

// Synopsis implements subcommands.Command.
func (*PS) Synopsis() string { return "list a container's host processes" }

// Usage implements subcommands.Command.
func (*PS) Usage() string {
	return `ps [--format table|json] ID [PS_OPTION...]

Lists the host processes of container ID: the sandbox process. The
container's own processes run inside the Sentry and have no host pid.
--format json prints the pids as a JSON array (what docker top reads);
the table is the host's ps(1) output (options default to -ef) for them.
`
}

// SetFlags implements subcommands.Command.
func (p *PS) SetFlags(f *flag.FlagSet) {
	f.StringVar(&p.format, "format", "table", "output format: table or json")
	f.StringVar(&p.format, "f", "table", "same as --format")
}

// Execute implements subcommands.Command.
func (p *PS) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	if f.NArg() < 1 {
		return usagef("ps: want a container id")
	}
	if p.format != "table" && p.format != "json" {
		return usagef("ps: --format must be table or json, got %q", p.format)
	}
	c, err := container.Load(conf.RootDir, f.Arg(0))
	if err != nil {
		return failf("ps: %v", err)
	}
	pids := []int{}
	if c.Status() != container.Stopped {
		pids = append(pids, c.Sandbox.PID)
	}
	c.Unlock()
	if p.format == "json" {
		out, _ := json.Marshal(pids)
		os.Stdout.Write(append(out, '\n'))
		return subcommands.ExitSuccess
	}
	psArgs := f.Args()[1:]
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return failf("ps: running ps %s: %v", strings.Join(psArgs, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	pidCol := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			pidCol = i
		}
	}
	if pidCol < 0 {
		return failf("ps: no PID column in ps %s", strings.Join(psArgs, " "))
	}
	fmt.Println(lines[0])
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= pidCol {
			continue
		}
		pid, err := strconv.Atoi(fields[pidCol])
		if err != nil {
			continue
		}
		for _, want := range pids {
			if pid == want {
				fmt.Println(line)
			}
		}
	}
	return subcommands.ExitSuccess
}
