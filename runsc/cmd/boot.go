package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/subcommands"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/config"
)

// Boot is the sandbox process: it runs the Sentry. runsc starts it; users
// do not.
type Boot struct {
	goferFD  int
	configFD int
	// The container mode's descriptors (see Usage).
	controlFD int
	statusFD  int
	exitFD    int
	id        string
}

// Name implements subcommands.Command.
func (*Boot) Name() string { return "boot" }

// Synopsis implements subcommands.Command.
func (*Boot) Synopsis() string { return "run the Sentry in a sandbox process (internal)" }

// Usage implements subcommands.Command.
func (*Boot) Usage() string {
	return `boot --gofer-fd N --config-fd N [--control-fd N --status-fd N --exit-fd N --id ID]

Runs the Sentry for one container. Started by runsc itself.
Without --control-fd (runsc do) the container's process starts at once.
With it (runsc create) the process is created, the outcome is reported as
one JSON object on --status-fd, and the process starts when a "start"
request arrives on the listening control socket --control-fd; the final
wait status is written to --exit-fd before the sandbox exits the way the
container did.
`
}

// SetFlags implements subcommands.Command.
func (b *Boot) SetFlags(f *flag.FlagSet) {
	f.IntVar(&b.goferFD, "gofer-fd", -1, "socket to the root file system's gofer")
	f.IntVar(&b.configFD, "config-fd", -1, "pipe carrying the sandbox configuration")
	f.IntVar(&b.controlFD, "control-fd", -1, "listening control socket (container mode)")
	f.IntVar(&b.statusFD, "status-fd", -1, "pipe to report creation's outcome on (container mode)")
	f.IntVar(&b.exitFD, "exit-fd", -1, "file to record the container's wait status in (container mode)")
	f.StringVar(&b.id, "id", "", "container id, for logs")
}

// Execute implements subcommands.Command.
func (b *Boot) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	if b.goferFD < 0 || b.configFD < 0 || f.NArg() != 0 {
		return usagef("boot: --gofer-fd and --config-fd are required")
	}
	container := b.controlFD >= 0
	if container && (b.statusFD < 0 || b.exitFD < 0) {
		return usagef("boot: --control-fd needs --status-fd and --exit-fd")
	}
	confined := container && boot.OwnNamespaces()
	pid := os.Getpid()
	if confined {
		pid = boot.HostPID()
	}
	if container {
		// The sandbox's stderr is the container's: from now on the
		// Sentry logs only to its debug log.
		containerLogging(conf, pid)
	}
	if confined {
		if err := boot.MountProc(); err != nil {
			return b.fail(container, err)
		}
	}
	cf := os.NewFile(uintptr(b.configFD), "config")
	bc, err := boot.ReadConfig(cf)
	cf.Close()
	if err != nil {
		return b.fail(container, err)
	}
	bc.Platform = string(conf.Platform)
	bc.Strace = bc.Strace || conf.Strace
	bc.NoSyscallPatch = bc.NoSyscallPatch || !conf.SyscallPatch
	bc.Network = string(conf.Network)
	files := &boot.Files{
		Gofer: os.NewFile(uintptr(b.goferFD), "gofer"),
		Stdio: [3]*os.File{os.Stdin, os.Stdout, os.Stderr},
	}
	s, err := boot.New(bc, files)
	if err != nil {
		return b.fail(container, err)
	}
	defer s.Release()
	if confined {
		if err := boot.PivotToEmptyRoot(); err != nil {
			return b.fail(container, err)
		}
		if err := boot.DropPrivileges(s.KeptCapabilities()); err != nil {
			return b.fail(container, err)
		}
	}
	if !container {
		ws, err := s.Run(files)
		if err != nil {
			return failf("boot: %v", err)
		}
		// The sandbox's status is the container's: exit with it directly.
		s.Release()
		os.Exit(boot.ExitCode(ws))
	}

	ln, err := controlListener(b.controlFD)
	if err != nil {
		return b.fail(container, err)
	}
	if err := s.CreateContainer(files); err != nil {
		return b.fail(container, err)
	}
	exitFile := os.NewFile(uintptr(b.exitFD), "exit-status")
	if err := b.report(""); err != nil {
		// The creator is gone and will have cleaned up; so do we.
		return failf("boot: reporting creation: %v", err)
	}
	log.Infof("boot: container %s created", b.id)
	ws := s.ServeControl(ln, func(ws linux.WaitStatus) {
		if _, err := exitFile.WriteString(strconv.FormatUint(uint64(ws), 10)); err != nil {
			log.Warningf("boot: recording the exit status: %v", err)
		}
		exitFile.Close()
	})
	log.Infof("boot: container %s exited with status %#x", b.id, uint32(ws))
	s.Release()
	boot.ExitAs(ws)
	return subcommands.ExitSuccess
}

// fail reports err: to the creator over the status pipe in container
// mode, on the log otherwise.
func (b *Boot) fail(container bool, err error) subcommands.ExitStatus {
	if container {
		if rerr := b.report(err.Error()); rerr == nil {
			return subcommands.ExitFailure
		}
	}
	return failf("boot: %v", err)
}

// report writes creation's outcome on the status pipe, once.
func (b *Boot) report(msg string) error {
	if b.statusFD < 0 {
		return fmt.Errorf("status already reported")
	}
	f := os.NewFile(uintptr(b.statusFD), "status")
	b.statusFD = -1
	defer f.Close()
	return json.NewEncoder(f).Encode(boot.CreationStatus{Error: msg})
}

// controlListener adopts the listening socket runsc create bound.
func controlListener(fd int) (*net.UnixListener, error) {
	f := os.NewFile(uintptr(fd), "control")
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("control socket is a %T, not a unix socket", l)
	}
	return ul, nil
}

// containerLogging sends the sandbox's log only to the debug log (or
// nowhere): its stderr belongs to the container.
func containerLogging(conf *config.Config, hostPID int) {
	var outs []log.Output
	if conf.DebugLog != "" {
		dest := conf.DebugLog
		if st, err := os.Stat(dest); (err == nil && st.IsDir()) || strings.HasSuffix(dest, "/") {
			dest = filepath.Join(dest, fmt.Sprintf("runsc.%d.boot.log", hostPID))
		}
		if f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err == nil {
			outs = append(outs, log.Output{W: f, Format: log.Text, Level: log.Debug})
		}
	}
	log.SetOutputs(outs...)
}
