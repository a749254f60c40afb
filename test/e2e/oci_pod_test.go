package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// podSpec marks a bundle as a pod's container joining sandbox, as
// containerd's CRI plugin does.
func podSpec(sandbox string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		if sandbox == "" {
			s.Annotations["io.kubernetes.cri.container-type"] = "sandbox"
			return
		}
		s.Annotations["io.kubernetes.cri.container-type"] = "container"
		s.Annotations["io.kubernetes.cri.sandbox-id"] = sandbox
	}
}

func TestOCITwoContainersOneSandbox(t *testing.T) {
	e := newOCIEnv(t)
	pause := e.bundle("/bin/sleep", "1000")
	e.editSpec(pause, podSpec(""))
	p := e.create("pod", pause)
	e.must("start", "pod")

	app := e.bundle("/bin/sh", "-c", "echo app-says-hi; echo from-app > /tmp/mine; while :; do sleep 0.1; done")
	e.editSpec(app, podSpec("pod"))
	a := e.create("app", app)
	if a.pid == p.pid {
		t.Fatalf("the joining container's pid file names the sandbox")
	}
	e.wantStatus("app", "created")
	e.must("start", "app")
	e.wantStatus("app", "running")
	waitFor(t, "the app's output", func() bool { return readFile(t, a.stdout) == "app-says-hi\n" })

	// One sandbox: no second Sentry was started.
	n := 0
	for _, pid := range e.procsOfRoot() {
		if cmd, _ := os.ReadFile("/proc/" + itoa(pid) + "/cmdline"); strings.HasPrefix(string(cmd), "runsc-sandbox\x00") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d sandbox processes for a pod of two containers, want 1", n)
	}
	// Each has its own root file system and PID namespace; exec reaches
	// the right one.
	if _, err := os.Stat(filepath.Join(app, "rootfs", "tmp", "mine")); err != nil {
		t.Errorf("the app wrote to the wrong root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(pause, "rootfs", "tmp", "mine")); err == nil {
		t.Errorf("the app's write reached the pod sandbox's root")
	}
	if r := e.runsc("exec", "app", "/bin/cat", "/tmp/mine"); r.code != 0 || r.stdout != "from-app\n" {
		t.Errorf("exec in the app = %+v", r)
	}
	if r := e.runsc("exec", "app", "/bin/sh", "-c", "echo $$"); r.code != 0 || strings.TrimSpace(r.stdout) == "1" {
		t.Errorf("exec'd shell pid = %+v, want a pid beside the app's init (1)", r)
	}
	if r := e.runsc("exec", "pod", "/bin/cat", "/tmp/mine"); r.code == 0 {
		t.Errorf("the sandbox container sees the app's file: %+v", r)
	}
	if r := e.runsc("pause", "app"); r.code == 0 {
		t.Errorf("pausing a pod member alone succeeded")
	}

	// Killing the app ends only the app; its waiter exits as it did.
	e.must("kill", "app", "KILL")
	if ws := reapTimeout(t, a.pid, 10*time.Second); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the app's waiter status %#x, want killed by SIGKILL", ws)
	}
	e.wantStatus("app", "stopped")
	e.wantStatus("pod", "running")
	e.must("delete", "app")
	e.stateDirGone("app")

	// A second member, deleted while running, and one whose sandbox
	// goes away.
	app2 := e.bundle("/bin/sleep", "1000")
	e.editSpec(app2, podSpec("pod"))
	b := e.create("app2", app2)
	e.must("start", "app2")
	e.must("delete", "--force", "pod")
	if ws := reapTimeout(t, b.pid, 10*time.Second); !killedBy(ws, syscall.SIGKILL) {
		t.Errorf("a member's waiter after its sandbox went: %#x", ws)
	}
	e.wantStatus("app2", "stopped")
	e.must("delete", "app2")

	// Joining a sandbox that does not exist fails cleanly.
	lost := e.bundle("/bin/true")
	e.editSpec(lost, podSpec("nosuchpod"))
	if _, r := e.tryCreate("lost", lost); r.code == 0 || !strings.Contains(r.stderr, "nosuchpod") {
		t.Errorf("joining a missing sandbox = %+v", r)
	}
	e.stateDirGone("lost")
}
