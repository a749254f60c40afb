package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestOCILifecycle(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sh", "-c", "touch /tmp/started; echo started; while :; do sleep 1; done")
	c := e.create("life", b)

	s := e.wantStatus("life", "created")
	if s.Pid != c.pid || s.ID != "life" || s.Bundle != b || s.Rootfs != filepath.Join(b, "rootfs") || s.OCIVersion == "" || s.Created == "" {
		t.Errorf("state after create = %+v, pid file %d", s, c.pid)
	}
	if _, err := time.Parse(time.RFC3339Nano, s.Created); err != nil {
		t.Errorf("created %q: %v", s.Created, err)
	}
	if got := readFile(t, c.stdout); got != "" {
		t.Errorf("the process ran before start: stdout %q", got)
	}
	if r := e.must("ps", "--format", "json", "life"); strings.TrimSpace(r.stdout) != "["+itoa(c.pid)+"]" {
		t.Errorf("ps --format json = %q, want [%d]", r.stdout, c.pid)
	}
	var list []ociState
	if err := json.Unmarshal([]byte(e.must("list", "--format", "json").stdout), &list); err != nil || len(list) != 1 || list[0].ID != "life" || list[0].Status != "created" {
		t.Errorf("list --format json = %+v, %v", list, err)
	}
	if r := e.must("list"); !strings.HasPrefix(r.stdout, "ID ") || !strings.Contains(r.stdout, "life") || !strings.Contains(r.stdout, "created") {
		t.Errorf("list = %q", r.stdout)
	}

	e.must("start", "life")
	e.wantStatus("life", "running")
	waitFor(t, "the container's output", func() bool { return readFile(t, c.stdout) == "started\n" })
	if _, err := os.Stat(filepath.Join(b, "rootfs", "tmp", "started")); err != nil {
		t.Errorf("a write to the writable rootfs did not reach the bundle: %v", err)
	}
	if r := e.runsc("start", "life"); r.code == 0 {
		t.Errorf("second start succeeded")
	}

	// The shell is init with no TERM handler: TERM is ignored, as in a
	// container.
	e.must("kill", "life", "TERM")
	time.Sleep(200 * time.Millisecond)
	e.wantStatus("life", "running")
	if r := e.runsc("delete", "life"); r.code == 0 || !strings.Contains(r.stderr, "running") {
		t.Errorf("delete of a running container without --force: %+v", r)
	}

	e.must("kill", "life", "KILL")
	ws := reapTimeout(t, c.pid, 10*time.Second)
	if !killedBy(ws, syscall.SIGKILL) {
		t.Errorf("reaped sandbox status %#x, want killed by SIGKILL", ws)
	}
	s = e.wantStatus("life", "stopped")
	if s.Pid != 0 {
		t.Errorf("stopped container pid %d, want 0", s.Pid)
	}
	if r := e.must("wait", "life"); !strings.Contains(r.stdout, `"exitStatus":137`) {
		t.Errorf("wait = %q", r.stdout)
	}
	if r := e.runsc("kill", "life", "KILL"); r.code == 0 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("kill of a stopped container: %+v", r)
	}
	if r := e.must("ps", "--format", "json", "life"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("ps of a stopped container = %q", r.stdout)
	}
	e.must("delete", "life")
	e.stateDirGone("life")
	if r := e.runsc("state", "life"); r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("state after delete: %+v", r)
	}
	if r := e.runsc("delete", "--force", "life"); r.code != 0 {
		t.Errorf("delete --force of a deleted container: %+v", r)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// A created container that is killed or deleted never runs, and its
// sandbox goes the way the signal says.
func TestOCIKillAndDeleteCreated(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sh", "-c", "echo ran")
	c := e.create("k", b)
	e.must("kill", "k", "9")
	ws := reapTimeout(t, c.pid, 10*time.Second)
	if !killedBy(ws, syscall.SIGKILL) {
		t.Errorf("sandbox of a killed created container: status %#x", ws)
	}
	e.wantStatus("k", "stopped")
	if r := e.runsc("start", "k"); r.code == 0 {
		t.Errorf("start after kill succeeded: %+v", r)
	}
	e.must("delete", "k")
	e.stateDirGone("k")

	c = e.create("d", b)
	e.must("delete", "d")
	e.stateDirGone("d")
	if ws := reapTimeout(t, c.pid, 10*time.Second); !ws.Signaled() {
		t.Errorf("sandbox of a deleted created container: status %#x", ws)
	}
	if out := readFile(t, c.stdout); out != "" {
		t.Errorf("a container deleted before start ran: %q", out)
	}
}

func TestOCIRunExitCode(t *testing.T) {
	e := newOCIEnv(t)
	for _, tc := range []struct {
		script string
		want   int
	}{{"exit 3", 3}, {"true", 0}, {"exit 255", 255}} {
		b := e.bundle("/bin/sh", "-c", tc.script)
		if r := e.runsc("run", "--bundle", b, "exit"); r.code != tc.want {
			t.Errorf("run %q: %+v, want exit %d", tc.script, r, tc.want)
		}
		// run deletes the container after it exits.
		e.stateDirGone("exit")
	}

	// Killed from outside: 128+9.
	b := e.bundle("/bin/sh", "-c", "echo up; touch /tmp/up; while :; do sleep 1; done")
	done := make(chan result, 1)
	go func() { done <- e.runsc("run", "--bundle", b, "victim") }()
	waitFor(t, "the container to run", func() bool {
		_, err := os.Stat(filepath.Join(b, "rootfs", "tmp", "up"))
		return err == nil
	})
	e.must("kill", "victim", "SIGKILL")
	select {
	case r := <-done:
		if r.code != 137 || r.stdout != "up\n" {
			t.Errorf("run killed by SIGKILL: %+v, want exit 137 after \"up\"", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after kill")
	}
	e.stateDirGone("victim")

	// --detach returns at once, leaving the container running.
	b = e.bundle("/bin/sh", "-c", "while :; do sleep 1; done")
	// Its stdio must be files: the container holds them after run exits.
	if r := e.runscFiles("run", "--detach", "--bundle", b, "bg"); r.code != 0 {
		t.Fatalf("run --detach: %+v", r)
	}
	e.trackProcs()
	e.wantStatus("bg", "running")
	e.must("delete", "--force", "bg")
	e.stateDirGone("bg")
}

// The shim learns the exit code by reaping the pid file's process.
func TestOCIKillTrapExitCode(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sh", "-c", `trap "exit 7" TERM; echo ready; while :; do sleep 1; done`)
	c := e.create("trap", b)
	e.must("start", "trap")
	waitFor(t, "the trap to be set", func() bool { return readFile(t, c.stdout) == "ready\n" })
	e.must("kill", "trap") // TERM by default
	ws := reapTimeout(t, c.pid, 10*time.Second)
	if !ws.Exited() || ws.ExitStatus() != 7 {
		t.Errorf("reaped sandbox status %#x, want exit 7", ws)
	}
	e.wantStatus("trap", "stopped")
	if r := e.must("wait", "trap"); !strings.Contains(r.stdout, `"exitStatus":7`) {
		t.Errorf("wait after exit = %q", r.stdout)
	}
	e.must("delete", "trap")
	e.stateDirGone("trap")
}

// wait blocks while the container runs, and reports its exit code.
func TestOCIWaitWhileRunning(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sh", "-c", "sleep 2; exit 5")
	c := e.create("w", b)
	e.must("start", "w")
	done := make(chan result, 1)
	go func() { done <- e.runsc("wait", "w") }()
	select {
	case r := <-done:
		t.Fatalf("wait returned while the container runs: %+v", r)
	case <-time.After(500 * time.Millisecond):
	}
	// kill and state must not be locked out by the waiter.
	e.must("kill", "w", "USR2")
	e.wantStatus("w", "running")
	select {
	case r := <-done:
		if r.code != 0 || !strings.Contains(r.stdout, `"exitStatus":5`) {
			t.Errorf("wait = %+v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("wait did not return")
	}
	if ws := reapTimeout(t, c.pid, 10*time.Second); !ws.Exited() || ws.ExitStatus() != 5 {
		t.Errorf("reaped status %#x, want exit 5", ws)
	}
	e.must("delete", "w")
}

func TestOCIDeleteForceRunning(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sh", "-c", "while :; do sleep 1; done")
	c := e.create("f", b)
	e.must("start", "f")
	if len(e.procsOfRoot()) != 2 {
		t.Errorf("want a sandbox and a gofer, found processes %v", e.procsOfRoot())
	}
	e.must("delete", "--force", "f")
	e.stateDirGone("f")
	if left := e.procsOfRoot(); len(left) != 0 {
		t.Errorf("processes left after delete --force: %v", left)
	}
	if ws := reapTimeout(t, c.pid, 10*time.Second); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("sandbox status after delete --force: %#x", ws)
	}
	if r := e.runsc("delete", "--force", "f"); r.code != 0 {
		t.Errorf("delete --force of a gone container: %+v", r)
	}
	if r := e.runsc("delete", "--force", "never-existed"); r.code != 0 {
		t.Errorf("delete --force of an unknown id: %+v", r)
	}
}

// An outside SIGKILL of the sandbox is seen by state without any runsc
// call in between.
func TestOCISandboxKilledFromOutside(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sh", "-c", "while :; do sleep 1; done")
	c := e.create("ext", b)
	e.must("start", "ext")
	syscall.Kill(c.pid, syscall.SIGKILL)
	reapTimeout(t, c.pid, 10*time.Second)
	e.wantStatus("ext", "stopped")
	if r := e.runsc("kill", "ext", "TERM"); r.code == 0 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("kill after the sandbox died: %+v", r)
	}
	e.must("delete", "ext")
	waitFor(t, "the gofer to exit", func() bool { return len(e.procsOfRoot()) == 0 })
}

func TestOCIBadInput(t *testing.T) {
	e := newOCIEnv(t)
	good := e.bundle("/bin/true")
	nothingLeft := func(what string) {
		t.Helper()
		ents, _ := os.ReadDir(e.root)
		if len(ents) != 0 {
			t.Errorf("%s: state left under --root: %v", what, ents)
		}
		if p := e.procsOfRoot(); len(p) != 0 {
			t.Errorf("%s: processes left: %v", what, p)
		}
	}
	fail := func(what, wantMsg string, r result) {
		t.Helper()
		if r.code == 0 || !strings.Contains(r.stderr, wantMsg) {
			t.Errorf("%s: %+v, want failure mentioning %q", what, r, wantMsg)
		}
		nothingLeft(what)
	}

	malformed := e.bundle("/bin/true")
	os.WriteFile(filepath.Join(malformed, "config.json"), []byte(`{"ociVersion": `), 0o644)
	_, r := e.tryCreate("bad", malformed)
	fail("malformed config.json", "config.json", r)

	noRootfs := e.bundle("/bin/true")
	os.RemoveAll(filepath.Join(noRootfs, "rootfs"))
	_, r = e.tryCreate("bad", noRootfs)
	fail("missing rootfs", "root file system", r)

	noProgram := e.bundle("/bin/no-such-program")
	_, r = e.tryCreate("bad", noProgram)
	fail("missing program", "no-such-program", r)

	_, r = e.tryCreate("../escape", good)
	fail("bad id", "invalid container id", r)
	_, r = e.tryCreate("a b", good)
	fail("bad id", "invalid container id", r)

	for _, args := range [][]string{{"state", "nope"}, {"kill", "nope", "9"}, {"delete", "nope"}, {"start", "nope"}, {"wait", "nope"}, {"ps", "nope"}} {
		fail(strings.Join(args, " "), "does not exist", e.runsc(args...))
	}
	fail("unknown flag", "flag", e.runsc("create", "--no-such-flag", "x"))
	fail("missing id", "container id", e.runsc("state"))

	// Duplicate id: the first container is untouched.
	c := e.create("dup", good)
	_, r = e.tryCreate("dup", good)
	if r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("duplicate id: %+v", r)
	}
	e.wantStatus("dup", "created")
	if r := e.runsc("kill", "dup", "SIGNOPE"); r.code == 0 || !strings.Contains(r.stderr, "unknown signal") {
		t.Errorf("bad signal name: %+v", r)
	}
	if r := e.runsc("kill", "dup", "0x9"); r.code == 0 {
		t.Errorf("bad signal: %+v", r)
	}
	e.wantStatus("dup", "created")
	e.must("delete", "dup")
	reapTimeout(t, c.pid, 10*time.Second)
	nothingLeft("after deleting dup")
}

func TestOCIConcurrentContainers(t *testing.T) {
	e := newOCIEnv(t)
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		b := e.bundle("/bin/sh", "-c", "sleep 1; exit "+itoa(10+i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.runsc("run", "--bundle", b, "c"+itoa(i)).code
		}()
	}
	// While they run, each is listed on its own.
	waitFor(t, "three running containers", func() bool {
		return strings.Count(e.runsc("list").stdout, "running") == 3
	})
	wg.Wait()
	for i, code := range codes {
		if code != 10+i {
			t.Errorf("container c%d exited %d, want %d", i, code, 10+i)
		}
	}
	if r := e.must("list", "-q"); r.stdout != "" {
		t.Errorf("containers left after run: %q", r.stdout)
	}
}

func TestOCIRootIsolation(t *testing.T) {
	a, other := newOCIEnv(t), newOCIEnv(t)
	c := a.create("same", a.bundle("/bin/true"))
	if r := other.runsc("state", "same"); r.code == 0 {
		t.Errorf("a container of another --root is visible: %+v", r)
	}
	if r := other.runsc("list", "-q"); r.stdout != "" {
		t.Errorf("list in another --root: %q", r.stdout)
	}
	// The same id in another root is another container.
	c2 := other.create("same", other.bundle("/bin/true"))
	a.must("delete", "same")
	other.wantStatus("same", "created")
	other.must("delete", "same")
	reapTimeout(t, c.pid, 10*time.Second)
	reapTimeout(t, c2.pid, 10*time.Second)
}

// root.readonly makes the rootfs refuse writes; bind mounts reach the
// host, read-only ones refuse writes.
func TestOCIRootfsAndMounts(t *testing.T) {
	e := newOCIEnv(t)
	hostDir, roDir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(roDir, "in"), []byte("from host\n"), 0o644)
	b := e.bundle("/bin/sh", "-c", "echo hi > /data/out && cat /ro/in && ! touch /ro/x && ! touch /newfile && echo ok")
	e.editSpec(b, func(s *specs.Spec) {
		s.Root.Readonly = true
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data", Type: "bind", Source: hostDir, Options: []string{"rbind", "rw"}},
			specs.Mount{Destination: "/ro", Type: "none", Source: roDir, Options: []string{"bind", "ro"}})
	})
	r := e.runsc("run", "--bundle", b, "mounts")
	if r.code != 0 || r.stdout != "from host\nok\n" {
		t.Errorf("run with mounts: %+v", r)
	}
	if got, _ := os.ReadFile(filepath.Join(hostDir, "out")); string(got) != "hi\n" {
		t.Errorf("write through the bind mount: host sees %q", got)
	}
	if _, err := os.Stat(filepath.Join(roDir, "x")); err == nil {
		t.Errorf("write through a read-only bind mount reached the host")
	}
	if _, err := os.Stat(filepath.Join(b, "rootfs", "newfile")); err == nil {
		t.Errorf("write to a read-only rootfs reached the host")
	}
}

func TestOCIGoferKilledFromOutside(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sh", "-c", "while :; do cat /bin/busybox > /dev/null; sleep 0.1; done")
	c := e.create("gk", b)
	e.must("start", "gk")
	var gofer int
	for _, pid := range e.procsOfRoot() {
		if cmd, _ := os.ReadFile("/proc/" + itoa(pid) + "/cmdline"); strings.HasPrefix(string(cmd), "runsc-gofer\x00") {
			gofer = pid
		}
	}
	if gofer == 0 {
		t.Fatal("no gofer process")
	}
	syscall.Kill(gofer, syscall.SIGKILL)
	// The container is killed: the engine reaping the sandbox sees a
	// failed exit.
	if ws := reapTimeout(t, c.pid, 10*time.Second); !killedBy(ws, syscall.SIGKILL) {
		t.Errorf("sandbox status after its gofer died: %#x, want killed", ws)
	}
	e.wantStatus("gk", "stopped")
	e.must("delete", "gk")
	e.stateDirGone("gk")
}
