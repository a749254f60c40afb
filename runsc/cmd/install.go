package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/subcommands"
)

// Install adds runsc as a runtime to Docker's daemon.json; Uninstall
// removes it. Everything else in the file is kept.
type Install struct {
	uninstall bool
	config    string
	runtime   string
}

// Uninstall is the command that undoes Install.
func Uninstall() *Install { return &Install{uninstall: true} }

// Name implements subcommands.Command.
func (i *Install) Name() string {
	if i.uninstall {
		return "uninstall"
	}
	return "install"
}

// Synopsis implements subcommands.Command.
func (i *Install) Synopsis() string {
	if i.uninstall {
		return "remove a runsc runtime from Docker's daemon.json"
	}
	return "add runsc as a runtime to Docker's daemon.json"
}

// Usage implements subcommands.Command.
func (i *Install) Usage() string {
	if i.uninstall {
		return "uninstall [--config FILE] [--runtime NAME]\n\nRemoves runtime NAME from FILE. Restart dockerd afterwards.\n"
	}
	return `install [--config FILE] [--runtime NAME] [-- RUNTIME-FLAGS...]

Adds runtime NAME, this runsc binary with RUNTIME-FLAGS (global flags
such as --platform=ptrace or --network=host), to Docker's daemon
configuration FILE, creating it if needed and keeping everything else in
it. Restart dockerd afterwards; then: docker run --runtime=NAME ...
`
}

// SetFlags implements subcommands.Command.
func (i *Install) SetFlags(f *flag.FlagSet) {
	f.StringVar(&i.config, "config", "/etc/docker/daemon.json", "Docker daemon configuration file")
	f.StringVar(&i.runtime, "runtime", "runsc", "runtime name")
}

// Execute implements subcommands.Command.
func (i *Install) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if i.uninstall && f.NArg() != 0 {
		return usagef("uninstall: takes no arguments")
	}
	if i.runtime == "" {
		return usagef("%s: --runtime must not be empty", i.Name())
	}
	self, err := os.Executable()
	if err != nil {
		return failf("%s: %v", i.Name(), err)
	}
	if err := editDaemonJSON(i.config, i.runtime, self, f.Args(), i.uninstall); err != nil {
		return failf("%s: %v", i.Name(), err)
	}
	return subcommands.ExitSuccess
}

// editDaemonJSON adds (or, with remove, deletes) runtimes[name] in the
// JSON object at path. Other keys keep their values exactly.
func editDaemonJSON(path, name, binary string, args []string, remove bool) error {
	conf := make(map[string]json.RawMessage)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if remove {
			return fmt.Errorf("%s does not exist", path)
		}
	case err != nil:
		return err
	case len(data) > 0:
		if err := json.Unmarshal(data, &conf); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	runtimes := make(map[string]json.RawMessage)
	if raw, ok := conf["runtimes"]; ok {
		if err := json.Unmarshal(raw, &runtimes); err != nil {
			return fmt.Errorf("%s: runtimes: %w", path, err)
		}
	}
	if remove {
		if _, ok := runtimes[name]; !ok {
			return fmt.Errorf("%s has no runtime %q", path, name)
		}
		delete(runtimes, name)
	} else {
		rt := struct {
			Path        string   `json:"path"`
			RuntimeArgs []string `json:"runtimeArgs,omitempty"`
		}{binary, args}
		raw, err := json.Marshal(rt)
		if err != nil {
			return err
		}
		runtimes[name] = raw
	}
	if len(runtimes) == 0 {
		delete(conf, "runtimes")
	} else {
		raw, err := json.Marshal(runtimes)
		if err != nil {
			return err
		}
		conf["runtimes"] = raw
	}
	out, err := json.MarshalIndent(conf, "", "    ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".runsc-tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
