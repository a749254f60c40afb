package filter

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/seccomp"
	"appkernel.dev/appkernel/runsc/gofer"
)

const childEnv = "GOFER_FILTER_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode, os.Getenv("GOFER_FILTER_TEST_DIR")))
	}
	os.Exit(m.Run())
}

// runChild installs the gofer's filter and makes the call mode names in
// dir. It returns 0 when the allowed workload completes and 3 when a call
// that should have killed it returned.
func runChild(mode, dir string) int {
	dirfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Println(err)
		return 2
	}
	if err := Install(Options{}); err != nil {
		fmt.Println("install:", err)
		return 2
	}
	fmt.Println("installed")
	survived := func(what string, r1 uintptr, errno syscall.Errno) int {
		fmt.Printf("%s returned %d, errno %v\n", what, r1, errno)
		return 3
	}
	name, _ := unix.BytePtrFromString("node")
	switch mode {
	case "allowed":
		// The server's file operations, as its handlers make them.
		how := unix.OpenHow{Flags: unix.O_RDWR | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC, Mode: 0o644,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS}
		fd, err := unix.Openat2(dirfd, "f", &how)
		if err != nil {
			fmt.Println("openat2:", err)
			return 4
		}
		steps := []struct {
			what string
			err  error
		}{
			{"ftruncate", unix.Ftruncate(fd, 100)},
			{"fsync", unix.Fsync(fd)},
			{"fchmod", unix.Fchmod(fd, 0o600)},
			{"mkdirat", unix.Mkdirat(dirfd, "d", 0o755)},
			{"symlinkat", unix.Symlinkat("f", dirfd, "s")},
			{"mknodat fifo", unix.Mknodat(dirfd, "p", unix.S_IFIFO|0o600, 0)},
			{"renameat2", unix.Renameat2(dirfd, "p", dirfd, "q", 0)},
			{"unlinkat", unix.Unlinkat(dirfd, "q", 0)},
		}
		for _, s := range steps {
			if s.err != nil {
				fmt.Println(s.what, s.err)
				return 4
			}
		}
		var sx unix.Statx_t
		if err := unix.Statx(dirfd, "f", unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &sx); err != nil || sx.Size != 100 {
			fmt.Println("statx:", err, sx.Size)
			return 4
		}
		unix.Close(fd)
		fmt.Println("ok")
		return 0
	case "socket":
		r, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM, 0)
		return survived("socket", r, e)
	case "execve":
		path, _ := unix.BytePtrFromString("/bin/true")
		argv := []*byte{path, nil}
		r, _, e := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(&argv[0])), 0)
		return survived("execve", r, e)
	case "mknod-device":
		// /dev/null's numbers, in a test directory, if it got through.
		r, _, e := unix.RawSyscall6(unix.SYS_MKNODAT, uintptr(dirfd), uintptr(unsafe.Pointer(name)), unix.S_IFCHR|0o600, uintptr(unix.Mkdev(1, 3)), 0, 0)
		return survived("mknodat(S_IFCHR)", r, e)
	case "mount":
		r, _, e := unix.RawSyscall6(unix.SYS_MOUNT, 0, 0, 0, 0, 0, 0)
		return survived("mount", r, e)
	case "ptrace":
		r, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0, 0, 0, 0)
		return survived("ptrace", r, e)
	case "ioctl":
		r, _, e := unix.RawSyscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, 0)
		return survived("ioctl", r, e)
	}
	fmt.Println("unknown mode", mode)
	return 2
}

func runInChild(t *testing.T, mode string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "GOFER_FILTER_TEST_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if _, serr := os.Lstat(filepath.Join(dir, "node")); serr == nil {
		t.Errorf("%s: the forbidden node was created", mode)
	}
	return string(out), err
}

func TestAllowedWorkloadSurvives(t *testing.T) {
	out, err := runInChild(t, "allowed")
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("child: %v: %s", err, out)
	}
}

func TestDisallowedCallsKill(t *testing.T) {
	for _, mode := range []string{"socket", "execve", "mknod-device", "mount", "ptrace", "ioctl"} {
		t.Run(mode, func(t *testing.T) {
			out, err := runInChild(t, mode)
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child: %v: %s", err, out)
			}
			if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
				t.Errorf("child ended with %v, want killed by SIGSYS: %s", ws, out)
			}
			if !strings.Contains(out, "installed") {
				t.Errorf("child died before the call under test: %s", out)
			}
		})
	}
}

// TestServesUnderFilter runs the real lisafs server over a socket pair in
// a child confined by the filter, installed where runsc gofer installs it
// (before Serve), and drives it with a client from this process.
func TestServesUnderFilter(t *testing.T) {
	if cgoLinked() {
		// Then new threads come from glibc (clone3, rseq,
		// set_robust_list), which a pure-Go runsc never calls.
		t.Skip("test binary uses cgo; the filter is for CGO_ENABLED=0 binaries (make sets it)")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	client, server, err := lisafs.Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=serve", "GOFER_FILTER_TEST_DIR="+dir)
	cmd.ExtraFiles = []*os.File{server}
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	server.Close()
	err = exerciseClient(client)
	client.Close()
	werr := cmd.Wait()
	if err != nil {
		t.Errorf("client: %v", err)
	}
	if werr != nil {
		t.Errorf("server: %v: %s", werr, stderr.String())
	}
}

// cgoLinked reports whether this binary was built with cgo.
func cgoLinked() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "CGO_ENABLED" {
			return s.Value == "1"
		}
	}
	return false
}

func init() {
	// The "serve" child: a gofer on fd 3, filter installed before
	// serving, as runsc gofer does.
	if os.Getenv(childEnv) != "serve" {
		return
	}
	srv, err := gofer.New([]gofer.Export{{Name: gofer.RootExport, HostPath: os.Getenv("GOFER_FILTER_TEST_DIR")}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := Install(Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := lisafs.NewServer(srv, 0).Serve(os.NewFile(3, "sock")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestDecisions spot-checks the compiled program on calls the children
// cannot safely make real.
func TestDecisions(t *testing.T) {
	p, err := seccomp.Compile(Rules(Options{PID: 99}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		nr   uintptr
		args []uint64
		want seccomp.Action
	}{
		{"mknod regular", unix.SYS_MKNODAT, []uint64{3, 0x1000, linux.S_IFREG | 0o644, 0}, seccomp.Allow},
		{"mknod socket", unix.SYS_MKNODAT, []uint64{3, 0x1000, linux.S_IFSOCK | 0o644, 0}, seccomp.Allow},
		{"mknod block", unix.SYS_MKNODAT, []uint64{3, 0x1000, linux.S_IFBLK | 0o644, 0x803}, seccomp.KillProcess},
		{"mknod fifo with dev", unix.SYS_MKNODAT, []uint64{3, 0x1000, linux.S_IFIFO | 0o644, 0x103}, seccomp.KillProcess},
		{"getsockopt SO_TYPE", unix.SYS_GETSOCKOPT, []uint64{3, unix.SOL_SOCKET, unix.SO_TYPE}, seccomp.Allow},
		{"getsockopt SO_PEERCRED", unix.SYS_GETSOCKOPT, []uint64{3, unix.SOL_SOCKET, unix.SO_PEERCRED}, seccomp.KillProcess},
		{"fcntl dup", unix.SYS_FCNTL, []uint64{3, linux.F_DUPFD_CLOEXEC, 0}, seccomp.Allow},
		{"fcntl lease", unix.SYS_FCNTL, []uint64{3, unix.F_SETLEASE, 0}, seccomp.KillProcess},
		{"connect", unix.SYS_CONNECT, nil, seccomp.KillProcess},
	} {
		d := linux.SeccompData{Nr: int32(c.nr), Arch: seccomp.NativeArch}
		copy(d.Args[:], c.args)
		got, err := seccomp.Evaluate(p, d)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// exerciseClient makes one call of each kind a Sentry makes.
func exerciseClient(sock *os.File) error {
	c, err := lisafs.NewClient(sock)
	if err != nil {
		return err
	}
	defer c.Close()
	root, _, err := c.Mount(gofer.RootExport)
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	w, err := c.Walk(root.FD, []string{"hello"})
	if err != nil || len(w.Inodes) != 1 {
		return fmt.Errorf("walk: %v %+v", err, w)
	}
	fd, hostFD, err := c.Open(w.Inodes[0].FD, unix.O_RDONLY)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	buf := make([]byte, 2)
	if n, err := unix.Pread(hostFD, buf, 0); err != nil || string(buf[:n]) != "hi" {
		return fmt.Errorf("read donated fd: %q %v", buf, err)
	}
	unix.Close(hostFD)
	nf, nfd, nhost, err := c.OpenCreate(root.FD, "new", unix.O_RDWR, 0o644, 0, 0)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	unix.Close(nhost)
	if err := c.SetStat(&lisafs.SetStatReq{FD: nf.FD, Mask: lisafs.SetStatMode | lisafs.SetStatSize | lisafs.SetStatMtime, Mode: 0o600, Size: 10, Mtime: lisafs.Timestamp{Sec: 1}}); err != nil {
		return fmt.Errorf("setstat: %w", err)
	}
	if err := c.Fsync(nfd); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	if _, err := c.Mkdir(root.FD, "dir", 0o755, 0, 0); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if _, err := c.Mknod(root.FD, "fifo", unix.S_IFIFO|0o600, 0, 0); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	sl, err := c.Symlink(root.FD, "link", "hello", 0, 0)
	if err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	if target, err := c.Readlink(sl.FD); err != nil || target != "hello" {
		return fmt.Errorf("readlink: %q %v", target, err)
	}
	if _, err := c.Link(root.FD, "hard", w.Inodes[0].FD); err != nil {
		return fmt.Errorf("link: %w", err)
	}
	if err := c.Rename(root.FD, "new", root.FD, "renamed", 0); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	if err := c.Unlink(root.FD, "fifo", 0); err != nil {
		return fmt.Errorf("unlink: %w", err)
	}
	dfd, _, err := c.Open(root.FD, unix.O_RDONLY)
	if err != nil {
		return fmt.Errorf("open dir: %w", err)
	}
	ents, err := c.Getdents64(dfd, 0, 4096)
	if err != nil || len(ents) < 5 {
		return fmt.Errorf("getdents: %d %v", len(ents), err)
	}
	if _, err := c.StatFS(root.FD); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	if _, err := c.Stat(root.FD); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	return c.CloseFDs(fd, nfd, dfd)
}
