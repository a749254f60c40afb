package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go/features"
)

func TestFeatures(t *testing.T) {
	r := runsc(t, "features")
	var f features.Features
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &f) != nil {
		t.Fatalf("runsc features = %+v", r)
	}
	if f.OCIVersionMax == "" || len(f.Hooks) != 6 || f.Linux == nil || f.Linux.Cgroup == nil {
		t.Errorf("features = %+v", f)
	}
	if r := runsc(t, "features", "extra"); r.code == 0 {
		t.Errorf("features with an argument succeeded")
	}
}

func TestHelpAndFlags(t *testing.T) {
	r := runsc(t, "help")
	for _, cmd := range []string{"create", "start", "exec", "pause", "resume", "features", "install", "uninstall"} {
		if !strings.Contains(r.stdout+r.stderr, cmd) {
			t.Errorf("runsc help does not list %s: %q", cmd, r.stdout+r.stderr)
		}
	}
	if r := runsc(t, "flags"); !strings.Contains(r.stdout+r.stderr, "-root") {
		t.Errorf("runsc flags = %+v", r)
	}
	if r := runsc(t, "--no-such-flag", "state", "x"); r.code == 0 {
		t.Errorf("an unknown global flag was accepted")
	}
}

func TestInstallUninstall(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "daemon.json")
	os.WriteFile(conf, []byte(`{"debug": true}`), 0o644)
	if r := runsc(t, "install", "--config", conf, "--runtime", "rs", "--", "--platform=ptrace"); r.code != 0 {
		t.Fatalf("install = %+v", r)
	}
	var got struct {
		Debug    bool
		Runtimes map[string]struct {
			Path        string
			RuntimeArgs []string
		}
	}
	data, _ := os.ReadFile(conf)
	if err := json.Unmarshal(data, &got); err != nil || !got.Debug || got.Runtimes["rs"].Path != runscPath || len(got.Runtimes["rs"].RuntimeArgs) != 1 {
		t.Errorf("daemon.json after install: %s (%v)", data, err)
	}
	if r := runsc(t, "uninstall", "--config", conf, "--runtime", "rs"); r.code != 0 {
		t.Fatalf("uninstall = %+v", r)
	}
	data, _ = os.ReadFile(conf)
	if strings.Contains(string(data), "rs") || !strings.Contains(string(data), "debug") {
		t.Errorf("daemon.json after uninstall: %s", data)
	}
}
