package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The engine tests bring up Docker, containerd and Podman with
// ../shared/engines/setup-engines.sh (see its CONTRACT.md), each wired to
// the runsc under test, and drive containers through them as users do.

// enginesScript finds setup-engines.sh beside the repository.
func enginesScript(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	for d := wd; d != "/"; d = filepath.Dir(d) {
		p := filepath.Join(d, "..", "shared", "engines", "setup-engines.sh")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("engine tests: ../shared/engines/setup-engines.sh not found beside the repository")
	return ""
}

// engines is a set of running daemons under one directory.
type engines struct {
	// t is the running (sub)test; top the engines' own, which outlives
	// the subtests and does the cleanup.
	t, top *testing.T
	// cgroups are the containers' cgroups that existed before the test.
	cgroups map[string]bool
	script  string
	dir     string
	env     []string
}

func startEngines(t *testing.T) *engines {
	needRoot(t)
	script := enginesScript(t)
	// Short: daemons' unix socket paths must fit in sockaddr_un.
	dir, err := os.MkdirTemp("/tmp", "eng")
	if err != nil {
		t.Fatal(err)
	}
	e := &engines{t: t, top: t, script: script, dir: dir, cgroups: engineCgroups()}
	// containerd finds containerd-shim-runsc-v1 on its PATH.
	e.env = append(os.Environ(), "PATH="+filepath.Dir(runscPath)+":"+os.Getenv("PATH"), "E="+dir, "RT="+runscPath,
		"DOCKER_HOST=unix://"+dir+"/docker/docker.sock",
		"CONTAINERS_CONF="+dir+"/podman/containers.conf",
		"CONTAINERS_STORAGE_CONF="+dir+"/podman/storage.conf")
	need := false
	for _, bin := range []string{"dockerd", "containerd", "ctr", "podman", "conmon", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			need = true
		}
	}
	if need {
		e.script1(10*time.Minute, "install")
	}
	t.Cleanup(e.stop)
	e.debianRootfs()
	e.script1(2*time.Minute, "rootfs")
	e.script1(3*time.Minute, "start")
	return e
}

// debianCache keeps a debootstrapped Debian between runs: making one
// takes minutes and the network, copying it a second.
const debianCache = "/var/cache/appkernel-e2e/rootfs-debian"

// debianRootfs puts a Debian root file system where setup-engines.sh
// looks for one (it then imports it as local/debian:bookworm).
func (e *engines) debianRootfs() {
	e.t.Helper()
	if _, err := os.Stat(filepath.Join(debianCache, "usr")); err != nil {
		if _, err := exec.LookPath("debootstrap"); err != nil {
			e.t.Fatalf("debootstrap is missing: %v", err)
		}
		tmp := debianCache + ".tmp"
		os.RemoveAll(tmp)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "bookworm", tmp).CombinedOutput(); err != nil {
			e.t.Fatalf("debootstrap: %v\n%s", err, out)
		}
		if err := os.Rename(tmp, debianCache); err != nil {
			e.t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", "-a", debianCache, filepath.Join(e.dir, "rootfs-debian")).CombinedOutput(); err != nil {
		e.t.Fatalf("copying the Debian rootfs: %v\n%s", err, out)
	}
	e.env = append(e.env, "DEBIAN_IMAGE=1")
}

func (e *engines) script1(timeout time.Duration, arg string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", e.script, arg)
	cmd.Env = e.env
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("setup-engines.sh %s: %v\n%s", arg, err, out)
	}
}

// stop stops the daemons, checks that nothing of runsc's is left, and
// removes the directory.
func (e *engines) stop() {
	cmd := exec.Command("bash", e.script, "stop")
	cmd.Env = e.env
	cmd.Run()
	// A sandbox or gofer of a container the engines ran (their state
	// roots: under dir for Docker, containerd's and runsc's defaults for
	// ctr and Podman) that outlives them is a leak. Other tests' runsc
	// processes may run meanwhile: they use other roots.
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		exe, err := os.Readlink("/proc/" + ent.Name() + "/exe")
		if err != nil || exe != runscPath {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		args := string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		// Containers' processes are named so; `runsc do`'s are not.
		container := strings.HasPrefix(args, "runsc-sandbox ") || strings.HasPrefix(args, "runsc-gofer ")
		if container && (strings.Contains(args, e.dir) || strings.Contains(args, "/run/containerd/") || strings.Contains(args, "/var/run/runsc")) {
			e.top.Errorf("runsc process %s left after the engines stopped: %q", ent.Name(), args)
		}
	}
	// runsc delete removes each container's cgroup (Docker's /docker/ID,
	// Podman's libpod_parent/libpod-ID, ctr's /NAMESPACE/ID).
	for dir := range engineCgroups() {
		if !e.cgroups[dir] {
			e.top.Errorf("cgroup %s left after the engines stopped", dir)
		}
	}
	unmountUnder(e.dir)
	os.RemoveAll(e.dir)
}

// unmountUnder detaches every mount at or below dir, deepest first:
// dockerd leaves its bind mount of the host's network namespace
// (exec-root/netns/default) behind when it stops.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		unix.Unmount(points[i], unix.MNT_DETACH)
	}
}

// run runs an engine CLI command and returns its combined output and
// exit code.
func (e *engines) run(timeout time.Duration, name string, args ...string) (string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = e.env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("%s %v: %v", name, args, err)
	}
	if ctx.Err() != nil {
		e.t.Errorf("%s %v: timed out after %v; output %q", name, args, timeout, out)
	}
	return string(out), code
}

// want runs a command and checks its exit code and that its output
// contains wantOut.
func (e *engines) want(code int, wantOut string, name string, args ...string) string {
	e.t.Helper()
	out, got := e.run(2*time.Minute, name, args...)
	if got != code || !strings.Contains(out, wantOut) {
		e.t.Errorf("%s %s: exit %d, output %q; want exit %d and %q", name, strings.Join(args, " "), got, out, code, wantOut)
	}
	return out
}

// engineCgroups lists the container cgroups the engines' runtimes make,
// in the pids hierarchy (v1) or the unified one.
func engineCgroups() map[string]bool {
	out := make(map[string]bool)
	for _, base := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
		for _, parent := range []string{"docker", "libpod_parent", "default"} {
			ents, _ := os.ReadDir(filepath.Join(base, parent))
			for _, ent := range ents {
				if ent.IsDir() {
					out[filepath.Join(base, parent, ent.Name())] = true
				}
			}
		}
	}
	return out
}

const docker = "/usr/bin/docker"

// shimName is the containerd shim's binary, for the runtime type
// io.containerd.runsc.v1.
const shimName = "containerd-shim-runsc-v1"

func TestEngines(t *testing.T) {
	e := startEngines(t)
	img := "local/busybox"

	t.Run("docker", func(t *testing.T) {
		e.t = t
		for _, net := range []string{"none", "host", "bridge"} {
			e.want(0, "hello-"+net, docker, "run", "--rm", "--runtime=myrt", "--network="+net, img, "echo", "hello-"+net)
		}
		e.want(3, "", docker, "run", "--rm", "--runtime=myrt", "--network=none", img, "sh", "-c", "exit 3")
		e.want(0, "hello-tty\r\n", docker, "run", "--rm", "-t", "--runtime=myrt", "--network=none", img, "echo", "hello-tty")
		e.dockerSandboxNetwork(img)
		// Docker writes the engine's /etc/hostname and friends.
		e.want(0, "myhost", docker, "run", "--rm", "--runtime=myrt", "--hostname=myhost", img, "hostname")
		// The container sees its limits in its own cgroup2, as runtimes
		// that size themselves (JVM, Go, libuv) look for them.
		e.want(0, "268435456\n50000 100000\n64\n", docker, "run", "--rm", "--runtime=myrt", "--network=none",
			"-m", "256m", "--cpus", "0.5", "--pids-limit", "64", img,
			"cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/pids.max")

		e.want(0, "", docker, "run", "-d", "--name=c1", "--runtime=myrt", "--network=none", img, "sh", "-c", "trap 'echo got-term; exit 7' TERM; while :; do sleep 0.1; done")
		e.want(0, "in-exec", docker, "exec", "c1", "echo", "in-exec")
		e.want(5, "", docker, "exec", "c1", "sh", "-c", "exit 5")
		e.want(0, "exec-tty\r\n", docker, "exec", "-t", "c1", "echo", "exec-tty")
		e.want(0, "runsc-sandbox", docker, "top", "c1")
		e.want(0, "", docker, "pause", "c1")
		e.want(0, "Paused", docker, "inspect", "-f", "{{.State.Status}} {{if .State.Paused}}Paused{{end}}", "c1")
		e.want(0, "", docker, "unpause", "c1")
		e.want(0, "", docker, "stop", "-t", "10", "c1")
		e.want(0, "7", docker, "inspect", "-f", "{{.State.ExitCode}}", "c1")
		e.want(0, "got-term", docker, "logs", "c1")
		e.want(0, "", docker, "rm", "c1")

		e.want(0, "", docker, "run", "-d", "--name=c2", "--runtime=myrt", "--network=none", img, "sleep", "1000")
		e.want(0, "", docker, "kill", "c2")
		e.want(0, "137", docker, "inspect", "-f", "{{.State.ExitCode}}", "c2")
		e.want(0, "", docker, "rm", "c2")
		e.want(0, "", docker, "run", "-d", "--name=c3", "--runtime=myrt", "--network=none", img, "sleep", "1000")
		e.want(0, "", docker, "rm", "-f", "c3")

		// A real distribution: dynamic binaries, apt, a pipeline.
		out := e.want(0, "apt 2.", docker, "run", "--rm", "--runtime=myrt", "--network=none", "local/debian:bookworm",
			"sh", "-c", "apt-get --version | head -1; ls /usr/bin | sort | uniq | wc -l; dpkg -l | grep -c '^ii'")
		if lines := strings.Fields(out); len(lines) < 2 {
			t.Errorf("debian pipeline output %q", out)
		}
	})

	t.Run("podman", func(t *testing.T) {
		e.t = t
		p := []string{"--runtime", runscPath}
		e.want(0, "hello-podman", "podman", append(p, "run", "--rm", "--network=none", img, "echo", "hello-podman")...)
		e.want(3, "", "podman", append(p, "run", "--rm", "--network=none", img, "sh", "-c", "exit 3")...)
		e.want(0, "podman-tty\r\n", "podman", append(p, "run", "--rm", "-t", "--network=none", img, "echo", "podman-tty")...)
		// Podman's bridge (CNI) network: the sandbox drives the veth.
		e.want(0, "", "podman", append(p, "run", "-d", "--name=pweb", "-p", "18081:80", img,
			"sh", "-c", "mkdir /www && echo hello-podman-net > /www/index.html && exec httpd -f -p 80 -h /www")...)
		if got := httpGet(t, "http://127.0.0.1:18081/"); got != "hello-podman-net\n" {
			t.Errorf("podman published port: got %q", got)
		}
		e.want(0, "", "podman", append(p, "rm", "-f", "pweb")...)
		e.want(0, "", "podman", append(p, "run", "-d", "--name=p1", "--network=none", img, "sleep", "1000")...)
		e.want(0, "in-podman-exec", "podman", append(p, "exec", "p1", "echo", "in-podman-exec")...)
		e.want(0, "podman-exec-tty\r\n", "podman", append(p, "exec", "-t", "p1", "echo", "podman-exec-tty")...)
		e.want(0, "", "podman", append(p, "pause", "p1")...)
		e.want(0, "paused", "podman", append(p, "inspect", "-f", "{{.State.Status}}", "p1")...)
		e.want(0, "", "podman", append(p, "unpause", "p1")...)
		e.want(0, "", "podman", append(p, "rm", "-f", "-t", "1", "p1")...)
		e.want(0, "", "podman", append(p, "run", "-d", "--name=p2", "--network=none", img, "sh", "-c", "trap 'echo got-term; exit 7' TERM; while :; do sleep 0.1; done")...)
		e.want(0, "runsc-sandbox", "podman", append(p, "top", "p2", "hpid,args")...)
		e.want(0, "", "podman", append(p, "stop", "-t", "10", "p2")...)
		e.want(0, "7", "podman", append(p, "inspect", "-f", "{{.State.ExitCode}}", "p2")...)
		e.want(0, "got-term", "podman", append(p, "logs", "p2")...)
		e.want(0, "", "podman", append(p, "rm", "p2")...)
		e.want(0, "", "podman", append(p, "run", "-d", "--name=p3", "--network=none", img, "sleep", "1000")...)
		e.want(0, "", "podman", append(p, "kill", "p3")...)
		e.want(0, "137", "podman", append(p, "inspect", "-f", "{{.State.ExitCode}}", "p3")...)
		e.want(0, "", "podman", append(p, "rm", "p3")...)
	})

	t.Run("ctr", func(t *testing.T) {
		e.t = t
		ctr := []string{"-a", e.dir + "/containerd/containerd.sock"}
		ref := "docker.io/local/busybox:latest"
		e.want(0, "hello-ctr", "ctr", append(ctr, "run", "--rm", "--runc-binary", runscPath, ref, fmt.Sprintf("ctr-%d", os.Getpid()), "echo", "hello-ctr")...)
		e.want(4, "", "ctr", append(ctr, "run", "--rm", "--runc-binary", runscPath, ref, fmt.Sprintf("ctr2-%d", os.Getpid()), "sh", "-c", "exit 4")...)

		// Through our own shim, as Kubernetes' RuntimeClass would.
		if _, err := os.Stat(filepath.Join(filepath.Dir(runscPath), shimName)); err != nil {
			t.Fatalf("%s is not beside runsc (make shim builds it): %v", shimName, err)
		}
		rt := []string{"--runtime", "io.containerd.runsc.v1"}
		e.want(3, "hello-shim", "ctr", append(append(append(ctr, "run", "--rm"), rt...), ref, fmt.Sprintf("shim-%d", os.Getpid()), "sh", "-c", "echo hello-shim; exit 3")...)
		id := fmt.Sprintf("shimd-%d", os.Getpid())
		e.want(0, "", "ctr", append(append(append(ctr, "run", "-d"), rt...), ref, id, "sleep", "1000")...)
		e.want(2, "shim-exec", "ctr", append(ctr, "task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo shim-exec; exit 2")...)
		e.want(0, "", "ctr", append(ctr, "task", "pause", id)...)
		e.want(0, "PAUSED", "ctr", append(ctr, "task", "ls")...)
		e.want(0, "", "ctr", append(ctr, "task", "resume", id)...)
		e.want(0, "", "ctr", append(ctr, "task", "kill", "-s", "KILL", id)...)
		waitFor(t, "the shim's task to stop", func() bool {
			out, _ := e.run(time.Minute, "ctr", append(ctr, "task", "ls")...)
			return strings.Contains(out, "STOPPED") || !strings.Contains(out, id)
		})
		e.want(0, "", "ctr", append(ctr, "task", "delete", id)...)
		e.want(0, "", "ctr", append(ctr, "container", "delete", id)...)
	})
}
