package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/runsc/gofer"
	goferfilter "appkernel.dev/appkernel/runsc/gofer/filter"
)

// Gofer serves a container's files to its Sentry over an inherited socket.
type Gofer struct {
	rootDir  string
	socketFD int
	readOnly bool
	mounts   mountFlags
	chroot   bool
	workers  int
}

// Name implements subcommands.Command.
func (*Gofer) Name() string { return "gofer" }

// Synopsis implements subcommands.Command.
func (*Gofer) Synopsis() string { return "serve a container's files to the sandbox (internal)" }

// Usage implements subcommands.Command.
func (*Gofer) Usage() string {
	return `gofer --root-dir PATH --socket-fd N [--ro] [--mount [ro:]DEST=PATH]... [--chroot]

Serves PATH as the container's root filesystem, and each --mount's PATH (a
directory, or a single file for a file bind mount) as the bind mount at
container path DEST, over the lisafs SOCK_SEQPACKET socket
inherited as descriptor N. Exits when the other end closes the socket.
--chroot pivots into PATH first; it needs root and a mount namespace of its
own (start the gofer with CLONE_NEWNS).
`
}

// SetFlags implements subcommands.Command.
func (g *Gofer) SetFlags(f *flag.FlagSet) {
	f.StringVar(&g.rootDir, "root-dir", "", "host directory served as the container's root filesystem")
	f.IntVar(&g.socketFD, "socket-fd", -1, "inherited descriptor of the lisafs socket")
	f.BoolVar(&g.readOnly, "ro", false, "serve the root filesystem read-only")
	f.Var(&g.mounts, "mount", "additional export [ro:]DEST=PATH; repeatable")
	f.BoolVar(&g.chroot, "chroot", false, "pivot into --root-dir before serving (root, own mount namespace)")
	f.IntVar(&g.workers, "workers", 0, "requests handled at once (default: 4 per CPU)")
}

// Execute implements subcommands.Command.
func (g *Gofer) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	_ = configFrom(args)
	if f.NArg() != 0 {
		return usagef("gofer: unexpected arguments %q", f.Args())
	}
	if g.rootDir == "" || !filepath.IsAbs(g.rootDir) {
		return usagef("gofer: --root-dir must be an absolute path, got %q", g.rootDir)
	}
	if g.socketFD < 0 {
		return usagef("gofer: --socket-fd is required")
	}
	exports := append([]gofer.Export{{Name: gofer.RootExport, HostPath: g.rootDir, ReadOnly: g.readOnly}}, g.mounts...)

	// Claim the socket before anything can fail, so that any exit closes
	// it and the Sentry sees the gofer go.
	sock := os.NewFile(uintptr(g.socketFD), "lisafs-socket")
	if sock == nil {
		return usagef("gofer: --socket-fd %d is not a descriptor", g.socketFD)
	}
	unix.CloseOnExec(g.socketFD)

	// Every handle is a host descriptor: allow as many as the hard limit.
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			log.Infof("gofer: raising RLIMIT_NOFILE: %v", err)
		}
	}

	srv, err := gofer.New(exports)
	if err != nil {
		sock.Close()
		return failf("gofer: %v", err)
	}
	defer srv.Close()
	if g.chroot {
		if err := pivot(srv); err != nil {
			sock.Close()
			return failf("gofer: %v", err)
		}
	}
	// From here on only runsc/gofer/filter's allow-list reaches the host;
	// anything else kills the gofer.
	if err := goferfilter.Install(goferfilter.Options{}); err != nil {
		sock.Close()
		return failf("gofer: seccomp: %v", err)
	}
	if err := lisafs.NewServer(srv, g.workers).Serve(sock); err != nil {
		return failf("gofer: %v", err)
	}
	return subcommands.ExitSuccess
}

// pivot checks that pivoting cannot touch the host's mount table, then
// pivots.
func pivot(srv *gofer.Gofer) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("--chroot needs root")
	}
	own, err := gofer.OwnMountNamespace()
	if err != nil {
		return fmt.Errorf("--chroot: cannot tell the mount namespace: %w", err)
	}
	if !own {
		return fmt.Errorf("--chroot needs a mount namespace of its own (start the gofer with CLONE_NEWNS)")
	}
	return srv.PivotRoot()
}

// mountFlags collects repeated --mount [ro:]DEST=PATH flags.
type mountFlags []gofer.Export

// String implements flag.Value.
func (m *mountFlags) String() string {
	var parts []string
	for _, e := range *m {
		s := e.Name + "=" + e.HostPath
		if e.ReadOnly {
			s = "ro:" + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

// Set implements flag.Value.
func (m *mountFlags) Set(v string) error {
	var e gofer.Export
	if rest, ok := strings.CutPrefix(v, "ro:"); ok {
		e.ReadOnly, v = true, rest
	} else if rest, ok := strings.CutPrefix(v, "rw:"); ok {
		v = rest
	}
	dest, path, ok := strings.Cut(v, "=")
	if !ok || !filepath.IsAbs(dest) || !filepath.IsAbs(path) {
		return fmt.Errorf("want [ro:]DEST=PATH with absolute paths, got %q", v)
	}
	e.Name, e.HostPath = filepath.Clean(dest), path
	if e.Name == gofer.RootExport {
		return fmt.Errorf("%q: the root is --root-dir", v)
	}
	*m = append(*m, e)
	return nil
}
