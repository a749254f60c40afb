package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// File bind mounts as engines make them: /etc/hosts read-write (the
// engine rewrites it on the host while the container runs), a secret
// read-only at a path the image lacks, and a file over one the image
// has. The default spec's sysfs at /sys and a cgroup mount come along.
func TestOCIFileBindMounts(t *testing.T) {
	e := newOCIEnv(t)
	files := t.TempDir()
	hosts := filepath.Join(files, "hosts")
	secret := filepath.Join(files, "token")
	hostname := filepath.Join(files, "hostname")
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644)
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	os.WriteFile(hostname, []byte("from-engine\n"), 0o644)

	script := strings.Join([]string{
		"cat /etc/hosts /run/secrets/token /etc/hostname",
		"echo 10.0.0.2 c1 >> /etc/hosts",
		// Read-only: the write must fail, and say why.
		"if echo x > /run/secrets/token; then echo ro-broken; fi",
		"cat /run/secrets/token",
		"cat /sys/devices/system/cpu/online > /dev/null && echo sysfs-ok",
		"cat /sys/fs/cgroup/cgroup.controllers",
		// Wait for the engine's rewrite of the host file.
		"i=0; until /bin/busybox grep -q rewritten /etc/hosts; do i=$((i+1)); [ $i -gt 200 ] && exit 7; sleep 0.05; done",
		"cat /etc/hosts",
	}, "\n")
	b := e.bundle("/bin/sh", "-c", script)
	os.MkdirAll(filepath.Join(b, "rootfs", "etc"), 0o755)
	os.WriteFile(filepath.Join(b, "rootfs", "etc", "hostname"), []byte("from-image\n"), 0o644)
	e.editSpec(b, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
			specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind", "rprivate"}},
			specs.Mount{Destination: "/run/secrets/token", Type: "bind", Source: secret, Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/etc/hostname", Type: "bind", Source: hostname, Options: []string{"rbind", "ro"}})
	})

	cmd := exec.Command(runscPath, "--root", e.root, "--platform=ptrace", "run", "--bundle", b, "filemounts")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The container's append reaches the host file; then the engine
	// rewrites it in place, as Docker does when networks change.
	appended := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(hosts); string(b) == "127.0.0.1 localhost\n10.0.0.2 c1\n" {
			appended = true
			break
		}
	}
	if !appended {
		b, _ := os.ReadFile(hosts)
		t.Errorf("the container's append to /etc/hosts never reached the host; host has %q", b)
	}
	if err := os.WriteFile(hosts, []byte("10.0.0.3 rewritten\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		err = <-done
		t.Errorf("container did not finish")
	}
	e.trackProcs()
	want := "127.0.0.1 localhost\ns3cret\nfrom-engine\ns3cret\nsysfs-ok\ncpu memory pids\n10.0.0.3 rewritten\n"
	if err != nil || stdout.String() != want {
		t.Errorf("run: %v\nstdout %q\nwant   %q\nstderr %s", err, stdout.String(), want, stderr.String())
	}
	if !strings.Contains(stderr.String(), "Read-only file system") {
		t.Errorf("the write to the read-only file mount did not fail with EROFS: stderr %q", stderr.String())
	}
	if got := readFile(t, secret); got != "s3cret\n" {
		t.Errorf("read-only host file changed: %q", got)
	}
	// Missing destinations were created as empty files in the rootfs, the
	// image's own file stays under the mount.
	if st, err := os.Stat(filepath.Join(b, "rootfs", "run", "secrets", "token")); err != nil || st.Size() != 0 || st.IsDir() {
		t.Errorf("mount point of the secret: %v %v", st, err)
	}
	if got := readFile(t, filepath.Join(b, "rootfs", "etc", "hostname")); got != "from-image\n" {
		t.Errorf("the image's /etc/hostname changed: %q", got)
	}
}

// A file cannot be mounted over a directory, nor a directory over a file:
// the container fails with a message that says so.
func TestOCIFileBindMountKindMismatch(t *testing.T) {
	e := newOCIEnv(t)
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, []byte("x"), 0o644)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, dest, source, want string
	}{
		{"file-on-dir", "/data", file, "cannot mount a file on /data, which is a directory"},
		{"dir-on-file", "/bin/busybox", dir, "cannot mount a directory on /bin/busybox, which is not a directory"},
	} {
		b := e.bundle("/bin/true")
		e.editSpec(b, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: tc.dest, Type: "bind", Source: tc.source, Options: []string{"rbind"}})
		})
		r := e.runsc("run", "--bundle", b, tc.name)
		e.trackProcs()
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: %+v, want a failure saying %q", tc.name, r, tc.want)
		}
	}
}
