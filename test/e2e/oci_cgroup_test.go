package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupV1Dir returns where the host mounts controller's v1 hierarchy, or
// "" when it has none (a v2-only host).
func cgroupV1Dir(controller string) string {
	dir := filepath.Join("/sys/fs/cgroup", controller)
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return ""
	}
	return dir
}

func TestOCICgroups(t *testing.T) {
	e := newOCIEnv(t)
	mem := cgroupV1Dir("memory")
	v2 := mem == ""
	path := fmt.Sprintf("/runsc-e2e/cg-%d", os.Getpid())
	limit, pids := int64(96<<20), int64(64)
	b := e.bundle("/bin/sleep", "100")
	e.editSpec(b, func(s *specs.Spec) {
		s.Linux.CgroupsPath = path
		s.Linux.Resources = &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: &limit},
			Pids:   &specs.LinuxPids{Limit: &pids},
		}
	})
	c := e.create("cg", b)
	check := func(file, want string) {
		t.Helper()
		data, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("%v", err)
			return
		}
		if got := strings.TrimSpace(string(data)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	var dirs []string
	if v2 {
		d := filepath.Join("/sys/fs/cgroup", path)
		dirs = append(dirs, d)
		check(filepath.Join(d, "memory.max"), strconv.FormatInt(limit, 10))
		check(filepath.Join(d, "pids.max"), strconv.FormatInt(pids, 10))
	} else {
		dm, dp := filepath.Join(mem, path), filepath.Join(cgroupV1Dir("pids"), path)
		dirs = append(dirs, dm, dp)
		check(filepath.Join(dm, "memory.limit_in_bytes"), strconv.FormatInt(limit, 10))
		check(filepath.Join(dp, "pids.max"), strconv.FormatInt(pids, 10))
	}
	// The sandbox process is in it (so the memory it uses is the
	// container's).
	procs, _ := os.ReadFile(filepath.Join(dirs[0], "cgroup.procs"))
	if !strings.Contains("\n"+string(procs), "\n"+strconv.Itoa(c.pid)+"\n") {
		t.Errorf("sandbox pid %d not in %s: %q", c.pid, dirs[0], procs)
	}
	e.must("delete", "--force", "cg")
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left after delete: %v", d, err)
		}
	}
	for _, d := range dirs {
		os.Remove(filepath.Dir(d))
	}

	// --ignore-cgroups makes none; --systemd-cgroup is refused clearly.
	b2 := e.bundle("/bin/true")
	path2 := fmt.Sprintf("/runsc-e2e/ignored-%d", os.Getpid())
	e.editSpec(b2, func(s *specs.Spec) { s.Linux.CgroupsPath = path2 })
	r := e.runscFiles("--ignore-cgroups", "run", "--bundle", b2, "ign")
	if r.code != 0 {
		t.Errorf("run --ignore-cgroups = %+v", r)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/pids", path2)); err == nil {
		t.Errorf("--ignore-cgroups made a cgroup")
	}
	r = e.runscFiles("--systemd-cgroup", "run", "--bundle", b2, "sd")
	if r.code == 0 || !strings.Contains(r.stderr, "systemd") {
		t.Errorf("run --systemd-cgroup = %+v, want a clear refusal", r)
	}
	e.stateDirGone("sd")
}
