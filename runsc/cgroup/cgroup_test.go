package cgroup

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

func TestIsSystemdPath(t *testing.T) {
	for path, want := range map[string]bool{
		"system.slice:docker:abc": true,
		"/docker/abc":             false,
		"relative/path":           false,
		"":                        false,
	} {
		if got := IsSystemdPath(path); got != want {
			t.Errorf("IsSystemdPath(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{2: 1, 1024: 39, 262144: 10000, 0: 1, 1 << 30: 10000} {
		if got := sharesToWeight(shares); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func settingsMap(s []setting) map[string]string {
	m := make(map[string]string)
	for _, st := range s {
		m[st.file] = st.value
	}
	return m
}

func TestSettings(t *testing.T) {
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20)), Swap: ptr(int64(128 << 20)), Reservation: ptr(int64(-1))},
		CPU:    &specs.LinuxCPU{Shares: ptr(uint64(512)), Quota: ptr(int64(50000)), Period: ptr(uint64(100000)), Cpus: "0"},
		Pids:   &specs.LinuxPids{Limit: ptr(int64(50))},
	}
	v1 := settingsMap(v1Settings(r))
	for file, want := range map[string]string{
		"memory.limit_in_bytes": "67108864", "memory.memsw.limit_in_bytes": "134217728", "memory.soft_limit_in_bytes": "-1",
		"cpu.shares": "512", "cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "100000", "cpuset.cpus": "0", "pids.max": "50",
	} {
		if v1[file] != want {
			t.Errorf("v1 %s = %q, want %q", file, v1[file], want)
		}
	}
	v2 := settingsMap(v2Settings(r))
	for file, want := range map[string]string{
		"memory.max": "67108864", "memory.swap.max": "67108864", "memory.low": "max",
		"cpu.weight": "20", "cpu.max": "50000 100000", "cpuset.cpus": "0", "pids.max": "50",
	} {
		if v2[file] != want {
			t.Errorf("v2 %s = %q, want %q", file, v2[file], want)
		}
	}
	if len(v1Settings(&specs.LinuxResources{})) != 0 || len(v2Settings(&specs.LinuxResources{})) != 0 {
		t.Errorf("empty resources produce settings")
	}
}
