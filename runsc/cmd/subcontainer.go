package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/sandbox"
)

// Subcontainer is the process that stands for a container which joined
// another container's sandbox (a pod's second container): it has the
// sandbox build the container, with its own stdio as the container's,
// then waits for it and exits as it did. Engines reap it as they reap a
// sandbox process; if it is killed, the sandbox kills the container.
type Subcontainer struct {
	id            string
	sandboxSocket string
	configFD      int
	goferFD       int
	statusFD      int
	exitFile      string
}

// Name implements subcommands.Command.
func (*Subcontainer) Name() string { return "subcontainer" }

// Synopsis implements subcommands.Command.
func (*Subcontainer) Synopsis() string {
	return "stand for a container in another container's sandbox (internal)"
}

// Usage implements subcommands.Command.
func (*Subcontainer) Usage() string {
	return "subcontainer --id ID --sandbox-socket PATH --config-fd N --gofer-fd N --status-fd N [--exit-file PATH]\n"
}

// SetFlags implements subcommands.Command.
func (s *Subcontainer) SetFlags(f *flag.FlagSet) {
	f.StringVar(&s.id, "id", "", "the container's id")
	f.StringVar(&s.sandboxSocket, "sandbox-socket", "", "control socket of the sandbox to join")
	f.IntVar(&s.configFD, "config-fd", -1, "descriptor to read the container's config from")
	f.IntVar(&s.goferFD, "gofer-fd", -1, "descriptor of the container's gofer socket")
	f.IntVar(&s.statusFD, "status-fd", -1, "descriptor to report creation on")
	f.StringVar(&s.exitFile, "exit-file", "", "file to record the container's wait status in")
}

// Execute implements subcommands.Command.
func (s *Subcontainer) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if s.id == "" || s.sandboxSocket == "" || s.configFD < 0 || s.goferFD < 0 || s.statusFD < 0 || f.NArg() != 0 {
		return usagef("subcontainer: --id, --sandbox-socket, --config-fd, --gofer-fd and --status-fd are required")
	}
	status := os.NewFile(uintptr(s.statusFD), "status")
	report := func(err error) {
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		json.NewEncoder(status).Encode(boot.CreationStatus{Error: msg})
		status.Close()
	}
	cf := os.NewFile(uintptr(s.configFD), "config")
	bc, err := boot.ReadConfig(cf)
	cf.Close()
	if err != nil {
		report(err)
		return subcommands.ExitFailure
	}
	gofer := os.NewFile(uintptr(s.goferFD), "gofer")
	_, err = sandbox.Call(s.sandboxSocket, boot.ControlRequest{Cmd: boot.CtlCreateSub, Container: s.id, Config: bc},
		sandbox.CallTimeout, gofer, os.Stdin, os.Stdout, os.Stderr)
	gofer.Close()
	report(err)
	if err != nil {
		return subcommands.ExitFailure
	}
	// The container holds its own copies of the stdio; ours must not keep
	// the engine's pipes open after it ends.
	detachStdio()

	stop := s.relaySignals()
	resp, err := sandbox.Call(s.sandboxSocket, boot.ControlRequest{Cmd: boot.CtlWaitSub, Container: s.id}, 0)
	stop()
	if err != nil {
		if !errors.Is(err, sandbox.ErrNotRunning) {
			return failf("subcontainer %s: %v", s.id, err)
		}
		// The sandbox went, and the container with it.
		resp = &boot.ControlResponse{WaitStatus: uint32(linux.WaitStatusSignaled(linux.SIGKILL, false))}
	}
	ws := linux.WaitStatus(resp.WaitStatus)
	if s.exitFile != "" {
		os.WriteFile(s.exitFile, []byte(strconv.FormatUint(uint64(ws), 10)), 0o600)
	}
	boot.ExitAs(ws)
	return subcommands.ExitSuccess
}

// relaySignals passes signals sent to this process on to the container's
// first process, which is what a runc pid file would have named.
func (s *Subcontainer) relaySignals() func() {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGALRM, syscall.SIGCONT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				sandbox.Call(s.sandboxSocket, boot.ControlRequest{Cmd: boot.CtlSignal, Container: s.id, Signal: int(sig.(syscall.Signal))}, sandbox.CallTimeout)
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
