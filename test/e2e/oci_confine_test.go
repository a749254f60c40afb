package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// nsOf returns the namespace link of kind for pid.
func nsOf(t *testing.T, pid int, kind string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestOCISandboxConfined(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sleep", "100")
	c := e.create("conf", b)
	self := os.Getpid()
	for _, kind := range []string{"mnt", "pid", "ipc", "uts", "net"} {
		if nsOf(t, c.pid, kind) == nsOf(t, self, kind) {
			t.Errorf("the sandbox shares our %s namespace", kind)
		}
	}
	// It keeps no capability but the ptrace platform's CAP_SYS_PTRACE (the
	// tests run on ptrace), in any set, and has no_new_privs.
	status := readFile(t, fmt.Sprintf("/proc/%d/status", c.pid))
	for _, want := range []string{"CapEff:\t0000000000080000", "CapPrm:\t0000000000080000", "CapBnd:\t0000000000080000", "CapInh:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(status, want+"\n") {
			t.Errorf("sandbox /proc/PID/status lacks %q:\n%s", want, status)
		}
	}
	// Its root is empty but for /proc.
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/root/", c.pid))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ent := range ents {
		names = append(names, ent.Name())
	}
	if strings.Join(names, ",") != "proc" {
		t.Errorf("the sandbox's root holds %v, want only proc", names)
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/root/x", c.pid), nil, 0o644); err == nil {
		t.Errorf("the sandbox's root is writable")
	}

	// The gofer sees the container's root as its own.
	var gofer int
	for _, pid := range e.procsOfRoot() {
		if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.HasPrefix(string(cmd), "runsc-gofer\x00") {
			gofer = pid
		}
	}
	if gofer == 0 {
		t.Fatal("no gofer process found")
	}
	if nsOf(t, gofer, "mnt") == nsOf(t, self, "mnt") || nsOf(t, gofer, "net") == nsOf(t, self, "net") {
		t.Errorf("the gofer shares our mount or network namespace")
	}
	got, _ := os.ReadDir(fmt.Sprintf("/proc/%d/root/", gofer))
	want, _ := os.ReadDir(filepath.Join(b, "rootfs"))
	if len(got) != len(want) {
		t.Errorf("the gofer's root has %d entries, the rootfs %d", len(got), len(want))
	}
	e.must("delete", "--force", "conf")
}

func TestOCINetworkNamespaceFromSpec(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/sleep", "100")
	// A spec without a network namespace (docker --network=host) keeps
	// the caller's.
	e.editSpec(b, func(s *specs.Spec) {
		var kept []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != "network" {
				kept = append(kept, ns)
			}
		}
		s.Linux.Namespaces = kept
	})
	c := e.create("hostnet", b)
	if nsOf(t, c.pid, "net") != nsOf(t, os.Getpid(), "net") {
		t.Errorf("without a network namespace in the spec the sandbox got a new one")
	}
	e.must("delete", "--force", "hostnet")

	// A namespace path is joined: use the first sandbox's.
	b2 := e.bundle("/bin/sleep", "100")
	c1 := e.create("owner", b2)
	path := fmt.Sprintf("/proc/%d/ns/net", c1.pid)
	b3 := e.bundle("/bin/sleep", "100")
	e.editSpec(b3, func(s *specs.Spec) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == "network" {
				s.Linux.Namespaces[i].Path = path
			}
		}
	})
	c2 := e.create("joiner", b3)
	if nsOf(t, c2.pid, "net") != nsOf(t, c1.pid, "net") {
		t.Errorf("the sandbox did not join the network namespace at %s", path)
	}
	e.must("delete", "--force", "joiner")
	e.must("delete", "--force", "owner")
}
