package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// These tests drive runsc as a container engine does (CONTRACT.md): the
// sandbox process named by the pid file is reaped by the caller, which is
// a child subreaper like containerd's shim and conmon.

func init() {
	// Orphaned sandbox and gofer processes come to us, so that the tests
	// reap them as an engine would (PID 1 here does not reap).
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("OCI lifecycle tests need root")
	}
	needBusybox(t)
}

// ociEnv is one --root with its containers.
type ociEnv struct {
	t    *testing.T
	root string
	// pids are the sandbox and gofer processes seen, reaped at cleanup.
	mu   sync.Mutex
	pids map[int]bool
	// mounts is the host's mount table when the test began.
	mounts string
	// debugLog, if set, is the --debug-log every runsc call gets.
	debugLog string
}

// global is the global flags of every runsc call.
func (e *ociEnv) global() []string {
	g := []string{"--root", e.root, "--platform=ptrace"}
	if e.debugLog != "" {
		g = append(g, "--debug-log", e.debugLog)
	}
	return g
}

func newOCIEnv(t *testing.T) *ociEnv {
	needRoot(t)
	e := &ociEnv{t: t, root: filepath.Join(t.TempDir(), "state root"), pids: map[int]bool{}, mounts: hostMounts()}
	t.Cleanup(e.cleanup)
	return e
}

// runsc runs a runsc command against this root on the ptrace platform.
func (e *ociEnv) runsc(args ...string) result {
	e.t.Helper()
	return runsc(e.t, append(e.global(), args...)...)
}

// bundle writes a bundle whose rootfs holds busybox, running argv.
func (e *ociEnv) bundle(argv ...string) string {
	e.t.Helper()
	dir := e.t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "dev", "proc", "tmp", "data", "ro"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), bb, 0o755); err != nil {
		e.t.Fatal(err)
	}
	for _, l := range []string{"sh", "echo", "sleep", "cat", "ls", "true", "kill", "touch", "id", "pwd", "stty"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", l)); err != nil {
			e.t.Fatal(err)
		}
	}
	if r := runsc(e.t, append([]string{"spec", "--bundle", dir, "--"}, argv...)...); r.code != 0 {
		e.t.Fatalf("runsc spec: %+v", r)
	}
	e.editSpec(dir, func(s *specs.Spec) {
		s.Process.Terminal = false
		s.Root.Readonly = false
	})
	return dir
}

// runscFiles is runsc with stdout and stderr in files, for commands that
// leave a container holding them (create, run --detach).
func (e *ociEnv) runscFiles(args ...string) result {
	e.t.Helper()
	dir := e.t.TempDir()
	var files [2]*os.File
	for i := range files {
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)))
		if err != nil {
			e.t.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	cmd := exec.Command(runscPath, append(e.global(), args...)...)
	cmd.Stdout, cmd.Stderr = files[0], files[1]
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	out, _ := os.ReadFile(files[0].Name())
	errOut, _ := os.ReadFile(files[1].Name())
	return result{string(out), string(errOut), code}
}

func (e *ociEnv) editSpec(bundle string, edit func(*specs.Spec)) {
	e.t.Helper()
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		e.t.Fatal(err)
	}
	edit(&s)
	if data, err = json.Marshal(&s); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// created is a container made by create, with its stdout and stderr in
// files (pipes would keep create's caller waiting for their EOF, which
// comes only when the container exits).
type created struct {
	id, bundle     string
	pid            int
	stdout, stderr string
}

// create runs `runsc create` and returns the sandbox pid from the pid file.
func (e *ociEnv) create(id, bundle string) *created {
	e.t.Helper()
	c, r := e.tryCreate(id, bundle)
	if r.code != 0 {
		e.t.Fatalf("runsc create %s: %+v", id, r)
	}
	return c
}

func (e *ociEnv) tryCreate(id, bundle string) (*created, result) {
	e.t.Helper()
	dir := e.t.TempDir()
	c := &created{id: id, bundle: bundle, stdout: filepath.Join(dir, "stdout"), stderr: filepath.Join(dir, "stderr")}
	pidFile := filepath.Join(dir, "pid")
	out, err := os.Create(c.stdout)
	if err != nil {
		e.t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.Create(c.stderr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer errf.Close()
	cmd := exec.Command(runscPath, append(e.global(), "create", "--bundle", bundle, "--pid-file", pidFile, id)...)
	cmd.Stdout, cmd.Stderr = out, errf
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	e.trackProcs()
	msg, _ := os.ReadFile(c.stderr)
	r := result{stderr: string(msg), code: code}
	if code != 0 {
		return c, r
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		e.t.Fatalf("pid file after create: %v", err)
	}
	if strings.TrimSpace(string(data)) != string(data) {
		e.t.Errorf("pid file %q has whitespace", data)
	}
	if c.pid, err = strconv.Atoi(string(data)); err != nil {
		e.t.Fatalf("pid file %q: %v", data, err)
	}
	return c, r
}

// procsOfRoot lists live processes whose command line names this root:
// every sandbox and gofer runsc started for it.
func (e *ociEnv) procsOfRoot() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.Contains(string(cmdline), "\x00"+e.root+"\x00") {
			continue
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if i := strings.LastIndexByte(string(st), ')'); i > 0 && strings.HasPrefix(string(st[i+1:]), " Z") {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

func (e *ociEnv) trackProcs() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, pid := range e.procsOfRoot() {
		e.pids[pid] = true
	}
}

// cleanup checks that the test left nothing of runsc's behind (process,
// state directory, host mount), kills whatever process is left and reaps
// every process seen. (TestOCICgroups checks cgroups: a sandbox process
// its caller has not reaped keeps its cgroup busy, as with runc.)
func (e *ociEnv) cleanup() {
	for _, pid := range e.procsOfRoot() {
		e.t.Errorf("process %d of this test's root still alive at cleanup", pid)
		syscall.Kill(pid, syscall.SIGKILL)
		e.pids[pid] = true
	}
	for pid := range e.pids {
		reap(pid)
	}
	if ents, err := os.ReadDir(e.root); err == nil {
		for _, ent := range ents {
			if ent.IsDir() {
				e.t.Errorf("state directory %s left at cleanup", ent.Name())
			}
		}
	}
	if now := hostMounts(); now != e.mounts {
		e.t.Errorf("the host's mount table changed during the test:\nbefore:\n%s\nafter:\n%s", e.mounts, now)
	}
}

// hostMounts is the host's mount table, mount points and types only.
func hostMounts() string {
	data, _ := os.ReadFile("/proc/self/mounts")
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			out = append(out, f[1]+" "+f[2])
		}
	}
	return strings.Join(out, "\n")
}

// reap waits for pid, our child (directly or as subreaper), and returns
// its status; ok is false when it was reaped already.
func reap(pid int) (ws syscall.WaitStatus, ok bool) {
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		return ws, err == nil
	}
}

// reapTimeout waits for pid at most d.
func reapTimeout(t *testing.T, pid int, d time.Duration) syscall.WaitStatus {
	t.Helper()
	done := make(chan syscall.WaitStatus, 1)
	go func() {
		ws, ok := reap(pid)
		if !ok {
			t.Errorf("pid %d: not our child, or reaped already", pid)
		}
		done <- ws
	}()
	select {
	case ws := <-done:
		return ws
	case <-time.After(d):
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("pid %d did not exit within %v", pid, d)
		return 0
	}
}

type ociState struct {
	OCIVersion, ID, Status, Bundle, Rootfs, Created, Owner string
	Pid                                                    int
}

func (e *ociEnv) state(id string) ociState {
	e.t.Helper()
	r := e.runsc("state", id)
	if r.code != 0 {
		e.t.Fatalf("runsc state %s: %+v", id, r)
	}
	var s ociState
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		e.t.Fatalf("state output %q: %v", r.stdout, err)
	}
	return s
}

func (e *ociEnv) wantStatus(id, want string) ociState {
	e.t.Helper()
	s := e.state(id)
	if s.Status != want {
		e.t.Errorf("state %s: status %q, want %q (%+v)", id, s.Status, want, s)
	}
	return s
}

func (e *ociEnv) must(args ...string) result {
	e.t.Helper()
	r := e.runsc(args...)
	if r.code != 0 {
		e.t.Fatalf("runsc %v: %+v", args, r)
	}
	return r
}

func (e *ociEnv) stateDirGone(id string) {
	e.t.Helper()
	if _, err := os.Stat(filepath.Join(e.root, id)); !os.IsNotExist(err) {
		e.t.Errorf("state directory of %s still there: %v", id, err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// killedBy reports whether a sandbox process's status says its container
// died of sig: killed by sig, or exited with 128+sig, which is all a
// sandbox that is PID 1 of its own namespace can do (it cannot kill
// itself), and which engines read the same way.
func killedBy(ws syscall.WaitStatus, sig syscall.Signal) bool {
	return (ws.Signaled() && ws.Signal() == sig) || (ws.Exited() && ws.ExitStatus() == 128+int(sig))
}
