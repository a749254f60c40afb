package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// logHook is a hook that appends its name, an env variable and the state
// it got on stdin, as one line, to log.
func logHook(log, name string) specs.Hook {
	return specs.Hook{
		Path: "/bin/sh",
		Args: []string{"sh", "-c", `read -r state; echo "$0 $HOOKVAR $state" >> "$1"`, name, log},
		Env:  []string{"HOOKVAR=v-" + name},
	}
}

type hookLine struct {
	name, env string
	state     specs.State
}

func readHookLog(t *testing.T, log string) []hookLine {
	t.Helper()
	var out []hookLine
	for _, l := range strings.Split(strings.TrimSpace(readFile(t, log)), "\n") {
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 {
			t.Fatalf("hook log line %q", l)
		}
		h := hookLine{name: f[0], env: f[1]}
		if err := json.Unmarshal([]byte(f[2]), &h.state); err != nil {
			t.Fatalf("hook %s got state %q: %v", f[0], f[2], err)
		}
		out = append(out, h)
	}
	return out
}

func TestOCIHooks(t *testing.T) {
	e := newOCIEnv(t)
	log := filepath.Join(t.TempDir(), "hooks.log")
	b := e.bundle("/bin/sh", "-c", "echo ran >> /tmp/ran; sleep 100")
	e.editSpec(b, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{logHook(log, "prestart")}, //nolint:staticcheck
			CreateRuntime:   []specs.Hook{logHook(log, "createRuntime")},
			CreateContainer: []specs.Hook{logHook(log, "createContainer")},
			StartContainer:  []specs.Hook{logHook(log, "startContainer")},
			Poststart:       []specs.Hook{logHook(log, "poststart")},
			Poststop:        []specs.Hook{logHook(log, "poststop")},
		}
	})
	c := e.create("hooks", b)
	e.must("start", "hooks")
	e.must("delete", "--force", "hooks")

	want := []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
	got := readHookLog(t, log)
	if len(got) != len(want) {
		t.Fatalf("hooks ran: %+v, want %v", got, want)
	}
	for i, h := range got {
		if h.name != want[i] || h.env != "v-"+want[i] || h.state.ID != "hooks" || h.state.Bundle != b {
			t.Errorf("hook %d = %+v, want %s with its env and the container's state", i, h, want[i])
		}
		if i < 5 && h.state.Pid != c.pid {
			t.Errorf("hook %s got pid %d, want the sandbox's %d", h.name, h.state.Pid, c.pid)
		}
	}
}

func TestOCIFailingHook(t *testing.T) {
	e := newOCIEnv(t)
	b := e.bundle("/bin/true")
	e.editSpec(b, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook-broke >&2; exit 3"}}}}
	})
	if _, r := e.tryCreate("badhook", b); r.code == 0 || !strings.Contains(r.stderr, "hook-broke") {
		t.Errorf("create with a failing hook = %+v, want a failure quoting the hook", r)
	}
	e.stateDirGone("badhook")

	timeout := 1
	e.editSpec(b, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "30"}, Timeout: &timeout}}} //nolint:staticcheck
	})
	if _, r := e.tryCreate("slowhook", b); r.code == 0 || !strings.Contains(r.stderr, "timed out") {
		t.Errorf("create with a hook that times out = %+v", r)
	}
	e.stateDirGone("slowhook")
}
