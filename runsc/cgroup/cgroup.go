// Package cgroup puts a sandbox's host processes into the container's
// cgroup and applies the bundle's linux.resources there, on cgroup v1
// (one hierarchy per controller, as on hybrid hosts) and on the v2
// unified hierarchy. Everything the container uses on the host is the
// sandbox's and the gofer's, so their cgroup is the container's: the
// memory file's pages are charged to it as the Sentry touches them.
package cgroup

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Cgroup is a container's cgroup: one directory per v1 controller, or a
// single v2 directory.
type Cgroup struct {
	// Dirs are the absolute directories made for the container, by v1
	// controller name ("" for v2). Kept in the container's state for
	// delete.
	Dirs map[string]string `json:"dirs"`
	// Created are the directories this package made (and may remove);
	// parents that existed before are left alone.
	Created []string `json:"created"`
	// V2Root is the v2 hierarchy's mount point, when v2 is used.
	V2Root string `json:"v2Root,omitempty"`
}

// mount is one cgroup hierarchy mounted on the host.
type mount struct {
	dir string
	// controllers of a v1 hierarchy; nil for v2.
	controllers []string
	v2          bool
}

// mounts lists the cgroup hierarchies in the host's mount table.
func mounts() ([]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+3 >= len(fields) || len(fields) < 5 {
			continue
		}
		switch fields[sep+1] {
		case "cgroup2":
			out = append(out, mount{dir: fields[4], v2: true})
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(fields[sep+3], ",") {
				if o != "rw" && o != "ro" && !strings.HasPrefix(o, "name=") && !strings.Contains(o, "=") {
					ctrls = append(ctrls, o)
				}
			}
			if len(ctrls) > 0 {
				out = append(out, mount{dir: fields[4], controllers: ctrls})
			}
		}
	}
	return out, sc.Err()
}

// ownCgroups maps each v1 controller (and "" for v2) to the cgroup this
// process is in, from /proc/self/cgroup.
func ownCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// ErrSystemd is returned for a systemd-style cgroupsPath or
// --systemd-cgroup: there is no systemd to ask here.
var ErrSystemd = errors.New("the systemd cgroup driver is not supported: use cgroupfs (no --systemd-cgroup, and a cgroupsPath of the form /a/b)")

// IsSystemdPath reports whether path is in systemd's slice:prefix:name
// form.
func IsSystemdPath(path string) bool {
	return strings.Count(path, ":") == 2 && !strings.HasPrefix(path, "/")
}

// DefaultPath is the cgroup of a container whose bundle names none:
// /runsc/ID, or /runsc/ROOTHASH/ID for a runsc --root other than the
// default, so that equal ids under two roots do not share a cgroup.
func DefaultPath(root, id string) string {
	if root == "" || root == defaultRoot {
		return "/runsc/" + id
	}
	sum := sha256.Sum256([]byte(root))
	return fmt.Sprintf("/runsc/%x/%s", sum[:6], id)
}

// defaultRoot is runsc's default --root.
const defaultRoot = "/var/run/runsc"

// New makes the container's cgroup at path (an absolute path is from each
// hierarchy's root, a relative one from this process's cgroup, as runc
// takes it; empty means DefaultPath("", id)) and applies r. The host is treated as
// v1 when it has any v1 controller mounted, as runc does on hybrid hosts.
// On error nothing is left.
func New(path, id string, r *specs.LinuxResources) (*Cgroup, error) {
	if IsSystemdPath(path) {
		return nil, ErrSystemd
	}
	if path == "" {
		path = DefaultPath("", id)
	}
	ms, err := mounts()
	if err != nil {
		return nil, fmt.Errorf("cgroup mounts: %w", err)
	}
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	v1 := false
	for _, m := range ms {
		v1 = v1 || !m.v2
	}
	cg := &Cgroup{Dirs: make(map[string]string)}
	for _, m := range ms {
		if m.v2 == v1 {
			continue
		}
		base := "/"
		key := ""
		if !m.v2 {
			key = m.controllers[0]
		}
		if !filepath.IsAbs(path) {
			base = own[key]
		}
		dir := filepath.Join(m.dir, base, path)
		if !strings.HasPrefix(dir, m.dir+"/") {
			cg.Destroy()
			return nil, fmt.Errorf("cgroupsPath %q leaves the cgroup hierarchy", path)
		}
		if err := cg.mkdirAll(dir, m.dir, slices.Contains(m.controllers, "cpuset")); err != nil {
			cg.Destroy()
			return nil, err
		}
		if m.v2 {
			cg.Dirs[""] = dir
			cg.V2Root = m.dir
		} else {
			for _, c := range m.controllers {
				cg.Dirs[c] = dir
			}
		}
	}
	if len(cg.Dirs) == 0 {
		return nil, errors.New("no cgroup hierarchy is mounted")
	}
	if err := cg.apply(r, v1); err != nil {
		cg.Destroy()
		return nil, err
	}
	return cg, nil
}

// mkdirAll makes dir and its missing parents below root, remembering
// which it made. A v1 cpuset hierarchy's new directories get their
// parent's cpus and mems, without which they take no tasks.
func (cg *Cgroup) mkdirAll(dir, root string, cpuset bool) error {
	var missing []string
	for d := dir; d != root && d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("creating cgroup %s: %w", d, err)
		}
		cg.Created = append(cg.Created, d)
		if cpuset {
			if err := inheritCpuset(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// inheritCpuset copies the parent's cpus and mems into a new v1 cpuset.
func inheritCpuset(dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			return fmt.Errorf("cgroup %s: %s: %w", dir, f, err)
		}
	}
	return nil
}

// AddProcess moves pid into the cgroup.
func (cg *Cgroup) AddProcess(pid int) error {
	seen := make(map[string]bool)
	for _, dir := range cg.Dirs {
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("adding pid %d to cgroup %s: %w", pid, dir, err)
		}
	}
	return nil
}

// Destroy removes the directories New made, deepest first. Their
// processes must be gone; a process that is still exiting (a sandbox's
// stub processes die after it) keeps a cgroup busy for a moment, so busy
// directories are retried for a second. A dead process its parent has
// not reaped yet keeps it busy too (cgroup v1), as it does for runc.
func (cg *Cgroup) Destroy() error {
	var errs []error
	for i := len(cg.Created) - 1; i >= 0; i-- {
		d := cg.Created[i]
		var err error
		for try := 0; try < 100; try++ {
			err = os.Remove(d)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
