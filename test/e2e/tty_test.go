package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// These tests type at an interactive shell on a terminal as a person
// would (Ctrl-C, Ctrl-Z, jobs, fg, /dev/tty) and check what it prints.
// The same session runs against the shell on a host pty, natively, so
// that the expectations are Linux's, and in a container with a terminal
// whose pty master comes back through runsc's --console-socket.

// interactiveShell is the shell to drive and its arguments: the host's
// bash without readline (input is then edited and echoed by the
// terminal's line discipline, which is what the test wants to exercise,
// and there are no cursor escapes to parse), else busybox sh.
func interactiveShell(t *testing.T) []string {
	if _, err := os.Stat("/bin/bash"); err == nil {
		return []string{"/bin/bash", "--norc", "--noprofile", "--noediting", "-i"}
	}
	needBusybox(t)
	return []string{busybox, "sh", "-i"}
}

// shellEnv is the shell's environment: a prompt easy to find.
var shellEnv = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "TERM=dumb", "PS1=tty-test$ ", "HOME=/tmp"}

// terminal collects what a pty master reads, so that a test can wait for
// output in order without losing what arrived in the same read.
type terminal struct {
	t      *testing.T
	master *os.File

	mu   sync.Mutex
	cond *sync.Cond
	// out is everything read; seen is how much of it expect consumed.
	out  []byte
	seen int
	eof  bool
}

func newTerminal(t *testing.T, master *os.File) *terminal {
	term := &terminal{t: t, master: master}
	term.cond = sync.NewCond(&term.mu)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			term.mu.Lock()
			term.out = append(term.out, buf[:n]...)
			if err != nil {
				term.eof = true
			}
			term.cond.Broadcast()
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return term
}

// send types s.
func (term *terminal) send(s string) {
	term.t.Helper()
	if _, err := term.master.Write([]byte(s)); err != nil {
		term.t.Fatalf("typing %q: %v", s, err)
	}
}

// expect waits up to 20 s for want in the output not yet consumed and
// consumes it.
func (term *terminal) expect(want string) {
	term.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	timer := time.AfterFunc(20*time.Second, func() {
		term.mu.Lock()
		term.cond.Broadcast()
		term.mu.Unlock()
	})
	defer timer.Stop()
	term.mu.Lock()
	defer term.mu.Unlock()
	for {
		if i := strings.Index(string(term.out[term.seen:]), want); i >= 0 {
			term.seen += i + len(want)
			return
		}
		if term.eof || time.Now().After(deadline) {
			term.t.Fatalf("terminal output does not show %q; after the last match it is %q", want, term.out[term.seen:])
		}
		term.cond.Wait()
	}
}

// consumed returns the output expect has gone past.
func (term *terminal) consumed() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return string(term.out[:term.seen])
}

// startJob runs cmd in the foreground after a marker line, and returns
// once the marker was printed and the job had time to be forked and put
// in the foreground.
func (term *terminal) startJob(marker, cmd string) {
	term.t.Helper()
	term.send("echo " + marker + "; " + cmd + "\n")
	term.expect(marker + "\r\n")
	time.Sleep(300 * time.Millisecond)
}

// jobControlSession is what a person does at the shell.
func jobControlSession(t *testing.T, term *terminal) {
	const prompt = "tty-test$ "
	term.expect(prompt)

	// Ctrl-C stops the foreground job; the shell stays.
	term.startJob("job-one", "sleep 100")
	term.send("\x03")
	term.send("echo status=$?\n")
	term.expect("status=130")
	term.expect(prompt)

	// Ctrl-Z stops it; jobs lists it; fg continues it in the foreground,
	// where Ctrl-C ends it.
	term.startJob("job-two", "sleep 100")
	term.send("\x1a")
	term.expect("Stopped")
	term.expect(prompt)
	term.send("jobs\n")
	term.expect("Stopped")
	term.expect("sleep 100")
	term.expect(prompt)
	term.send("echo fg-next; fg\n")
	term.expect("fg-next\r\n")
	term.expect("sleep 100")
	time.Sleep(300 * time.Millisecond)
	term.send("\x03")
	term.send("echo status=$?\n")
	term.expect("status=130")
	term.expect(prompt)
	term.send("jobs; echo jobs-done\n")
	term.expect("jobs-done\r\n")
	if n := strings.Count(term.consumed(), "Stopped"); n != 2 {
		t.Errorf("Stopped shown %d times, want 2 (Ctrl-Z and jobs): the job should be gone", n)
	}

	// /dev/tty is the terminal, for writing and for reading.
	term.send("echo via-dev-tty > /dev/tty\n")
	term.expect("via-dev-tty\r\n")
	term.send("read v < /dev/tty; echo got=$v\n")
	time.Sleep(200 * time.Millisecond)
	term.send("typed\n")
	term.expect("got=typed")
	term.expect(prompt)

	term.send("exit\n")
}

// TestTTYJobControlNative runs the session against the shell on a host
// pty: the reference for what the container must show.
func TestTTYJobControlNative(t *testing.T) {
	argv := interactiveShell(t)
	master, replica := openPty(t)
	defer master.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = shellEnv
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = replica, replica, replica
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	replica.Close()
	defer cmd.Process.Kill()
	jobControlSession(t, newTerminal(t, master))
	if err := cmd.Wait(); err != nil {
		t.Errorf("shell: %v", err)
	}
}

// TestTTYJobControlContainer runs the session in a container with a
// terminal, as `docker run -it` does: runsc run --console-socket.
func TestTTYJobControlContainer(t *testing.T) {
	e := newOCIEnv(t)
	argv := interactiveShell(t)
	b := e.bundle(argv...)
	if argv[0] != busybox {
		// bash and what it runs come from the host, bound read-only
		// (a merged-/usr host's /bin and /lib are links into /usr).
		e.editSpec(b, func(s *specs.Spec) {
			for _, d := range []string{"/usr", "/bin", "/lib", "/lib64", "/sbin"} {
				if _, err := os.Stat(d); err == nil {
					s.Mounts = append(s.Mounts, specs.Mount{Destination: d, Type: "bind", Source: d, Options: []string{"rbind", "ro"}})
				}
			}
		})
	}
	e.editSpec(b, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Env = shellEnv
		s.Process.Cwd = "/"
	})
	sock, masters := consoleSocket(t)
	if r := e.runscFiles("run", "--detach", "--bundle", b, "--console-socket", sock, "ttyjc"); r.code != 0 {
		t.Fatalf("run --detach --console-socket = %+v", r)
	}
	e.trackProcs()
	master, ok := <-masters
	if !ok {
		t.Fatal("no pty master arrived on the console socket")
	}
	defer master.Close()
	jobControlSession(t, newTerminal(t, master))
	waitFor(t, "the container to stop", func() bool {
		r := e.runsc("state", "ttyjc")
		return r.code != 0 || strings.Contains(r.stdout, `"stopped"`)
	})
	e.must("delete", "--force", "ttyjc")
}

// openPty makes a host pty pair.
func openPty(t *testing.T) (master, replica *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no host ptys: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	r, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	return m, r
}
