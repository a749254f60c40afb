package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/config"
	"appkernel.dev/appkernel/runsc/container"
	"appkernel.dev/appkernel/runsc/specutils"
)

// Exec runs a new process in a running container.
type Exec struct {
	processPath   string
	detach        bool
	pidFile       string
	consoleSocket string
	tty           bool
	cwd           string
	env           stringList
	user          string
	extraGIDs     stringList
	// statusFD is internal: the detached parent's pipe, on which the
	// waiting child reports whether the process started.
	statusFD int
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// Name implements subcommands.Command.
func (*Exec) Name() string { return "exec" }

// Synopsis implements subcommands.Command.
func (*Exec) Synopsis() string { return "run a new process in a running container" }

// Usage implements subcommands.Command.
func (*Exec) Usage() string {
	return `exec [flags] ID [COMMAND [ARG...]]
exec [flags] --process FILE ID

Runs COMMAND (or the process that FILE, an OCI process JSON, describes) in
container ID, with this command's stdin, stdout and stderr, or a new
terminal whose master goes to --console-socket. Without --detach, waits
and exits as the process did (128+N when killed by signal N), passing on
the signals it gets. With --detach, returns once the process runs; the
--pid-file then names a process that exits as the exec'd one does.
`
}

// SetFlags implements subcommands.Command.
func (e *Exec) SetFlags(f *flag.FlagSet) {
	f.StringVar(&e.processPath, "process", "", "path to a process.json (OCI process) to run")
	f.StringVar(&e.processPath, "p", "", "same as --process")
	f.BoolVar(&e.detach, "detach", false, "return once the process has started")
	f.BoolVar(&e.detach, "d", false, "same as --detach")
	f.StringVar(&e.pidFile, "pid-file", "", "file to write the pid of the process that mirrors the exec'd one")
	f.StringVar(&e.consoleSocket, "console-socket", "", "unix socket to send the pty master to (terminal)")
	f.BoolVar(&e.tty, "tty", false, "give the process a terminal")
	f.BoolVar(&e.tty, "t", false, "same as --tty")
	f.StringVar(&e.cwd, "cwd", "", "working directory of the process")
	f.Var(&e.env, "env", "set an environment variable NAME=VALUE (repeatable)")
	f.Var(&e.env, "e", "same as --env")
	f.StringVar(&e.user, "user", "", "UID[:GID] to run the process as")
	f.StringVar(&e.user, "u", "", "same as --user")
	f.Var(&e.extraGIDs, "additional-gids", "supplementary group id (repeatable)")
	f.Var(&e.extraGIDs, "g", "same as --additional-gids")
	f.IntVar(&e.statusFD, "internal-status-fd", -1, "internal: report the start on this fd (used by --detach)")
}

// Execute implements subcommands.Command.
func (e *Exec) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	if f.NArg() < 1 {
		return usagef("exec: missing container id\nusage: runsc %s", e.Usage())
	}
	id := f.Arg(0)
	if e.detach {
		return e.detachChild(conf, id)
	}
	c, err := container.Load(conf.RootDir, id)
	if err != nil {
		return e.fail("exec: %v", err)
	}
	proc, err := e.process(c, f.Args()[1:])
	if err != nil {
		c.Unlock()
		return e.fail("exec: %v", err)
	}
	stdio := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	if proc.Terminal && e.consoleSocket != "" {
		replica, err := container.SendTerminal(e.consoleSocket)
		if err != nil {
			c.Unlock()
			return e.fail("exec: %v", err)
		}
		defer replica.Close()
		stdio = [3]*os.File{replica, replica, replica}
	}
	pid, err := c.Exec(processArgs(proc), stdio)
	h := c.Handle(pid)
	c.Unlock()
	if err != nil {
		return e.fail("exec: %v", err)
	}
	if e.pidFile != "" && e.statusFD < 0 {
		if err := writePidFile(e.pidFile, os.Getpid()); err != nil {
			h.Signal(syscall.SIGKILL)
			return e.fail("exec: %v", err)
		}
	}
	if e.statusFD >= 0 {
		e.report(nil)
		// The engine reads the process's output until EOF: our copies
		// of its stdio must not hold that back.
		detachStdio()
	}
	stop := relayToExec(h)
	ws, err := h.Wait()
	stop()
	if err != nil {
		return failf("exec: waiting for process %d: %v", pid, err)
	}
	// runc's convention: 128+N for a process killed by signal N (engines
	// turn a signaled exec process into the same number).
	os.Exit(boot.ExitCode(linux.WaitStatus(ws)))
	return subcommands.ExitSuccess
}

// fail reports err to a detached parent, if any, and to the log.
func (e *Exec) fail(format string, args ...any) subcommands.ExitStatus {
	e.report(fmt.Errorf(format, args...))
	return failf(format, args...)
}

// report tells the detached parent whether the process started.
func (e *Exec) report(err error) {
	if e.statusFD < 0 {
		return
	}
	f := os.NewFile(uintptr(e.statusFD), "status")
	msg := "ok"
	if err != nil {
		msg = err.Error()
	}
	f.Write([]byte(msg))
	f.Close()
	e.statusFD = -1
}

// detachChild runs this exec again without --detach as a child that
// waits for the process and mirrors its exit, and returns once the
// child reports the process started. The pid file names the child.
func (e *Exec) detachChild(conf *config.Config, id string) subcommands.ExitStatus {
	self, err := os.Executable()
	if err != nil {
		return failf("exec: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return failf("exec: %v", err)
	}
	defer r.Close()
	var args []string
	for _, a := range os.Args[1:] {
		if a == "--detach" || a == "-d" || a == "--detach=true" || a == "-detach" {
			continue
		}
		args = append(args, a)
	}
	// Global flags come first; the subcommand's own flags follow "exec".
	for i, a := range args {
		if a == "exec" {
			args = append(args[:i+1:i+1], append([]string{"--internal-status-fd", "3"}, args[i+1:]...)...)
			break
		}
	}
	cmd := exec.Command(self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w}
	// Its own process group, as the engine's exec process would be.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return failf("exec: %v", err)
	}
	msg, _ := io.ReadAll(io.LimitReader(r, 1<<16))
	if string(msg) != "ok" {
		cmd.Wait()
		if len(msg) == 0 {
			msg = []byte("the exec process died before starting the process")
		}
		return failf("%s", msg)
	}
	if e.pidFile != "" {
		if err := writePidFile(e.pidFile, cmd.Process.Pid); err != nil {
			cmd.Process.Kill()
			return failf("exec: %v", err)
		}
	}
	return subcommands.ExitSuccess
}

// process builds the process to run: the --process file, or the
// container's own process with args and the flags' changes.
func (e *Exec) process(c *container.Container, args []string) (*specs.Process, error) {
	var p specs.Process
	if e.processPath != "" {
		data, err := os.ReadFile(e.processPath)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("parsing %s: %w", e.processPath, err)
		}
		if len(args) > 0 {
			return nil, errors.New("both --process and a command given")
		}
	} else {
		spec, err := specutils.ReadSpec(c.Bundle)
		if err != nil {
			return nil, err
		}
		p = *spec.Process
		p.Terminal = false
		if len(args) == 0 {
			return nil, errors.New("no command given")
		}
		p.Args = args
	}
	if len(p.Args) == 0 {
		return nil, errors.New("process.args is empty")
	}
	if e.tty {
		p.Terminal = true
	}
	if e.cwd != "" {
		p.Cwd = e.cwd
	}
	p.Env = mergeEnv(p.Env, e.env)
	if e.user != "" {
		uid, gid, err := parseUser(e.user)
		if err != nil {
			return nil, err
		}
		p.User.UID, p.User.GID = uid, gid
	}
	for _, g := range e.extraGIDs {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: %w", g, err)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
	}
	if p.Terminal && e.consoleSocket == "" && (e.detach || e.statusFD >= 0) {
		return nil, errors.New("a detached process with a terminal needs --console-socket")
	}
	return &p, nil
}

// processArgs is what the sandbox needs of p.
func processArgs(p *specs.Process) *boot.ProcessArgs {
	return &boot.ProcessArgs{
		Argv:      p.Args,
		Env:       p.Env,
		Cwd:       p.Cwd,
		UID:       p.User.UID,
		GID:       p.User.GID,
		ExtraGIDs: p.User.AdditionalGids,
	}
}

// mergeEnv returns env with each NAME=VALUE of set replacing NAME's
// entry or appended.
func mergeEnv(env, set []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range set {
		name, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if n, _, _ := strings.Cut(old, "="); n == name {
				out[i] = kv
				replaced = true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// parseUser parses --user's UID[:GID].
func parseUser(s string) (uid, gid uint32, err error) {
	us, gs, hasGID := strings.Cut(s, ":")
	u, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: want UID[:GID] in numbers", s)
	}
	var g uint64
	if hasGID {
		if g, err = strconv.ParseUint(gs, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("--user %q: want UID[:GID] in numbers", s)
		}
	}
	return uint32(u), uint32(g), nil
}

// writePidFile writes pid as engines read it: decimal, no newline.
func writePidFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// detachStdio points fds 0, 1 and 2 at /dev/null.
func detachStdio() {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer null.Close()
	for fd := 0; fd < 3; fd++ {
		syscall.Dup3(int(null.Fd()), fd, 0)
	}
}

// relayToExec passes the signals this process gets on to the exec'd
// process, as a waiting runc exec would, until the returned function is
// called.
func relayToExec(h container.ExecHandle) func() {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGALRM, syscall.SIGCONT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				h.Signal(sig.(syscall.Signal))
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
