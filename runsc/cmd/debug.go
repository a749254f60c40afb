package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/sandbox"
)

// Debug inspects a running sandbox through its control socket.
type Debug struct {
	stacks       bool
	ps           bool
	compat       bool
	logLevel     string
	strace       string
	profileCPU   string
	profileHeap  string
	profileBlock string
	profileMutex string
	duration     time.Duration
}

// Name implements subcommands.Command.
func (*Debug) Name() string { return "debug" }

// Synopsis implements subcommands.Command.
func (*Debug) Synopsis() string {
	return "inspect a running sandbox: stacks, processes, profiles, log level"
}

// Usage implements subcommands.Command.
func (*Debug) Usage() string {
	return `debug [--stacks] [--ps] [--compat] [--log-level LEVEL] [--profile-cpu FILE] [--profile-heap FILE]
      [--profile-block FILE] [--profile-mutex FILE] [--duration D] ID

Asks the Sentry of container ID, through its control socket:
  --stacks           print every Sentry goroutine's stack
  --ps               list the sandbox's processes as the Sentry sees them
  --compat           print what the container's programs used so far that
                     the sandbox does not fully support (see runsc compat)
  --log-level LEVEL  set the Sentry's log level (warning, info, debug) on
                     the log outputs it has (its --debug-log)
  --profile-X FILE   write a pprof profile to FILE: cpu, block and mutex
                     sample for --duration; heap is taken at once.
CPU profiling needs timers the Sentry's seccomp filter does not allow
today, so the sandbox refuses it.
`
}

// SetFlags implements subcommands.Command.
func (d *Debug) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&d.stacks, "stacks", false, "print the Sentry's goroutine stacks")
	f.BoolVar(&d.ps, "ps", false, "list the sandbox's processes")
	f.BoolVar(&d.compat, "compat", false, "print the compatibility report so far (see runsc compat)")
	f.StringVar(&d.logLevel, "log-level", "", "set the Sentry's log level: warning, info or debug")
	f.StringVar(&d.strace, "strace", "", "turn syscall logging in strace's format on or off in the running sandbox")
	f.StringVar(&d.profileCPU, "profile-cpu", "", "write a CPU profile to this file")
	f.StringVar(&d.profileHeap, "profile-heap", "", "write a heap profile to this file")
	f.StringVar(&d.profileBlock, "profile-block", "", "write a blocking profile to this file")
	f.StringVar(&d.profileMutex, "profile-mutex", "", "write a mutex contention profile to this file")
	f.DurationVar(&d.duration, "duration", 5*time.Second, "how long the cpu, block and mutex profiles sample")
}

// Execute implements subcommands.Command.
func (d *Debug) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	id, ok := oneID(f, "debug")
	if !ok {
		return subcommands.ExitUsageError
	}
	sock, err := sandboxSocket(conf, id)
	if err != nil {
		return failf("debug: %v", err)
	}
	did := false
	call := func(req boot.DebugRequest, timeout time.Duration) (*boot.DebugResponse, error) {
		did = true
		var resp boot.DebugResponse
		if err := sandbox.CallInto(sock, boot.ControlRequest{Cmd: boot.CtlDebug, Debug: &req}, &resp, timeout); err != nil {
			return nil, err
		}
		if resp.Error != "" {
			return nil, errors.New(resp.Error)
		}
		return &resp, nil
	}
	if d.logLevel != "" {
		if _, err := call(boot.DebugRequest{Action: boot.DebugLogLevel, Value: d.logLevel}, sandbox.CallTimeout); err != nil {
			return failf("debug: log level: %v", err)
		}
		fmt.Printf("log level set to %s\n", d.logLevel)
	}
	if d.strace != "" {
		if _, err := call(boot.DebugRequest{Action: boot.DebugStrace, Value: d.strace}, sandbox.CallTimeout); err != nil {
			return failf("debug: strace: %v", err)
		}
		fmt.Printf("strace %s\n", d.strace)
	}
	if d.stacks {
		resp, err := call(boot.DebugRequest{Action: boot.DebugStacks}, sandbox.CallTimeout)
		if err != nil {
			return failf("debug: stacks: %v", err)
		}
		fmt.Print(resp.Stacks)
	}
	if d.ps {
		resp, err := call(boot.DebugRequest{Action: boot.DebugPS}, sandbox.CallTimeout)
		if err != nil {
			return failf("debug: ps: %v", err)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "PID\tPPID\tUID\tTHREADS\tSTATE\tTIME\tCOMMAND")
		for _, p := range resp.Processes {
			fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%s\t%s\t%s\n", p.PID, p.PPID, p.UID, p.Threads, p.State, p.CPUTime.Round(time.Millisecond), p.Comm)
		}
		w.Flush()
	}
	if d.compat {
		resp, err := call(boot.DebugRequest{Action: boot.DebugCompat}, sandbox.CallTimeout)
		if err != nil || resp.Compat == nil {
			return failf("debug: compat: %v", err)
		}
		rep := buildCompatReport([]string{"container " + id}, -1, resp.Compat)
		writeCompatText(os.Stdout, rep)
	}
	for _, p := range []struct{ kind, file string }{
		{"cpu", d.profileCPU}, {"heap", d.profileHeap}, {"block", d.profileBlock}, {"mutex", d.profileMutex},
	} {
		if p.file == "" {
			continue
		}
		dur := d.duration
		if p.kind == "heap" {
			dur = 0
		}
		resp, err := call(boot.DebugRequest{Action: boot.DebugProfile, Value: p.kind, Duration: dur}, dur+sandbox.CallTimeout)
		if err != nil {
			return failf("debug: %s profile: %v", p.kind, err)
		}
		if err := os.WriteFile(p.file, resp.Profile, 0o644); err != nil {
			return failf("debug: %v", err)
		}
		fmt.Printf("%s profile written to %s\n", p.kind, p.file)
	}
	if !did {
		return usagef("debug: nothing to do: give --stacks, --ps, --compat, --log-level, --strace or a --profile-* flag")
	}
	return subcommands.ExitSuccess
}
