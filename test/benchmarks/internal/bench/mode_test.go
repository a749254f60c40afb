package bench

import (
	"context"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestArgv(t *testing.T) {
	if got := Native().Argv([]string{"/b/getpid", "10"}); !reflect.DeepEqual(got, []string{"/b/getpid", "10"}) {
		t.Errorf("native argv %q", got)
	}
	m := Sandbox("/bin/runsc", "ptrace")
	if m.Name != "runsc(ptrace)" || m.IsNative() {
		t.Errorf("sandbox mode %+v", m)
	}
	want := []string{"/bin/runsc", "--platform=ptrace", "do", "/b/getpid", "10"}
	if got := m.Argv([]string{"/b/getpid", "10"}); !reflect.DeepEqual(got, want) {
		t.Errorf("sandbox argv %q, want %q", got, want)
	}
}

func TestRunErrorFirstLine(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	_, err = Native().Run(context.Background(), []string{sh, "-c", "echo out; echo >&2; echo 'runsc: do: boom' >&2; echo second >&2; exit 3"})
	var re *RunError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a *RunError", err)
	}
	if want := "runsc: do: boom (exit status 3)"; re.First != want {
		t.Errorf("First = %q, want %q", re.First, want)
	}

	l, err := Native().Run(context.Background(), []string{sh, "-c", "echo hello"})
	if err != nil || string(l.Stdout) != "hello\n" || l.Wall <= 0 {
		t.Errorf("Run = %+v, %v", l, err)
	}
}

// TestRunTimeoutKillsGroup checks that a timed-out launch ends the whole
// process group: a grandchild holding stdout open must not keep the
// harness waiting.
func TestRunTimeoutKillsGroup(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	m := Native()
	m.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err = m.Run(context.Background(), []string{sh, "-c", "sleep 30 & sleep 30"})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run returned after %v; the group was not killed", took)
	}
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("err = %v, want a deadline error", err)
	}
}
