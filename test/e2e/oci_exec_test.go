package e2e

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// startSleeper creates and starts a container whose init sleeps.
func (e *ociEnv) startSleeper(id string) *created {
	e.t.Helper()
	b := e.bundle("/bin/sh", "-c", "while :; do sleep 1; done")
	c := e.create(id, b)
	e.must("start", id)
	return c
}

func TestOCIExec(t *testing.T) {
	e := newOCIEnv(t)
	e.startSleeper("ex")

	// Non-detached: output, environment, cwd, user and exit code.
	r := e.runsc("exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "1000:1001", "ex",
		"/bin/sh", "-c", `echo "$FOO $(pwd) $(id -u):$(id -g)"; exit 7`)
	if r.code != 7 || r.stdout != "bar /tmp 1000:1001\n" {
		t.Errorf("exec = %+v, want exit 7 and %q", r, "bar /tmp 1000:1001\n")
	}
	// A process killed by a signal: 128+N.
	if r := e.runsc("exec", "ex", "/bin/sh", "-c", "kill -9 $$"); r.code != 128+9 {
		t.Errorf("exec of a process that kills itself: %+v, want exit %d", r, 128+9)
	}
	// An unknown program fails the exec, not the container.
	if r := e.runsc("exec", "ex", "/no/such/program"); r.code == 0 || !strings.Contains(r.stderr, "no/such/program") {
		t.Errorf("exec of a missing program = %+v", r)
	}
	e.wantStatus("ex", "running")

	// --process FILE, as engines send it.
	proc := specs.Process{Args: []string{"/bin/sh", "-c", "echo from-process-file; exit 4"}, Cwd: "/", Env: []string{"PATH=/bin"}}
	data, _ := json.Marshal(proc)
	pf := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(pf, data, 0o644)
	if r := e.runsc("exec", "--process", pf, "ex"); r.code != 4 || r.stdout != "from-process-file\n" {
		t.Errorf("exec --process = %+v", r)
	}

	// --detach --pid-file: the pid is a process we reap (as subreaper),
	// alive while the exec'd process runs and exiting as it did.
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	r = e.runscFiles("exec", "--detach", "--pid-file", pidFile, "ex", "/bin/sh", "-c", "sleep 1; exit 5")
	if r.code != 0 {
		t.Fatalf("exec --detach = %+v", r)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(data))
	if err != nil {
		t.Fatalf("pid file %q: %v", data, err)
	}
	if ws := reapTimeout(t, pid, 20*time.Second); !ws.Exited() || ws.ExitStatus() != 5 {
		t.Errorf("detached exec process status = %v, want exit 5", ws)
	}

	// Signals sent to the waiting exec reach the process.
	cmd := exec.Command(runscPath, "--root", e.root, "--platform=ptrace", "exec", "ex", "/bin/sh", "-c", "trap 'exit 42' TERM; while :; do sleep 0.1; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 42 {
		t.Errorf("exec after SIGTERM exited %d, want 42 (the trap's)", code)
	}

	e.must("delete", "--force", "ex")
	if r := e.runsc("exec", "ex", "/bin/true"); r.code == 0 {
		t.Errorf("exec into a deleted container succeeded")
	}
}

func TestOCIExecIntoCreatedFails(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sleep", "100")
	e.create("exc", b)
	if r := e.runsc("exec", "exc", "/bin/true"); r.code == 0 || !strings.Contains(r.stderr, "created") {
		t.Errorf("exec into a created container = %+v", r)
	}
	e.must("delete", "--force", "exc")
}

// consoleSocket listens where runsc sends a pty master and returns what
// arrives.
func consoleSocket(t *testing.T) (string, <-chan *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *os.File, 1)
	go func() {
		defer ln.Close()
		conn, err := ln.AcceptUnix()
		if err != nil {
			close(ch)
			return
		}
		defer conn.Close()
		buf := make([]byte, 64)
		oob := make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			close(ch)
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			if fds, err := unix.ParseUnixRights(&m); err == nil && len(fds) == 1 {
				ch <- os.NewFile(uintptr(fds[0]), "master")
				return
			}
		}
		close(ch)
	}()
	return path, ch
}

// readUntil reads f until want shows up or the time is over.
func readUntil(t *testing.T, f *os.File, want string) string {
	t.Helper()
	var got []byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for !strings.Contains(string(got), want) {
			n, err := f.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil && err != io.EOF {
				return
			}
			if n == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		f.Close()
		<-done
		t.Errorf("terminal output %q does not contain %q", got, want)
	}
	return string(got)
}

func TestOCITerminal(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sh", "-c", "echo init-says-hello; while :; do sleep 1; done")
	e.editSpec(b, func(s *specs.Spec) { s.Process.Terminal = true })

	// Without a socket, a detached terminal has nowhere to go.
	if _, r := e.tryCreate("tty-nosock", b); r.code == 0 || !strings.Contains(r.stderr, "console-socket") {
		t.Errorf("create with terminal and no --console-socket = %+v", r)
	}
	e.stateDirGone("tty-nosock")

	sock, masters := consoleSocket(t)
	r := e.runscFiles("create", "--bundle", b, "--console-socket", sock, "tty")
	e.trackProcs()
	if r.code != 0 {
		t.Fatalf("create --console-socket = %+v", r)
	}
	master, ok := <-masters
	if !ok {
		t.Fatal("no pty master arrived on the console socket")
	}
	defer master.Close()
	e.must("start", "tty")
	// The pty turns "\n" into "\r\n" on output: a real terminal.
	readUntil(t, master, "init-says-hello\r\n")

	sock2, masters2 := consoleSocket(t)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	if r := e.runscFiles("exec", "--detach", "--tty", "--console-socket", sock2, "--pid-file", pidFile, "tty", "/bin/sh", "-c", "echo exec-says-hello; exit 3"); r.code != 0 {
		t.Fatalf("exec --tty = %+v", r)
	}
	m2, ok := <-masters2
	if !ok {
		t.Fatal("no pty master arrived for exec --tty")
	}
	defer m2.Close()
	readUntil(t, m2, "exec-says-hello\r\n")
	data, _ := os.ReadFile(pidFile)
	if pid, err := strconv.Atoi(string(data)); err != nil {
		t.Errorf("exec pid file %q", data)
	} else if ws := reapTimeout(t, pid, 20*time.Second); ws.ExitStatus() != 3 {
		t.Errorf("exec --tty exit status %v, want 3", ws)
	}
	e.must("delete", "--force", "tty")
}

func TestOCITerminalJobControl(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sh", "-i")
	e.editSpec(b, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Env = append(s.Process.Env, "PS1=$ ")
	})
	sock, masters := consoleSocket(t)
	if r := e.runscFiles("create", "--bundle", b, "--console-socket", sock, "jc"); r.code != 0 {
		t.Fatalf("create = %+v", r)
	}
	e.trackProcs()
	master, ok := <-masters
	if !ok {
		t.Fatal("no pty master")
	}
	defer master.Close()
	e.must("start", "jc")
	readUntil(t, master, "$ ")
	// Ctrl-C typed at the terminal interrupts the foreground job only:
	// the interactive shell lives on.
	master.Write([]byte("sleep 100\n"))
	time.Sleep(500 * time.Millisecond)
	master.Write([]byte{3})
	master.Write([]byte("echo status=$?\n"))
	readUntil(t, master, "status=130")
	// A window size change reaches the shell's foreground job.
	master.Write([]byte("stty size\n"))
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 111})
	master.Write([]byte("stty size\n"))
	readUntil(t, master, "33 111")
	master.Write([]byte("exit 0\n"))
	e.must("delete", "--force", "jc")
}
