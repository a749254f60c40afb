package gofer_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/lisafs"
	"appkernel.dev/appkernel/pkg/log"
	"appkernel.dev/appkernel/runsc/cmd"
	"appkernel.dev/appkernel/runsc/config"
)

// The test binary doubles as `runsc gofer` when this variable is set, so
// the subcommand runs as its own process, as it does in production.
const asGofer = "LISAFS_TEST_RUN_GOFER"

func TestMain(m *testing.M) {
	if os.Getenv(asGofer) == "1" {
		log.SetOutputs(log.Output{W: os.Stderr, Format: log.Plain, Level: log.Debug})
		fs := flag.NewFlagSet("runsc", flag.ContinueOnError)
		cdr := subcommands.NewCommander(fs, "runsc")
		cdr.Register(new(cmd.Gofer), "")
		if err := fs.Parse(os.Args[1:]); err != nil {
			os.Exit(2)
		}
		os.Exit(int(cdr.Execute(context.Background(), &config.Config{})))
	}
	os.Exit(m.Run())
}

// startGofer runs `runsc gofer ARGS --socket-fd 3` and returns a client
// connected to it and a function that waits for its exit.
func startGofer(t testing.TB, attr *syscall.SysProcAttr, args ...string) (*lisafs.Client, func() error) {
	c, wait, _ := startGoferPID(t, attr, args...)
	return c, wait
}

func startGoferPID(t testing.TB, attr *syscall.SysProcAttr, args ...string) (*lisafs.Client, func() error, int) {
	t.Helper()
	cf, sf, err := lisafs.Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(os.Args[0], append(append([]string{"gofer"}, args...), "--socket-fd", "3")...)
	c.Env = append(os.Environ(), asGofer+"=1")
	c.ExtraFiles = []*os.File{sf}
	c.Stderr = os.Stderr
	c.SysProcAttr = attr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	sf.Close()
	client, err := lisafs.NewClient(cf)
	if err != nil {
		t.Fatal(err)
	}
	wait := func() error {
		client.Close()
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			c.Process.Kill()
			return errors.New("gofer did not exit after its socket closed")
		}
	}
	return client, wait, c.Process.Pid
}

func TestGoferCommand(t *testing.T) {
	root := t.TempDir()
	extra := t.TempDir()
	os.WriteFile(filepath.Join(root, "f"), []byte("root file"), 0o644)
	os.WriteFile(filepath.Join(extra, "g"), []byte("extra file"), 0o644)

	c, wait := startGofer(t, nil, "--root-dir", root, "--mount", "ro:/data="+extra)
	r, ro, err := c.Mount("/")
	if err != nil || ro {
		t.Fatalf("Mount /: ro=%v %v", ro, err)
	}
	if _, err := c.Mkdir(r.FD, "made", 0o755, lisafs.NoID, lisafs.NoID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "made")); err != nil {
		t.Fatal(err)
	}
	d, ro, err := c.Mount("/data")
	if err != nil || !ro {
		t.Fatalf("Mount /data: ro=%v %v", ro, err)
	}
	w, err := c.Walk(d.FD, []string{"g"})
	if err != nil || len(w.Inodes) != 1 {
		t.Fatalf("Walk: %+v %v", w, err)
	}
	_, hostFD, err := c.Open(w.Inodes[0].FD, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := unix.Read(hostFD, buf)
	unix.Close(hostFD)
	if string(buf[:n]) != "extra file" {
		t.Fatalf("read %q", buf[:n])
	}
	if err := c.Unlink(d.FD, "g", 0); !errors.Is(err, linux.EROFS) {
		t.Fatalf("Unlink in ro mount: %v", err)
	}
	if err := wait(); err != nil {
		t.Fatalf("gofer exit: %v", err)
	}
}

func TestGoferCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"gofer", "--socket-fd", "3"},
		{"gofer", "--root-dir", "relative", "--socket-fd", "3"},
		{"gofer", "--root-dir", "/"},
		{"gofer", "--root-dir", "/", "--socket-fd", "3", "--mount", "nodest"},
	} {
		c := exec.Command(os.Args[0], args...)
		c.Env = append(os.Environ(), asGofer+"=1")
		if out, err := c.CombinedOutput(); err == nil {
			t.Errorf("%q succeeded: %s", args, out)
		}
	}
}

// TestGoferChroot runs the gofer as root in a new mount namespace with
// --chroot: it must serve from its pivoted root, leave the host's mount
// table alone, and make a read-only root a read-only mount.
func TestGoferChroot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("--chroot needs root")
	}
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "f"), []byte("inside"), 0o644)
	hostMounts, _ := os.ReadFile("/proc/self/mountinfo")

	c, wait, pid := startGoferPID(t, &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}, "--root-dir", root, "--ro", "--chroot")
	r, ro, err := c.Mount("/")
	if err != nil || !ro {
		t.Fatalf("Mount: ro=%v %v", ro, err)
	}
	// The pivot happened before the first reply: the gofer's root is now
	// a mount of the served directory alone.
	mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(mi)), "\n")
	// Fields: id parent dev root mountpoint options ...
	if f := strings.Fields(lines[0]); len(lines) != 1 || len(f) < 6 || f[4] != "/" || !strings.HasPrefix(f[5], "ro") {
		t.Fatalf("gofer should see only its read-only root:\n%s", mi)
	}
	t.Logf("gofer mountinfo:\n%s", mi)
	w, err := c.Walk(r.FD, []string{"f"})
	if err != nil || len(w.Inodes) != 1 {
		t.Fatalf("Walk: %+v %v", w, err)
	}
	_, hostFD, err := c.Open(w.Inodes[0].FD, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("Open after pivot: %v", err)
	}
	// The kernel itself now refuses writes: the donated descriptor's file
	// is on a read-only mount.
	var st unix.Statfs_t
	if err := unix.Fstatfs(hostFD, &st); err != nil || st.Flags&unix.ST_RDONLY == 0 {
		t.Fatalf("donated file's mount flags %#x (%v), want read-only", st.Flags, err)
	}
	buf := make([]byte, 16)
	n, _ := unix.Read(hostFD, buf)
	unix.Close(hostFD)
	if string(buf[:n]) != "inside" {
		t.Fatalf("read %q", buf[:n])
	}
	if after, _ := os.ReadFile("/proc/self/mountinfo"); string(after) != string(hostMounts) {
		t.Fatalf("host mount table changed:\n%s", strings.TrimSpace(string(after)))
	}
	if err := wait(); err != nil {
		t.Fatalf("gofer exit: %v", err)
	}
}

// TestGoferChrootRefusesHostNamespace: pivoting in the host's mount
// namespace would change the host, so --chroot must refuse there.
func TestGoferChrootRefusesHostNamespace(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to reach the check")
	}
	c, wait := startGofer(t, nil, "--root-dir", t.TempDir(), "--chroot")
	if _, _, err := c.Mount("/"); !errors.Is(err, lisafs.ErrDisconnected) {
		t.Fatalf("Mount: %v", err)
	}
	if err := wait(); err == nil {
		t.Fatal("gofer --chroot in the host mount namespace exited 0")
	}
}

// BenchmarkCrossProcess measures round trips to a gofer in another
// process, as the Sentry sees them.
func BenchmarkCrossProcess(b *testing.B) {
	root := b.TempDir()
	os.Mkdir(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "d", "f"), []byte("a small file's contents"), 0o644)
	c, wait := startGofer(b, nil, "--root-dir", root)
	defer wait()
	r, _, err := c.Mount("/")
	if err != nil {
		b.Fatal(err)
	}
	names := []string{"d", "f"}
	b.Run("WalkStat", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.WalkStat(r.FD, names); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OpenRead", func(b *testing.B) {
		w, err := c.Walk(r.FD, names)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 64)
		for b.Loop() {
			id, hostFD, err := c.Open(w.Inodes[1].FD, unix.O_RDONLY)
			if err != nil {
				b.Fatal(err)
			}
			unix.Pread(hostFD, buf, 0)
			unix.Close(hostFD)
			c.CloseFDs(id)
		}
	})
}
