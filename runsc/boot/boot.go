package boot

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/fsimpl/proc"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/auth"
	"appkernel.dev/appkernel/pkg/sentry/loader/vdso"
	"appkernel.dev/appkernel/pkg/sentry/pgalloc"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/platform/ptrace"
	"appkernel.dev/appkernel/pkg/sentry/platform/systrap"
	sys "appkernel.dev/appkernel/pkg/sentry/syscalls/linux"
	"appkernel.dev/appkernel/pkg/sentry/vfs"
	"appkernel.dev/appkernel/runsc/boot/filter"
)

// Sandbox is a running Sentry.
type Sandbox struct {
	conf     *Config
	start    time.Time
	mf       *pgalloc.MemoryFile
	platform platform.Platform
	k        *kernel.Kernel
	// init is the container's first process once CreateContainer made
	// it.
	init *kernel.Task
	// userns and mntns are the container's user and mount namespaces,
	// which processes `runsc exec` adds share with init.
	userns *auth.UserNamespace
	mntns  *vfs.MountNamespace
	// stopForwarding ends signal relaying; set while the container runs.
	stopForwarding func()
	// terminal is the first process's stdin when it is a host terminal.
	terminal kernel.TTY
	// procType is the proc file system type, registered once.
	procType *proc.FilesystemType
	// subs are the containers that joined this sandbox (subcontainer.go).
	subs subcontainers
	// packetFD is the AF_PACKET socket of the interface the packet
	// stack drives (network_link.go), 0 if none. Set before the first
	// container starts, with the control server's mu held.
	packetFD int
}

// Files are the host files a sandbox starts with.
type Files struct {
	// Gofer is the socket to the root file system's gofer.
	Gofer *os.File
	// Stdio are the first process's stdin, stdout and stderr.
	Stdio [3]*os.File
}

// New builds the Sentry: memory file, platform, kernel and file system.
func New(conf *Config, files *Files) (*Sandbox, error) {
	mf, err := pgalloc.New(pgalloc.Options{Name: "runsc-memory"})
	if err != nil {
		return nil, fmt.Errorf("creating the memory file: %w", err)
	}
	s := &Sandbox{conf: conf, mf: mf, start: time.Now()}
	if s.platform, err = newPlatform(conf.Platform, mf.FD()); err != nil {
		s.Release()
		return nil, err
	}
	k := kernel.NewKernel(s.platform, sys.Table)
	k.MemoryFile = mf
	k.VFS = vfs.New()
	k.SetStrace(conf.Strace)
	k.SetSyscallPatching(!conf.NoSyscallPatch)
	k.Host = hostInfo(conf)
	if k.VDSO, err = kernel.NewVDSO(mf, kernel.VDSOOptions{
		TSCReliable: vdso.TSCReliable(conf.HostCPUInfo),
		CoarseRes:   vdso.CoarseResolution(),
	}); err != nil {
		s.Release()
		return nil, fmt.Errorf("creating the vDSO: %w", err)
	}
	if err := registerSocketFamilies(k, conf.Network); err != nil {
		s.Release()
		return nil, err
	}
	s.k = k
	return s, nil
}

// newPlatform creates the named platform.
func newPlatform(name string, memFD int) (platform.Platform, error) {
	switch name {
	case "ptrace":
		// Not returned directly: a nil *Platform in the interface would
		// look like a platform to the caller.
		p, err := ptrace.New(memFD)
		if err != nil {
			return nil, err
		}
		return p, nil
	case "systrap", "":
		return systrap.New(memFD)
	}
	return nil, fmt.Errorf("unknown platform %q", name)
}

// Run creates the container's first process, runs the sandbox until every
// task has exited, and returns the first process's wait status.
func (s *Sandbox) Run(files *Files) (linux.WaitStatus, error) {
	if err := s.CreateContainer(files); err != nil {
		return 0, err
	}
	s.k.RootProcessAsCommand()
	if err := s.StartContainer(); err != nil {
		return 0, err
	}
	return s.WaitContainer(), nil
}

// CreateContainer builds the container's file system and its first
// process, loaded but not yet running: what exists between `runsc create`
// and `runsc start`. A program that cannot be found or loaded fails here,
// as it fails runc's create.
func (s *Sandbox) CreateContainer(files *Files) error {
	s.userns = auth.NewRootUserNamespace()
	creds := s.credentials(s.conf.UID, s.conf.GID, nil)
	ctx := auth.ContextWithCredentials(context.Background(), creds)
	for _, rl := range s.conf.Rlimits {
		if err := s.k.SetDefaultRLimit(rl.Resource, linux.Rlimit{Cur: rl.Cur, Max: rl.Max}); err != nil {
			return fmt.Errorf("rlimit %d: %w", rl.Resource, err)
		}
	}

	if err := s.registerFilesystems(); err != nil {
		return err
	}
	mntns, err := s.setupFilesystems(ctx, creds, s.conf, files.Gofer, s.killContainer)
	if err != nil {
		return err
	}
	s.mntns = mntns
	var stdio [3]int
	for i, f := range files.Stdio {
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			closeFDs(stdio[:i])
			return fmt.Errorf("duplicating stdio %d: %w", i, err)
		}
		stdio[i] = fd
	}
	t, err := s.createProcess(ctx, s.rootEnv(), &ProcessArgs{Argv: s.conf.Argv, Env: s.conf.Env, Cwd: s.conf.Cwd, UID: s.conf.UID, GID: s.conf.GID}, stdio)
	if err != nil {
		return err
	}
	s.init = t
	s.terminal = terminalOf(t)
	return nil
}

// credentials are those of a container process running as uid:gid with
// the supplementary groups extra, in the container's user namespace.
func (s *Sandbox) credentials(uid, gid uint32, extra []uint32) *auth.Credentials {
	if uid == 0 && gid == 0 && len(extra) == 0 {
		return auth.NewRootCredentials(s.userns)
	}
	groups := make([]auth.KGID, len(extra))
	for i, g := range extra {
		groups[i] = auth.KGID(g)
	}
	creds := auth.NewUserCredentials(auth.KUID(uid), auth.KGID(gid), groups, s.userns)
	return creds
}

// closeFDs closes host fds.
func closeFDs(fds []int) {
	for _, fd := range fds {
		syscall.Close(fd)
	}
}

// ProcessArgs describe a process to run in the container.
type ProcessArgs struct {
	Argv []string
	Env  []string
	Cwd  string
	// UID, GID and ExtraGIDs are its credentials.
	UID, GID  uint32
	ExtraGIDs []uint32
}

// createProcess loads a process into a container (its namespaces and
// seccomp profile) with
// the host fds stdio as its fds 0, 1 and 2. It owns stdio, whatever the
// outcome. The process is created stopped; Start runs it.
func (s *Sandbox) createProcess(ctx context.Context, env containerEnv, a *ProcessArgs, stdio [3]int) (*kernel.Task, error) {
	if len(a.Argv) == 0 {
		closeFDs(stdio[:])
		return nil, fmt.Errorf("no program to run: args is empty")
	}
	creds := s.credentials(a.UID, a.GID, a.ExtraGIDs)
	ctx = auth.ContextWithCredentials(ctx, creds)
	root := env.mntns.Root()
	defer root.DecRef()
	cwdPath := a.Cwd
	if cwdPath == "" {
		cwdPath = "/"
	}
	cwd, err := s.k.VFS.GetDentryAt(ctx, creds, &vfs.PathOperation{Root: root, Start: root, Path: cwdPath, FollowFinalSymlink: true}, &vfs.GetDentryOptions{CheckSearchable: true})
	if err != nil {
		closeFDs(stdio[:])
		return nil, fmt.Errorf("working directory %q: %w", cwdPath, err)
	}
	defer cwd.DecRef()

	fdTable, err := s.stdioTable(ctx, stdio)
	if err != nil {
		return nil, err
	}
	t, err := s.k.CreateProcess(&kernel.CreateProcessArgs{
		Filename:         a.Argv[0],
		Argv:             a.Argv,
		Envv:             a.Env,
		Root:             root,
		WorkingDirectory: cwd,
		Credentials:      creds,
		Umask:            0o022,
		FDTable:          fdTable,
		PIDNamespace:     env.pidns,
	})
	if err != nil {
		fdTable.DecRef(ctx)
		return nil, fmt.Errorf("starting %q: %w", a.Argv[0], err)
	}
	if err := applySeccompConfig(t, env.seccomp); err != nil {
		return nil, err
	}
	return t, nil
}

// StartContainer confines the Sentry with its seccomp allow-list and lets
// the first process run. From now on signals sent to the sandbox process
// are relayed to it, and any host syscall off the list kills the sandbox.
func (s *Sandbox) StartContainer() error {
	if err := filter.Install(filter.Options{Platform: s.conf.Platform, HostNetwork: s.conf.Network == "host", PacketFD: s.packetFD}); err != nil {
		return fmt.Errorf("installing the seccomp filter: %w", err)
	}
	s.stopForwarding = s.forwardSignals()
	s.init.Start()
	return nil
}

// WaitContainer waits until every task of a started container has exited
// and returns how its first process ended.
func (s *Sandbox) WaitContainer() linux.WaitStatus {
	<-s.k.AllTasksExited()
	if s.stopForwarding != nil {
		s.stopForwarding()
		s.stopForwarding = nil
	}
	return s.k.RootExitStatus()
}

// Release frees the platform and memory file. The vDSO's updater
// writes into the memory file, so it stops first.
func (s *Sandbox) Release() {
	if s.k != nil {
		s.k.VDSO.Release()
	}
	if s.platform != nil {
		s.platform.Release()
	}
	if s.mf != nil {
		s.mf.Destroy()
	}
}

// hostInfo gathers what the kernel reports about the machine.
func hostInfo(conf *Config) kernel.HostInfo {
	h := kernel.HostInfo{Hostname: conf.Hostname, Domainname: "(none)"}
	h.HWCap, h.HWCap2 = hostHWCap()
	h.MinSigStackSize = minSigStackSize()
	_ = runtime.NumCPU()
	return h
}

// ExitCode is the shell convention for a wait status: the exit status,
// or 128+signal.
func ExitCode(ws linux.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// forwardedSignals are delivered to the container's first process when
// the sandbox process receives them, as runc's init would get them.
var forwardedSignals = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT,
	syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGALRM,
}

// forwardSignals relays signals sent to the sandbox process to the
// container's first process until the returned function is called. It
// also keeps the Sentry itself from being stopped by terminal job-control
// signals.
func (s *Sandbox) forwardSignals() func() {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, forwardedSignals...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				s.forward(linux.Signal(sig.(syscall.Signal)))
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

// Signal sends sig from outside the sandbox to the container's first
// process (which gets it even when it has no handler, like init from a
// parent PID namespace) and, with all, to every other process too.
func (s *Sandbox) Signal(sig linux.Signal, all bool) error {
	err := s.k.SignalRootProcess(sig)
	if !all {
		return err
	}
	ns := s.k.RootPIDNamespace()
	info := &linux.SignalInfo{Signo: int32(sig), Code: linux.SI_USER}
	for _, id := range s.k.ProcThreadGroupIDs(ns) {
		tg := s.k.ProcThreadGroup(ns, id)
		if tg == nil || tg == s.init.ThreadGroup() {
			continue
		}
		// A process that exited meanwhile is no error.
		tg.SendGroupSignal(info)
	}
	return err
}
