// Package cli is runsc's entry point: it parses the global flags, sets up
// logging, and dispatches to the subcommands in runsc/cmd.
package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/metric"
	"appkernel.dev/appkernel/runsc/cmd"
	"appkernel.dev/appkernel/runsc/config"
	"appkernel.dev/appkernel/runsc/version"
)

// Main runs runsc with args (without the program name) and returns the
// process exit status.
func Main(args []string) int {
	// Every metric was registered by package initialisation; none may be
	// added once runsc does anything, least of all once a sandbox runs.
	metric.Default.Freeze()
	fs := flag.NewFlagSet("runsc", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	var conf config.Config
	conf.RegisterFlags(fs)
	showVersion := fs.Bool("version", false, "print runsc's version and exit")

	cdr := subcommands.NewCommander(fs, "runsc")
	cdr.Register(cdr.HelpCommand(), "")
	cdr.Register(cdr.FlagsCommand(), "")
	cdr.Register(cdr.CommandsCommand(), "")
	const lifecycle = "lifecycle"
	cdr.Register(new(cmd.Do), lifecycle)
	cdr.Register(new(cmd.Create), lifecycle)
	cdr.Register(new(cmd.Start), lifecycle)
	cdr.Register(new(cmd.Run), lifecycle)
	cdr.Register(new(cmd.State), lifecycle)
	cdr.Register(new(cmd.Kill), lifecycle)
	cdr.Register(new(cmd.Delete), lifecycle)
	cdr.Register(new(cmd.Wait), lifecycle)
	cdr.Register(new(cmd.Exec), lifecycle)
	cdr.Register(new(cmd.Pause), lifecycle)
	cdr.Register(cmd.Resume(), lifecycle)
	cdr.Register(new(cmd.List), lifecycle)
	cdr.Register(new(cmd.PS), lifecycle)
	cdr.Register(new(cmd.Spec), "")
	const observability = "observability"
	cdr.Register(new(cmd.MetricServer), observability)
	cdr.Register(new(cmd.Events), observability)
	cdr.Register(new(cmd.Debug), observability)
	cdr.Register(new(cmd.Compat), observability)
	cdr.Register(new(cmd.Features), "")
	cdr.Register(new(cmd.Install), "")
	cdr.Register(cmd.Uninstall(), "")
	cdr.Register(new(cmd.Gofer), "internal")
	cdr.Register(new(cmd.Boot), "internal")
	cdr.Register(new(cmd.Subcontainer), "internal")

	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return int(subcommands.ExitUsageError)
	}
	if *showVersion {
		fmt.Printf("runsc version %s\nspec: %s\n", version.Version, version.OCISpec)
		return 0
	}

	closeLog, err := setupLogging(&conf, fs.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
		return int(subcommands.ExitFailure)
	}
	defer closeLog()

	return int(cdr.Execute(context.Background(), &conf))
}

// setupLogging sends runsc's log to stderr and, when --log is given, to that
// file too: Docker shows the --log file's last error, Podman shows stderr.
func setupLogging(conf *config.Config, command string) (func(), error) {
	level := log.Warning
	if conf.Strace && conf.DebugLog == "" {
		// Without a debug log, the syscall trace has nowhere else to go.
		level = log.Info
	}
	if conf.Debug {
		level = log.Debug
	}
	stderr := log.Output{W: os.Stderr, Format: log.Plain, Prefix: "runsc: ", Level: level}
	if conf.Debug {
		stderr.Format = log.Text
	}
	outputs := []log.Output{stderr}
	closer := func() {}
	if conf.LogFilename != "" {
		f, err := os.OpenFile(conf.LogFilename, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("opening log file: %w", err)
		}
		format := log.Text
		if conf.LogFormat == config.LogFormatJSON {
			format = log.JSON
		}
		outputs = append(outputs, log.Output{W: f, Format: format, Level: level})
		closer = func() { f.Close() }
	}
	if conf.DebugLog != "" {
		f, err := openDebugLog(conf.DebugLog, command)
		if err != nil {
			return nil, err
		}
		outputs = append(outputs, log.Output{W: f, Format: log.Text, Level: log.Debug})
		prev := closer
		closer = func() { prev(); f.Close() }
	}
	log.SetOutputs(outputs...)
	return closer, nil
}

// openDebugLog opens the --debug-log destination: a directory gets one
// file per runsc process (runsc.PID.COMMAND.log), so the sandbox's and the
// gofer's logs do not mix; anything else is a file appended to.
func openDebugLog(dest, command string) (*os.File, error) {
	if st, err := os.Stat(dest); (err == nil && st.IsDir()) || strings.HasSuffix(dest, "/") {
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return nil, fmt.Errorf("debug log directory: %w", err)
		}
		dest = filepath.Join(dest, fmt.Sprintf("runsc.%d.%s.log", os.Getpid(), command))
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening debug log: %w", err)
	}
	return f, nil
}
