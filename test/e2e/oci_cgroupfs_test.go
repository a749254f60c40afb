package e2e

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A container whose spec mounts its cgroup at /sys/fs/cgroup sees there
// the limits its spec's resources set, in cgroup v2's files, and
// mountinfo lists the mount as cgroup2: what the JVM, Go's runtime and
// libuv read to size themselves.
func TestOCICgroupFS(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max; "+
		"echo ---; cat /sys/fs/cgroup/cgroup.procs; echo ---; cat /proc/self/mountinfo")
	memory, quota, period, pids := int64(256<<20), int64(50000), uint64(100000), int64(64)
	e.editSpec(b, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
			Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"},
		})
		s.Linux.Resources = &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: &memory},
			CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period},
			Pids:   &specs.LinuxPids{Limit: &pids},
		}
	})
	r := e.runscFiles("run", "--bundle", b, "cgfs")
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	parts := strings.Split(r.stdout, "---\n")
	if len(parts) != 3 {
		t.Fatalf("output: %q", r.stdout)
	}
	if want := "268435456\n50000 100000\n64\n"; parts[0] != want {
		t.Errorf("memory.max, cpu.max, pids.max = %q, want %q", parts[0], want)
	}
	// The shell is the container's init, PID 1.
	if !strings.HasPrefix(parts[1], "1\n") {
		t.Errorf("cgroup.procs = %q, want PID 1 first", parts[1])
	}
	found := false
	for _, l := range strings.Split(parts[2], "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[4] == "/sys/fs/cgroup" {
			found = true
			if !strings.Contains(l, " - cgroup2 ") || !strings.HasPrefix(f[5], "ro,") {
				t.Errorf("mountinfo line of /sys/fs/cgroup: %q, want a read-only cgroup2", l)
			}
		}
	}
	if !found {
		t.Errorf("mountinfo has no /sys/fs/cgroup:\n%s", parts[2])
	}
}
