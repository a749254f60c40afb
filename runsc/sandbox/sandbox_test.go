package sandbox

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/runsc/boot"
)

// A state directory as long as Docker's (…/moby/<64 hex>/) still gets a
// working control socket.
func TestLongSocketPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 70), strings.Repeat("e", 64))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, ControlSocket)
	if len(sock) <= maxSunPath {
		t.Fatalf("path %d bytes long: not a long path", len(sock))
	}
	ln, err := listen(sock)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("socket not at its long path: %v", err)
	}
	go func() {
		c, err := ln.Accept()
		if err == nil {
			var req boot.ControlRequest
			json.NewDecoder(c).Decode(&req)
			if req.Cmd == boot.CtlWait {
				c.Write([]byte(`{"waitStatus":1792}` + "\n"))
			}
			c.Close()
		}
	}()
	resp, err := Call(sock, boot.ControlRequest{Cmd: boot.CtlWait}, time.Second)
	if err != nil || resp.WaitStatus != 1792 {
		t.Errorf("Call over the long path = %+v, %v", resp, err)
	}
}

func TestCallNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), ControlSocket)
	if _, err := Call(sock, boot.ControlRequest{Cmd: boot.CtlStart}, time.Second); err != ErrNotRunning {
		t.Errorf("Call with no socket = %v, want ErrNotRunning", err)
	}
	ln, err := listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // the file stays, nobody listens: a dead sandbox
	if _, err := Call(sock, boot.ControlRequest{Cmd: boot.CtlStart}, time.Second); err != ErrNotRunning {
		t.Errorf("Call with a dead socket = %v, want ErrNotRunning", err)
	}
}

func TestBuildConfig(t *testing.T) {
	bundle := t.TempDir()
	data := filepath.Join(bundle, "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(bundle, "file"), nil, 0o644)
	spec := &specs.Spec{
		Process: &specs.Process{
			Args: []string{"/bin/sh"}, Env: []string{"A=b"}, Cwd: "/w",
			User:    specs.User{UID: 5, GID: 6},
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}},
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "h",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/dev/shm", Type: "tmpfs", Options: []string{"nosuid", "mode=1777", "size=64k"}},
			{Destination: "/data/", Type: "bind", Source: "data", Options: []string{"rbind", "ro"}},
			{Destination: "/etc/hosts", Type: "bind", Source: "file"},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs"},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		},
		Linux: &specs.Linux{Resources: &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: valuePtr[int64](256 << 20), Swap: valuePtr[int64](512 << 20)},
			CPU:    &specs.LinuxCPU{Quota: valuePtr[int64](50000), Period: valuePtr[uint64](100000), Shares: valuePtr[uint64](512)},
			Pids:   &specs.LinuxPids{Limit: valuePtr[int64](64)},
		}},
	}
	bc, exports, err := buildConfig(spec, bundle)
	if err != nil {
		t.Fatal(err)
	}
	if bc.Argv[0] != "/bin/sh" || bc.Cwd != "/w" || bc.UID != 5 || bc.GID != 6 || bc.Hostname != "h" || !bc.RootReadOnly || bc.RootOverlay {
		t.Errorf("config = %+v", bc)
	}
	if len(bc.Rlimits) != 1 || bc.Rlimits[0] != (boot.Rlimit{Resource: linux.RLIMIT_NOFILE, Cur: 10, Max: 20}) {
		t.Errorf("rlimits = %+v", bc.Rlimits)
	}
	want := []boot.Mount{
		{Dest: "/dev/shm", Kind: boot.MountTmpfs, Flags: linux.MS_NOSUID, Data: "mode=1777,size=64k"},
		{Dest: "/data", Kind: boot.MountGofer, Flags: linux.MS_RDONLY},
		{Dest: "/etc/hosts", Kind: boot.MountGofer},
		{Dest: "/sys", Kind: boot.MountSysfs},
		{Dest: "/dev/pts", Kind: boot.MountDevpts, Flags: linux.MS_NOSUID | linux.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{Dest: "/sys/fs/cgroup", Kind: boot.MountCgroup, Flags: linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NOEXEC | linux.MS_NODEV},
	}
	if !slices.Equal(bc.Mounts, want) {
		t.Errorf("mounts = %+v, want %+v", bc.Mounts, want)
	}
	wantCgroup := boot.CgroupLimits{MemoryLimit: 256 << 20, MemorySwap: 512 << 20, CPUQuota: 50000, CPUPeriod: 100000, CPUShares: 512, PidsLimit: 64}
	if bc.Cgroup != wantCgroup {
		t.Errorf("cgroup limits = %+v, want %+v", bc.Cgroup, wantCgroup)
	}
	if len(exports) != 2 || exports[0].flag() != "ro:/data="+data || exports[1].flag() != "/etc/hosts="+filepath.Join(bundle, "file") {
		t.Errorf("gofer exports = %+v", exports)
	}

	spec.Mounts = []specs.Mount{{Destination: "/x", Type: "bind", Source: "missing"}}
	if _, _, err := buildConfig(spec, bundle); err == nil {
		t.Errorf("a bind mount of a missing source was accepted")
	}
	spec.Mounts = nil
	spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}}
	if _, _, err := buildConfig(spec, bundle); err == nil {
		t.Errorf("an unknown rlimit was accepted")
	}
}

func valuePtr[T any](v T) *T { return &v }
