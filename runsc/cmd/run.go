package cmd

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/runsc/container"
)

// Run creates and starts a container, and waits for it unless detached.
type Run struct {
	bundle        string
	pidFile       string
	consoleSocket string
	detach        bool
}

// Name implements subcommands.Command.
func (*Run) Name() string { return "run" }

// Synopsis implements subcommands.Command.
func (*Run) Synopsis() string { return "create and start a container, and wait for it" }

// Usage implements subcommands.Command.
func (*Run) Usage() string {
	return `run [--bundle DIR] [--pid-file FILE] [--detach] ID

Creates and starts container ID from bundle DIR. Without --detach, waits
for it, deletes it, and exits with its status (128+N when killed by signal
N); signals sent to runsc are passed on to it.
`
}

// SetFlags implements subcommands.Command.
func (r *Run) SetFlags(f *flag.FlagSet) {
	f.StringVar(&r.bundle, "bundle", "", "path to the bundle directory (default: current directory)")
	f.StringVar(&r.bundle, "b", "", "same as --bundle")
	f.StringVar(&r.pidFile, "pid-file", "", "file to write the sandbox process's pid to")
	f.StringVar(&r.consoleSocket, "console-socket", "", "unix socket to send the pty master to (terminal: true)")
	f.BoolVar(&r.detach, "detach", false, "return once the container has started")
	f.BoolVar(&r.detach, "d", false, "same as --detach")
}

// Execute implements subcommands.Command.
func (r *Run) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	id, ok := oneID(f, "run")
	if !ok {
		return subcommands.ExitUsageError
	}
	sb, err := container.Create(conf, &container.CreateArgs{ID: id, Bundle: r.bundle, PidFile: r.pidFile, ConsoleSocket: r.consoleSocket, Detach: r.detach})
	if err != nil {
		return failf("run: %v", err)
	}
	ensureMetricServer(conf)
	c, err := container.Load(conf.RootDir, id)
	if err == nil {
		err = c.Start()
		if err != nil {
			c.Delete(true)
		}
		c.Unlock()
	}
	if err != nil {
		sb.Destroy()
		return failf("run: %v", err)
	}
	if r.detach {
		return subcommands.ExitSuccess
	}

	stop := relaySignals(sb.Sandbox.Process)
	werr := sb.Sandbox.Wait()
	stop()
	reapGofer(sb.Gofer)
	code := 0
	if ee, ok := werr.(*exec.ExitError); ok {
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			code = 128 + int(ws.Signal())
		} else {
			code = ws.ExitStatus()
		}
	} else if werr != nil {
		return failf("run: waiting for the sandbox: %v", werr)
	}
	if c, err := container.Load(conf.RootDir, id); err == nil {
		if err := c.Delete(true); err != nil {
			log.Warningf("run: %v", err)
		}
		c.Unlock()
	}
	os.Exit(code)
	return subcommands.ExitSuccess
}

// goferExitTimeout is how long the gofer may take to notice that the
// sandbox closed its socket.
const goferExitTimeout = 5 * time.Second

// reapGofer waits for the gofer, which exits when the sandbox is gone,
// and kills it if it lingers.
func reapGofer(g *exec.Cmd) {
	done := make(chan struct{})
	go func() { g.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(goferExitTimeout):
		g.Process.Kill()
		<-done
	}
}
