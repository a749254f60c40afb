package specutils

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "abc-123_x.y+z", strings.Repeat("f", 64)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a b", "a\x00", "ä", strings.Repeat("x", 1025)} {
		if err := ValidateID(id); err == nil {
			t.Errorf("ValidateID(%q) = nil, want an error", id)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{
		"15": unix.SIGTERM, "9": unix.SIGKILL, "TERM": unix.SIGTERM, "SIGTERM": unix.SIGTERM,
		"kill": unix.SIGKILL, "SigUsr1": unix.SIGUSR1, "64": 64, "HUP": unix.SIGHUP,
	} {
		got, err := ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "65", "-1", "NOPE", "SIG", "SIGFOO", "1.5"} {
		if got, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) = %v, want an error", in, got)
		}
	}
}

func writeBundle(t *testing.T, config string, rootfs bool) string {
	t.Helper()
	dir := t.TempDir()
	if rootfs {
		if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReadSpec(t *testing.T) {
	good := `{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}`
	spec, err := ReadSpec(writeBundle(t, good, true))
	if err != nil {
		t.Fatalf("ReadSpec(good) = %v", err)
	}
	if spec.Process.Args[0] != "sh" {
		t.Errorf("args = %q", spec.Process.Args)
	}
	for name, tc := range map[string]struct {
		config string
		rootfs bool
		want   string
	}{
		"malformed":     {`{"process":`, true, "parsing"},
		"no rootfs":     {good, false, "root file system"},
		"no process":    {`{"root":{"path":"rootfs"}}`, true, "process"},
		"empty args":    {`{"process":{"args":[],"cwd":"/"},"root":{"path":"rootfs"}}`, true, "args"},
		"relative cwd":  {`{"process":{"args":["sh"],"cwd":"x"},"root":{"path":"rootfs"}}`, true, "cwd"},
		"no root":       {`{"process":{"args":["sh"],"cwd":"/"}}`, true, "root.path"},
		"relative dest": {`{"process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"},"mounts":[{"destination":"tmp","type":"tmpfs"}]}`, true, "destination"},
	} {
		_, err := ReadSpec(writeBundle(t, tc.config, tc.rootfs))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ReadSpec = %v, want an error mentioning %q", name, err, tc.want)
		}
	}
	if _, err := ReadSpec(t.TempDir()); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("ReadSpec without config.json = %v", err)
	}
}

func TestRootfsAndMounts(t *testing.T) {
	spec := &specs.Spec{Root: &specs.Root{Path: "rootfs"}}
	if got := RootfsPath(spec, "/b"); got != "/b/rootfs" {
		t.Errorf("relative root = %q", got)
	}
	spec.Root.Path = "/abs/root/"
	if got := RootfsPath(spec, "/b"); got != "/abs/root" {
		t.Errorf("absolute root = %q", got)
	}
	for _, tc := range []struct {
		m        specs.Mount
		bind, ro bool
	}{
		{specs.Mount{Type: "bind"}, true, false},
		{specs.Mount{Type: "none", Options: []string{"rbind", "ro"}}, true, true},
		{specs.Mount{Options: []string{"bind", "ro", "rw"}}, true, false},
		{specs.Mount{Type: "tmpfs", Options: []string{"ro"}}, false, true},
	} {
		if IsBindMount(&tc.m) != tc.bind || IsReadOnly(&tc.m) != tc.ro {
			t.Errorf("%+v: bind %v ro %v", tc.m, IsBindMount(&tc.m), IsReadOnly(&tc.m))
		}
	}
	if got := BindSource(&specs.Mount{Source: "data"}, "/b"); got != "/b/data" {
		t.Errorf("relative source = %q", got)
	}
}
