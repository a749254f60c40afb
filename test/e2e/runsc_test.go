package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runscPath is the binary under test: $RUNSC, or one built from this tree.
var runscPath string

func TestMain(m *testing.M) {
	runscPath = os.Getenv("RUNSC")
	var tmp string
	if runscPath == "" {
		var err error
		tmp, err = os.MkdirTemp("", "e2e-runsc")
		if err != nil {
			panic(err)
		}
		runscPath = filepath.Join(tmp, "runsc")
		build := exec.Command("go", "build", "-o", runscPath, "appkernel.dev/appkernel/runsc")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			panic("building runsc: " + err.Error() + "\n" + string(out))
		}
		// The containerd shim, beside it as `make` puts them (shim/ is a
		// Go module of its own).
		shim := exec.Command("go", "build", "-o", filepath.Join(tmp, shimName), ".")
		shim.Dir = filepath.Join("..", "..", "shim")
		shim.Env = build.Env
		if out, err := shim.CombinedOutput(); err != nil {
			panic("building the shim: " + err.Error() + "\n" + string(out))
		}
	}
	code := m.Run()
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func runsc(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(runscPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running runsc %v: %v", args, err)
	}
	return result{stdout.String(), stderr.String(), code}
}

func TestVersion(t *testing.T) {
	r := runsc(t, "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "runsc version ") || !strings.Contains(r.stdout, "spec: "+specs.Version) {
		t.Errorf("runsc --version = %+v", r)
	}
}

func TestUnknownFlagIsUsageError(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"spec", "--no-such-flag"}, {"--platform=kvm9", "spec"}} {
		r := runsc(t, args...)
		if r.code != 2 || r.stderr == "" {
			t.Errorf("runsc %v: exit %d stderr %q; want exit 2 with a message", args, r.code, r.stderr)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	r := runsc(t, "frobnicate")
	if r.code == 0 {
		t.Errorf("runsc frobnicate succeeded: %+v", r)
	}
}

func TestSpecWritesTemplate(t *testing.T) {
	bundle := t.TempDir()
	if r := runsc(t, "spec", "--bundle", bundle, "--", "/bin/echo", "hi"); r.code != 0 {
		t.Fatalf("runsc spec: %+v", r)
	}
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("config.json does not parse: %v", err)
	}
	if s.Version != specs.Version || s.Root == nil || s.Root.Path != "rootfs" {
		t.Errorf("unexpected template: version %q root %+v", s.Version, s.Root)
	}
	if got := strings.Join(s.Process.Args, " "); got != "/bin/echo hi" {
		t.Errorf("process args = %q, want the command given after --", got)
	}

	// A second spec must not clobber the user's file.
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runsc(t, "spec", "--bundle", bundle); r.code == 0 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("spec over an existing config.json: %+v", r)
	}
	if data, _ := os.ReadFile(filepath.Join(bundle, "config.json")); string(data) != "mine" {
		t.Errorf("config.json was overwritten: %q", data)
	}
}

func TestSpecMissingBundleLeavesNothing(t *testing.T) {
	bundle := filepath.Join(t.TempDir(), "missing")
	if r := runsc(t, "spec", "--bundle", bundle); r.code == 0 {
		t.Errorf("spec into a missing directory succeeded: %+v", r)
	}
	if _, err := os.Stat(bundle); !os.IsNotExist(err) {
		t.Errorf("spec created %s: %v", bundle, err)
	}
}

func TestErrorsReachLogFile(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "log.json")
	r := runsc(t, "--log", logFile, "--log-format", "json", "spec", "--bundle", "/nonexistent/dir")
	if r.code == 0 {
		t.Fatalf("spec into /nonexistent succeeded")
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ Msg, Level string }
	if err := json.Unmarshal(bytes.TrimSpace(data), &rec); err != nil {
		t.Fatalf("log line %q is not JSON: %v", data, err)
	}
	if rec.Level != "error" || !strings.Contains(rec.Msg, "nonexistent") {
		t.Errorf("log record = %+v", rec)
	}
	if !strings.Contains(r.stderr, "nonexistent") {
		t.Errorf("error not on stderr too: %q", r.stderr)
	}
}
