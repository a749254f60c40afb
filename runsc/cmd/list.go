package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/runsc/container"
)

// List lists the containers under --root.
type List struct {
	format string
	quiet  bool
}

// Name implements subcommands.Command.
func (*List) Name() string { return "list" }

// Synopsis implements subcommands.Command.
func (*List) Synopsis() string { return "list containers" }

// Usage implements subcommands.Command.
func (*List) Usage() string {
	return "list [--format table|json] [--quiet]\n\nLists the containers under --root, as runc's table or a JSON array of states.\n"
}

// SetFlags implements subcommands.Command.
func (l *List) SetFlags(f *flag.FlagSet) {
	f.StringVar(&l.format, "format", "table", "output format: table or json")
	f.StringVar(&l.format, "f", "table", "same as --format")
	f.BoolVar(&l.quiet, "quiet", false, "print only the ids")
	f.BoolVar(&l.quiet, "q", false, "same as --quiet")
}

// Execute implements subcommands.Command.
func (l *List) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	if f.NArg() != 0 {
		return usagef("list: unexpected arguments %q", f.Args())
	}
	if l.format != "table" && l.format != "json" {
		return usagef("list: --format must be table or json, got %q", l.format)
	}
	ids, err := container.List(conf.RootDir)
	if err != nil {
		return failf("list: %v", err)
	}
	states := []container.OCIState{}
	for _, id := range ids {
		c, err := container.Load(conf.RootDir, id)
		if err != nil {
			// Deleted meanwhile.
			continue
		}
		st := c.OCIState()
		c.Unlock()
		st.Owner = ownerOf(filepath.Join(conf.RootDir, id))
		states = append(states, st)
	}
	switch {
	case l.quiet:
		for _, st := range states {
			fmt.Println(st.ID)
		}
	case l.format == "json":
		out, err := json.Marshal(states)
		if err != nil {
			return failf("list: %v", err)
		}
		os.Stdout.Write(append(out, '\n'))
	default:
		w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, st := range states {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", st.ID, st.PID, st.Status, st.Bundle, st.Created.Format(time.RFC3339Nano), st.Owner)
		}
		w.Flush()
	}
	return subcommands.ExitSuccess
}

// ownerOf names the user owning a state directory, as runc's list does.
func ownerOf(dir string) string {
	st, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	uid := st.Sys().(*syscall.Stat_t).Uid
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return u.Username
	}
	return "#" + strconv.Itoa(int(uid))
}
