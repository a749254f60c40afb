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
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/runsc/boot"
	"appkernel.dev/appkernel/runsc/config"
	"appkernel.dev/appkernel/runsc/container"
	"appkernel.dev/appkernel/runsc/sandbox"
)

// Compat runs a program in a sandbox and reports what it used that the
// sandbox does not fully support.
type Compat struct {
	format string
	out    string
}

// Name implements subcommands.Command.
func (*Compat) Name() string { return "compat" }

// Synopsis implements subcommands.Command.
func (*Compat) Synopsis() string {
	return "run a program and report what it used that the sandbox does not fully support"
}

// Usage implements subcommands.Command.
func (*Compat) Usage() string {
	return `compat [--format text|json] [--out FILE] CMD [ARG...]

Runs CMD in a sandbox over the host's root file system (read-only; /tmp
is the host's, read-only too), with runsc's global flags (--platform,
--network, ...), and once it has exited prints one report of everything
it used that the sandbox does not fully support, with a count and where
it first happened (pid, program counter, and the mapped file and offset):

  unsupported  the call failed because the sandbox lacks it: syscalls
               without a handler, ioctl requests a file does not know,
               prctl options and fcntl commands the sandbox refuses
  partial      syscalls whose handler lacks some modes (see the note)

The report goes to stderr, or to --out; the exit status is CMD's.
`
}

// SetFlags implements subcommands.Command.
func (c *Compat) SetFlags(f *flag.FlagSet) {
	f.StringVar(&c.format, "format", "text", "report format: text or json")
	f.StringVar(&c.out, "out", "", "file to write the report to (default: stderr)")
}

// CompatReport is what runsc compat prints with --format json.
type CompatReport struct {
	Command []string `json:"command"`
	// ExitStatus is the program's, as the shell reports it (128+signal
	// when killed).
	ExitStatus  int          `json:"exitStatus"`
	Unsupported []CompatItem `json:"unsupported"`
	Partial     []CompatItem `json:"partial"`
	// Dropped counts distinct items the sandbox had no room to record.
	Dropped uint64 `json:"dropped,omitempty"`
}

// CompatItem is one thing the program used.
type CompatItem struct {
	Kind kernel.CompatKind `json:"kind"`
	// Name is what the item is called: a syscall's or option's name, or
	// an ioctl request decoded.
	Name    string            `json:"name"`
	ID      uint64            `json:"id"`
	Detail  string            `json:"detail,omitempty"`
	Support string            `json:"support,omitempty"`
	Note    string            `json:"note,omitempty"`
	Count   uint64            `json:"count"`
	First   kernel.CompatSite `json:"first"`
}

// compatID is the container id compat uses in its private root.
const compatID = "compat"

// Execute implements subcommands.Command.
func (c *Compat) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := configFrom(args)
	if f.NArg() == 0 {
		return usagef("compat: missing command to run")
	}
	if c.format != "text" && c.format != "json" {
		return usagef("compat: --format must be text or json, got %q", c.format)
	}
	out := io.Writer(os.Stderr)
	if c.out != "" {
		fo, err := os.Create(c.out)
		if err != nil {
			return failf("compat: %v", err)
		}
		defer fo.Close()
		out = fo
	}
	if os.Getenv(compatMountNSEnv) == "" {
		return reexecInMountNS()
	}
	raw, code, err := runForCompat(*conf, f.Args())
	if err != nil {
		return failf("compat: %v", err)
	}
	rep := buildCompatReport(f.Args(), code, raw)
	if c.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = writeCompatText(out, rep)
	}
	if err != nil {
		return failf("compat: writing the report: %v", err)
	}
	os.Exit(code)
	return subcommands.ExitSuccess
}

// compatMountNSEnv marks the runsc compat re-executed in a mount
// namespace of its own.
const compatMountNSEnv = "RUNSC_COMPAT_MOUNTNS"

// reexecInMountNS runs this same command again in a new mount namespace
// and exits with its status. The container's root is the host's root,
// which the gofer cannot pivot into as it is (pivot_root refuses the
// current root), so compat bind-mounts it elsewhere first, privately:
// nothing it mounts is seen outside, and it all goes when compat does.
func reexecInMountNS() subcommands.ExitStatus {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), compatMountNSEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if err := cmd.Start(); err != nil {
		return failf("compat: a mount namespace for the run: %v", err)
	}
	stop := relaySignals(cmd.Process)
	err := cmd.Wait()
	stop()
	if ee, ok := err.(*exec.ExitError); ok {
		os.Exit(ee.ExitCode())
	} else if err != nil {
		return failf("compat: %v", err)
	}
	os.Exit(0)
	return subcommands.ExitSuccess
}

// bindHostRoot makes dir a read-only view of the host's root file system,
// in this process's own mount namespace.
func bindHostRoot(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	// Keep our mounts from propagating back to the host's namespace.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := syscall.Mount("/", dir, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("binding / to %s: %w", dir, err)
	}
	return nil
}

// runForCompat runs argv as a container in a private root and returns
// the sandbox's report, taken after the program exited, and the exit
// code.
func runForCompat(conf config.Config, argv []string) (*boot.CompatReport, int, error) {
	tmp, err := os.MkdirTemp("", "runsc-compat-")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(tmp)
	bundle := filepath.Join(tmp, "bundle")
	if err := os.Mkdir(bundle, 0o700); err != nil {
		return nil, 0, err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, 0, err
	}
	rootfs := filepath.Join(tmp, "rootfs")
	if err := bindHostRoot(rootfs); err != nil {
		return nil, 0, err
	}
	defer syscall.Unmount(rootfs, syscall.MNT_DETACH)
	spec := compatSpec(argv, cwd, rootfs)
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, 0, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return nil, 0, err
	}
	conf.RootDir = filepath.Join(tmp, "root")
	// A one-off run needs no cgroup of its own, nor a metric server.
	conf.IgnoreCgroups = true
	conf.MetricsServer = ""

	sb, err := container.Create(&conf, &container.CreateArgs{ID: compatID, Bundle: bundle})
	if err != nil {
		return nil, 0, err
	}
	cleanup := func() {
		if cont, err := container.Load(conf.RootDir, compatID); err == nil {
			if err := cont.Delete(true); err != nil {
				log.Warningf("compat: %v", err)
			}
			cont.Unlock()
		}
	}
	sock := filepath.Join(conf.RootDir, compatID, sandbox.ControlSocket)
	dec, conn, err := sandbox.Stream(sock, boot.ControlRequest{Cmd: boot.CtlDebug, Debug: &boot.DebugRequest{Action: boot.DebugCompatAtExit}})
	if err != nil {
		sb.Destroy()
		cleanup()
		return nil, 0, err
	}
	defer conn.Close()
	var ack boot.DebugResponse
	if err := dec.Decode(&ack); err != nil || ack.Error != "" {
		sb.Destroy()
		cleanup()
		return nil, 0, fmt.Errorf("asking for the report: %v %s", err, ack.Error)
	}
	cont, err := container.Load(conf.RootDir, compatID)
	if err == nil {
		err = cont.Start()
		cont.Unlock()
	}
	if err != nil {
		sb.Destroy()
		cleanup()
		return nil, 0, err
	}
	stop := relaySignals(sb.Sandbox.Process)
	var resp boot.DebugResponse
	rerr := dec.Decode(&resp)
	sb.Sandbox.Wait()
	stop()
	reapGofer(sb.Gofer)
	cleanup()
	if rerr != nil || resp.Compat == nil {
		return nil, 0, fmt.Errorf("the sandbox sent no report: %v %s", rerr, resp.Error)
	}
	if !resp.Compat.Exited {
		return nil, 0, errors.New("the sandbox reported before the program exited")
	}
	ws := syscall.WaitStatus(resp.Compat.WaitStatus)
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	return resp.Compat, code, nil
}

// compatSpec runs argv as the caller, in cwd, with the caller's
// environment, over rootfs (the host's root) read-only: what runsc do
// runs, except that do gives the program an in-memory layer to write to.
func compatSpec(argv []string, cwd, rootfs string) *specs.Spec {
	s := templateSpec(argv, cwd)
	s.Process.Terminal = false
	s.Process.Env = nil
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, compatMountNSEnv+"=") {
			s.Process.Env = append(s.Process.Env, kv)
		}
	}
	s.Process.User = specs.User{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	s.Root = &specs.Root{Path: rootfs, Readonly: true}
	if h, err := os.Hostname(); err == nil {
		s.Hostname = h
	}
	return s
}

// buildCompatReport names and sorts what the sandbox recorded.
func buildCompatReport(argv []string, code int, raw *boot.CompatReport) *CompatReport {
	rep := &CompatReport{Command: argv, ExitStatus: code, Dropped: raw.Dropped, Unsupported: []CompatItem{}, Partial: []CompatItem{}}
	for _, r := range raw.Records {
		it := CompatItem{Kind: r.Kind, ID: r.ID, Detail: r.Detail, Support: r.Support, Note: r.Note, Count: r.Count, First: r.First}
		switch r.Kind {
		case kernel.CompatSyscall:
			it.Name = r.Name
			if it.Name == "" {
				it.Name = fmt.Sprintf("syscall %d", r.ID)
			}
		case kernel.CompatIoctl:
			it.Name = ioctlName(uint32(r.ID))
		case kernel.CompatPrctl:
			it.Name = optionName(prctlNames, r.ID)
		case kernel.CompatFcntl:
			it.Name = optionName(fcntlNames, r.ID)
		default:
			it.Name = fmt.Sprintf("%s %d", r.Kind, r.ID)
		}
		if r.Kind == kernel.CompatSyscall && r.Support == "partial" {
			rep.Partial = append(rep.Partial, it)
		} else {
			rep.Unsupported = append(rep.Unsupported, it)
		}
	}
	return rep
}

func writeCompatText(w io.Writer, rep *CompatReport) error {
	if rep.ExitStatus >= 0 {
		fmt.Fprintf(w, "runsc compat: %q exited with status %d\n", rep.Command, rep.ExitStatus)
	} else {
		fmt.Fprintf(w, "runsc compat: %s, still running\n", strings.Join(rep.Command, " "))
	}
	section := func(title string, items []CompatItem) {
		if len(items) == 0 {
			fmt.Fprintf(w, "\n%s: none\n", title)
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  KIND\tNAME\tON\tCOUNT\tFIRST (pid, comm, pc: file+offset)")
		for _, it := range items {
			site := fmt.Sprintf("%d %s %#x", it.First.PID, it.First.Comm, it.First.PC)
			if it.First.File != "" {
				site += fmt.Sprintf(": %s+%#x", it.First.File, it.First.Offset)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", it.Kind, it.Name, it.Detail, it.Count, site)
		}
		tw.Flush()
		for _, it := range items {
			if it.Note != "" {
				fmt.Fprintf(w, "  %s: %s\n", it.Name, it.Note)
			}
		}
	}
	section("unsupported (the call failed)", rep.Unsupported)
	section("partially supported (the call may behave differently)", rep.Partial)
	if rep.Dropped > 0 {
		fmt.Fprintf(w, "\n%d more distinct items were not recorded (the sandbox's record is full)\n", rep.Dropped)
	}
	return nil
}

// ioctlName names a request, or decodes it as _IOC(dir, type, nr, size).
func ioctlName(req uint32) string {
	if n, ok := ioctlNames[req]; ok {
		return fmt.Sprintf("%s (%#x)", n, req)
	}
	dir, size := req>>30, (req>>16)&0x3fff
	typ, nr := (req>>8)&0xff, req&0xff
	dirs := [...]string{"_IO", "_IOW", "_IOR", "_IOWR"}
	if typ >= 0x20 && typ < 0x7f {
		return fmt.Sprintf("%#x (%s('%c', %d, %d))", req, dirs[dir], rune(typ), nr, size)
	}
	return fmt.Sprintf("%#x (%s(%#x, %d, %d))", req, dirs[dir], typ, nr, size)
}

func optionName(names map[uint64]string, id uint64) string {
	if n, ok := names[id]; ok {
		return fmt.Sprintf("%s (%d)", n, id)
	}
	return fmt.Sprintf("%d (not a Linux value)", id)
}

// Names of requests and options (include/uapi/linux/*.h, asm-generic
// ioctls.h), for the report.
var ioctlNames = map[uint32]string{
	0x5401: "TCGETS", 0x5402: "TCSETS", 0x5403: "TCSETSW", 0x5404: "TCSETSF",
	0x540e: "TIOCSCTTY", 0x540f: "TIOCGPGRP", 0x5410: "TIOCSPGRP", 0x5413: "TIOCGWINSZ",
	0x5414: "TIOCSWINSZ", 0x541b: "FIONREAD", 0x5421: "FIONBIO", 0x5422: "TIOCNOTTY",
	0x5429: "TIOCGSID", 0x5450: "FIONCLEX", 0x5451: "FIOCLEX", 0x5452: "FIOASYNC",
	0x80086601: "FS_IOC_GETFLAGS", 0x40086602: "FS_IOC_SETFLAGS",
	0x80087601: "FS_IOC_GETVERSION", 0xc020660b: "FS_IOC_FIEMAP",
	0x40049409: "FICLONE", 0x4020940d: "FICLONERANGE", 0xc0189436: "FIDEDUPERANGE",
	0x80081272: "BLKGETSIZE64", 0x8912: "SIOCGIFCONF", 0x8913: "SIOCGIFFLAGS",
	0x8915: "SIOCGIFADDR", 0x8927: "SIOCGIFHWADDR", 0x8933: "SIOCGIFINDEX",
	0x541c: "TIOCLINUX", 0x5425: "TCGETS2", 0x4b33: "KDGKBTYPE",
}

var prctlNames = map[uint64]string{
	1: "PR_SET_PDEATHSIG", 2: "PR_GET_PDEATHSIG", 3: "PR_GET_DUMPABLE", 4: "PR_SET_DUMPABLE",
	5: "PR_GET_UNALIGN", 6: "PR_SET_UNALIGN", 7: "PR_GET_KEEPCAPS", 8: "PR_SET_KEEPCAPS",
	9: "PR_GET_FPEMU", 10: "PR_SET_FPEMU", 11: "PR_GET_FPEXC", 12: "PR_SET_FPEXC",
	13: "PR_GET_TIMING", 14: "PR_SET_TIMING", 15: "PR_SET_NAME", 16: "PR_GET_NAME",
	19: "PR_GET_ENDIAN", 20: "PR_SET_ENDIAN", 21: "PR_GET_SECCOMP", 22: "PR_SET_SECCOMP",
	23: "PR_CAPBSET_READ", 24: "PR_CAPBSET_DROP", 25: "PR_GET_TSC", 26: "PR_SET_TSC",
	27: "PR_GET_SECUREBITS", 28: "PR_SET_SECUREBITS", 29: "PR_SET_TIMERSLACK", 30: "PR_GET_TIMERSLACK",
	31: "PR_TASK_PERF_EVENTS_DISABLE", 32: "PR_TASK_PERF_EVENTS_ENABLE", 33: "PR_MCE_KILL",
	34: "PR_MCE_KILL_GET", 35: "PR_SET_MM", 36: "PR_SET_CHILD_SUBREAPER", 37: "PR_GET_CHILD_SUBREAPER",
	38: "PR_SET_NO_NEW_PRIVS", 39: "PR_GET_NO_NEW_PRIVS", 40: "PR_GET_TID_ADDRESS",
	41: "PR_SET_THP_DISABLE", 42: "PR_GET_THP_DISABLE", 43: "PR_MPX_ENABLE_MANAGEMENT",
	44: "PR_MPX_DISABLE_MANAGEMENT", 45: "PR_SET_FP_MODE", 46: "PR_GET_FP_MODE", 47: "PR_CAP_AMBIENT",
	50: "PR_SVE_SET_VL", 51: "PR_SVE_GET_VL", 52: "PR_GET_SPECULATION_CTRL", 53: "PR_SET_SPECULATION_CTRL",
	54: "PR_PAC_RESET_KEYS", 55: "PR_SET_TAGGED_ADDR_CTRL", 56: "PR_GET_TAGGED_ADDR_CTRL",
	57: "PR_SET_IO_FLUSHER", 58: "PR_GET_IO_FLUSHER", 59: "PR_SET_SYSCALL_USER_DISPATCH",
	60: "PR_PAC_SET_ENABLED_KEYS", 61: "PR_PAC_GET_ENABLED_KEYS", 62: "PR_SCHED_CORE",
	63: "PR_SME_SET_VL", 64: "PR_SME_GET_VL", 65: "PR_SET_MDWE", 66: "PR_GET_MDWE",
	0x41555856: "PR_GET_AUXV", 0x53564d41: "PR_SET_VMA",
}

var fcntlNames = map[uint64]string{
	0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK",
	6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 10: "F_SETSIG", 11: "F_GETSIG",
	15: "F_SETOWN_EX", 16: "F_GETOWN_EX", 17: "F_GETOWNER_UIDS", 36: "F_OFD_GETLK",
	37: "F_OFD_SETLK", 38: "F_OFD_SETLKW", 1024: "F_SETLEASE", 1025: "F_GETLEASE",
	1026: "F_NOTIFY", 1027: "F_DUPFD_QUERY", 1029: "F_CANCELLK", 1030: "F_DUPFD_CLOEXEC",
	1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ", 1033: "F_ADD_SEALS", 1034: "F_GET_SEALS",
	1035: "F_GET_RW_HINT", 1036: "F_SET_RW_HINT", 1037: "F_GET_FILE_RW_HINT", 1038: "F_SET_FILE_RW_HINT",
}
