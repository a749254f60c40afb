package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// busybox is a static binary every test image has; `make deps` installs
// Debian's busybox-static.
const busybox = "/bin/busybox"

func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(busybox); err != nil {
		t.Skipf("%s missing (apt-get install busybox-static): %v", busybox, err)
	}
}

// platforms are the platforms every sandbox test runs on.
var platforms = []string{"systrap", "ptrace"}

func doIn(t *testing.T, platform string, args ...string) result {
	t.Helper()
	return runsc(t, append([]string{"--platform=" + platform, "do"}, args...)...)
}

func TestDoRunsStaticProgram(t *testing.T) {
	needBusybox(t)
	for _, p := range platforms {
		t.Run(p, func(t *testing.T) {
			r := doIn(t, p, busybox, "echo", "hello", "sandbox")
			if r.code != 0 || r.stdout != "hello sandbox\n" {
				t.Errorf("runsc do echo: %+v", r)
			}
		})
	}
}

func TestDoExitStatus(t *testing.T) {
	needBusybox(t)
	for _, p := range platforms {
		t.Run(p, func(t *testing.T) {
			if r := doIn(t, p, busybox, "sh", "-c", "exit 7"); r.code != 7 {
				t.Errorf("exit 7: got %+v", r)
			}
			// runsc do runs a command, not a container's init: signals
			// without a handler take their default action, even from
			// itself (a container's init would ignore them).
			if r := doIn(t, p, busybox, "sh", "-c", "kill -9 $$; echo alive"); r.code != 128+9 || r.stdout != "" {
				t.Errorf("the command killing itself: got %+v, want it killed", r)
			}
			// A child killed by a signal is reported to its parent.
			if r := doIn(t, p, busybox, "sh", "-c", busybox+" sh -c 'kill -9 $$'; echo $?"); r.code != 0 || r.stdout != "137\n" {
				t.Errorf("child killed by SIGKILL: got %+v, want status 137", r)
			}
			if r := doIn(t, p, "/nonexistent/program"); r.code == 0 || !strings.Contains(r.stderr, "/nonexistent/program") {
				t.Errorf("missing program: %+v", r)
			}
		})
	}
}

func TestDoWritesStayInSandbox(t *testing.T) {
	needBusybox(t)
	for _, p := range platforms {
		t.Run(p, func(t *testing.T) {
			name := filepath.Join("/tmp", "appkernel-e2e-"+p)
			os.Remove(name)
			r := doIn(t, p, busybox, "sh", "-c", "echo secret > "+name+" && cat "+name)
			if r.code != 0 || r.stdout != "secret\n" {
				t.Fatalf("write+read inside the sandbox: %+v", r)
			}
			if _, err := os.Stat(name); !os.IsNotExist(err) {
				t.Errorf("a write inside the sandbox reached the host: %v", err)
			}
			// The whole root is writable through the overlay, and the host's
			// copy never changes.
			if r := doIn(t, p, busybox, "sh", "-c", "echo x > /etc/appkernel-e2e && cat /etc/appkernel-e2e && rm /etc/hostname && ! test -e /etc/hostname"); r.code != 0 || r.stdout != "x\n" {
				t.Errorf("writing to the root inside the sandbox: %+v", r)
			}
			if _, err := os.Stat("/etc/appkernel-e2e"); err == nil {
				os.Remove("/etc/appkernel-e2e")
				t.Errorf("a write to the root reached the host")
			}
			if _, err := os.Stat("/etc/hostname"); err != nil {
				t.Errorf("an unlink inside the sandbox reached the host: %v", err)
			}
		})
	}
}

func TestDoPipeline(t *testing.T) {
	needBusybox(t)
	for _, p := range platforms {
		t.Run(p, func(t *testing.T) {
			script := "for i in 1 2 3 4 5; do echo $i; done | " + busybox + " sort -rn | " + busybox + " head -1"
			r := doIn(t, p, busybox, "sh", "-c", script)
			native, err := exec.Command(busybox, "sh", "-c", script).Output()
			if err != nil {
				t.Fatal(err)
			}
			if r.code != 0 || r.stdout != string(native) {
				t.Errorf("pipeline in the sandbox = %+v, natively %q", r, native)
			}
		})
	}
}

func TestDoSignalEndsCommand(t *testing.T) {
	needBusybox(t)
	for _, p := range platforms {
		t.Run(p, func(t *testing.T) {
			cmd := exec.Command(runscPath, "--platform="+p, "do", busybox, "sleep", "100")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			// As timeout(1) or a service manager would stop it.
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("runsc do ignored SIGTERM")
			}
			if code := cmd.ProcessState.ExitCode(); code != 128+15 {
				t.Errorf("runsc do after SIGTERM exited %d, want %d", code, 128+15)
			}
		})
	}
}
