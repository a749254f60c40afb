package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// setting is one value to write into a controller's file.
type setting struct {
	controller, file, value string
}

// apply writes r's memory, cpu, cpuset and pids limits.
func (cg *Cgroup) apply(r *specs.LinuxResources, v1 bool) error {
	if r == nil {
		return nil
	}
	var s []setting
	if v1 {
		s = v1Settings(r)
	} else {
		s = v2Settings(r)
		if err := cg.enableV2Controllers(s); err != nil {
			return err
		}
	}
	for _, st := range s {
		key := st.controller
		if !v1 {
			key = ""
		}
		dir, ok := cg.Dirs[key]
		if !ok {
			return fmt.Errorf("the bundle sets %s, but the %s controller is not mounted", st.file, st.controller)
		}
		if err := os.WriteFile(filepath.Join(dir, st.file), []byte(st.value), 0o644); err != nil {
			return fmt.Errorf("cgroup %s: writing %q to %s: %w", dir, st.value, st.file, err)
		}
	}
	return nil
}

func v1Settings(r *specs.LinuxResources) []setting {
	var s []setting
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			s = append(s, setting{"memory", "memory.limit_in_bytes", strconv.FormatInt(*m.Limit, 10)})
		}
		if m.Reservation != nil {
			s = append(s, setting{"memory", "memory.soft_limit_in_bytes", strconv.FormatInt(*m.Reservation, 10)})
		}
		if m.Swap != nil {
			// memsw is memory plus swap; its file exists only with swap
			// accounting.
			s = append(s, setting{"memory", "memory.memsw.limit_in_bytes", strconv.FormatInt(*m.Swap, 10)})
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares != 0 {
			s = append(s, setting{"cpu", "cpu.shares", strconv.FormatUint(*c.Shares, 10)})
		}
		if c.Period != nil && *c.Period != 0 {
			s = append(s, setting{"cpu", "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10)})
		}
		if c.Quota != nil && *c.Quota != 0 {
			s = append(s, setting{"cpu", "cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10)})
		}
		if c.Cpus != "" {
			s = append(s, setting{"cpuset", "cpuset.cpus", c.Cpus})
		}
		if c.Mems != "" {
			s = append(s, setting{"cpuset", "cpuset.mems", c.Mems})
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil && *p.Limit > 0 {
		s = append(s, setting{"pids", "pids.max", strconv.FormatInt(*p.Limit, 10)})
	}
	return s
}

func v2Settings(r *specs.LinuxResources) []setting {
	var s []setting
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			s = append(s, setting{"memory", "memory.max", limitV2(*m.Limit)})
		}
		if m.Reservation != nil {
			s = append(s, setting{"memory", "memory.low", limitV2(*m.Reservation)})
		}
		if m.Swap != nil && m.Limit != nil && *m.Swap > 0 && *m.Limit > 0 {
			// v1's memsw counts memory too; v2's swap.max does not.
			s = append(s, setting{"memory", "memory.swap.max", strconv.FormatInt(*m.Swap-*m.Limit, 10)})
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares != 0 {
			s = append(s, setting{"cpu", "cpu.weight", strconv.FormatUint(sharesToWeight(*c.Shares), 10)})
		}
		if c.Quota != nil && *c.Quota != 0 {
			period := uint64(100000)
			if c.Period != nil && *c.Period != 0 {
				period = *c.Period
			}
			quota := "max"
			if *c.Quota > 0 {
				quota = strconv.FormatInt(*c.Quota, 10)
			}
			s = append(s, setting{"cpu", "cpu.max", quota + " " + strconv.FormatUint(period, 10)})
		}
		if c.Cpus != "" {
			s = append(s, setting{"cpuset", "cpuset.cpus", c.Cpus})
		}
		if c.Mems != "" {
			s = append(s, setting{"cpuset", "cpuset.mems", c.Mems})
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil && *p.Limit > 0 {
		s = append(s, setting{"pids", "pids.max", strconv.FormatInt(*p.Limit, 10)})
	}
	return s
}

// limitV2 writes a negative (unlimited) v1 limit as v2's "max".
func limitV2(n int64) string {
	if n < 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

// sharesToWeight maps cpu.shares [2, 262144] onto cpu.weight [1, 10000],
// the conversion the OCI runtimes agree on.
func sharesToWeight(shares uint64) uint64 {
	if shares < 2 {
		shares = 2
	}
	if shares > 262144 {
		shares = 262144
	}
	return 1 + ((shares-2)*9999)/262142
}

// enableV2Controllers turns on, in the subtree_control of every cgroup
// from the hierarchy's root down to the container's parent, the
// controllers the settings use.
func (cg *Cgroup) enableV2Controllers(s []setting) error {
	want := make(map[string]bool)
	for _, st := range s {
		want[st.controller] = true
	}
	rel, err := filepath.Rel(cg.V2Root, filepath.Dir(cg.Dirs[""]))
	if err != nil {
		return err
	}
	dir := cg.V2Root
	chain := []string{dir}
	if rel != "." {
		for _, part := range strings.Split(rel, "/") {
			dir = filepath.Join(dir, part)
			chain = append(chain, dir)
		}
	}
	for _, d := range chain {
		for c := range want {
			if err := os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+"+c), 0o644); err != nil {
				return fmt.Errorf("enabling the %s controller in %s: %w", c, d, err)
			}
		}
	}
	return nil
}
