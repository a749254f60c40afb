package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/config"
	"appkernel.dev/appkernel/runsc/sandbox"
)

// Do runs a command in a new sandbox over the host's root filesystem.
type Do struct{}

// Name implements subcommands.Command.
func (*Do) Name() string { return "do" }

// Synopsis implements subcommands.Command.
func (*Do) Synopsis() string { return "run a command in a sandbox over the host's root filesystem" }

// Usage implements subcommands.Command.
func (*Do) Usage() string {
	return "do [flags] CMD [ARG...]\n\nRuns CMD in a sandbox whose root is the host's, served read-only by a gofer.\nThe exit status of CMD (or 128+signal) becomes runsc's.\n"
}

// SetFlags implements subcommands.Command.
func (*Do) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*Do) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	if f.NArg() == 0 {
		return usagef("do: missing command to run\nusage: runsc %s", (*Do)(nil).Usage())
	}
	cwd, err := os.Getwd()
	if err != nil {
		return failf("do: %v", err)
	}
	hostname, _ := os.Hostname()
	bc := &boot.Config{
		Argv:         f.Args(),
		Env:          os.Environ(),
		Cwd:          cwd,
		UID:          uint32(os.Getuid()),
		GID:          uint32(os.Getgid()),
		Hostname:     hostname,
		RootReadOnly: true,
		RootOverlay:  true,
	}
	sandbox.AddHostFacts(bc)
	code, err := runSandbox(conf, bc)
	if err != nil {
		return failf("do: %v", err)
	}
	os.Exit(code)
	return subcommands.ExitSuccess
}

// runSandbox starts a gofer serving the host's root and a sandbox process
// running bc, waits for the sandbox, and returns its exit code.
func runSandbox(conf *config.Config, bc *boot.Config) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	clientSock, serverSock, err := lisafs.Socketpair()
	if err != nil {
		return 0, fmt.Errorf("gofer socket: %w", err)
	}
	defer clientSock.Close()

	goferArgs := append(sandbox.GlobalArgs(conf), "gofer", "--root-dir", "/", "--socket-fd", "3")
	if bc.RootReadOnly {
		goferArgs = append(goferArgs, "--ro")
	}
	gofer := exec.Command(self, goferArgs...)
	gofer.ExtraFiles = []*os.File{serverSock}
	gofer.Stderr = os.Stderr
	// The gofer dies with us, so a killed runsc leaves nothing behind, and
	// has its own process group so a terminal's ^C does not reach it.
	gofer.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := gofer.Start(); err != nil {
		serverSock.Close()
		return 0, fmt.Errorf("starting the gofer: %w", err)
	}
	serverSock.Close()
	defer func() {
		gofer.Process.Kill()
		gofer.Wait()
	}()

	configR, configW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	sb := exec.Command(self, append(sandbox.GlobalArgs(conf), "boot", "--gofer-fd", "3", "--config-fd", "4")...)
	sb.ExtraFiles = []*os.File{clientSock, configR}
	sb.Stdin, sb.Stdout, sb.Stderr = os.Stdin, os.Stdout, os.Stderr
	sb.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := sb.Start(); err != nil {
		configR.Close()
		configW.Close()
		return 0, fmt.Errorf("starting the sandbox: %w", err)
	}
	configR.Close()
	clientSock.Close()
	stop := relaySignals(sb.Process)
	defer stop()
	werr := bc.Write(configW)
	configW.Close()
	err = sb.Wait()
	if werr != nil {
		return 0, fmt.Errorf("sending the sandbox its config: %w", werr)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		// A container killed by a signal kills the sandbox process with
		// it (boot.ExitAs): report it the shell's way.
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

// relaySignals passes signals sent to runsc on to the sandbox process,
// which delivers them to the container. Terminal-generated signals (^C,
// ^\) already reach the sandbox process, which shares runsc's process
// group, so runsc only ignores those.
func relaySignals(p *os.Process) func() {
	signal.Ignore(syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				p.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
