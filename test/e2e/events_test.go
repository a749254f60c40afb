package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type statsEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data struct {
		CPU struct {
			Usage struct{ Total, User, Kernel uint64 } `json:"usage"`
		} `json:"cpu"`
		Memory struct {
			Usage struct{ Usage uint64 } `json:"usage"`
		} `json:"memory"`
		Pids struct{ Current uint64 } `json:"pids"`
	} `json:"data"`
}

func TestEvents(t *testing.T) {
	e := newOCIEnv(t)
	// Three processes: the shell, a sleep and a subshell looping on
	// syscalls. (A loop that never traps is charged its CPU time only at
	// its next trap.)
	e.create("ev", e.bundle("/bin/sh", "-c", "sleep 1000 & (while :; do echo x > /dev/null; done) & wait"))
	e.must("start", "ev")

	var ev statsEvent
	waitFor(t, "three processes", func() bool {
		r := e.must("events", "--stats", "ev")
		if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil {
			t.Fatalf("events --stats printed %q: %v", r.stdout, err)
		}
		return ev.Data.Pids.Current == 3 && ev.Data.CPU.Usage.Total > 0
	})
	if ev.Type != "stats" || ev.ID != "ev" || ev.Data.Memory.Usage.Usage == 0 ||
		ev.Data.CPU.Usage.Total != ev.Data.CPU.Usage.User+ev.Data.CPU.Usage.Kernel {
		t.Errorf("events --stats = %+v", ev)
	}

	// Streaming: CPU time grows between lines (the loop spins), and the
	// stream ends, successfully, when the container does.
	cmd := exec.Command(runscPath, "--root", e.root, "events", "--interval", "200ms", "ev")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var cpu []uint64
	for len(cpu) < 3 && sc.Scan() {
		var ev statsEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("events line %q: %v", sc.Text(), err)
		}
		cpu = append(cpu, ev.Data.CPU.Usage.Total)
	}
	if len(cpu) != 3 || !(cpu[0] < cpu[2]) {
		t.Errorf("CPU totals streamed %v, want growing", cpu)
	}
	e.must("kill", "ev", "KILL")
	done := make(chan error, 1)
	go func() {
		for sc.Scan() {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("events after the container stopped: %v", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Errorf("events still streaming 10 s after the container was killed")
	}
	e.must("delete", "--force", "ev")
	if r := e.runsc("events", "--stats", "ev"); r.code == 0 {
		t.Errorf("events --stats on a deleted container succeeded: %+v", r)
	}
}

func TestDebug(t *testing.T) {
	e := newOCIEnv(t)
	e.create("dbg", e.bundle("/bin/sh", "-c", "sleep 1000 & wait"))
	e.must("start", "dbg")

	waitFor(t, "the sleep in debug --ps", func() bool {
		r := e.must("debug", "--ps", "dbg")
		return strings.Contains(r.stdout, "PID") && strings.Count(r.stdout, "\n") == 3
	})
	if r := e.must("debug", "--stacks", "dbg"); !strings.Contains(r.stdout, "goroutine ") || !strings.Contains(r.stdout, "runsc/boot") {
		t.Errorf("debug --stacks printed %.200q", r.stdout)
	}
	dir := t.TempDir()
	heap, block := filepath.Join(dir, "heap"), filepath.Join(dir, "block")
	e.must("debug", "--log-level", "info", "--profile-heap", heap, "--profile-block", block, "--duration", "200ms", "dbg")
	if got := readFile(t, heap); !strings.HasPrefix(got, "heap profile: ") {
		t.Errorf("heap profile starts %.40q", got)
	}
	if got := readFile(t, block); !strings.HasPrefix(got, "--- contention:") {
		t.Errorf("block profile starts %.40q", got)
	}
	// Refused, not fatal: the profiler's timers are off the Sentry's
	// seccomp allow-list.
	if r := e.runsc("debug", "--profile-cpu", filepath.Join(dir, "cpu"), "--duration", "100ms", "dbg"); r.code == 0 || !strings.Contains(r.stderr, "seccomp") {
		t.Errorf("debug --profile-cpu: %+v", r)
	}
	if r := e.runsc("debug", "--log-level", "loud", "dbg"); r.code == 0 {
		t.Errorf("debug --log-level loud succeeded")
	}
	// busybox's sleep called clock_nanosleep, a partially supported
	// syscall: the report so far has it.
	if r := e.must("debug", "--compat", "dbg"); !strings.Contains(r.stdout, "clock_nanosleep") || !strings.Contains(r.stdout, "still running") {
		t.Errorf("debug --compat printed %q", r.stdout)
	}
	e.wantStatus("dbg", "running")
	e.must("delete", "--force", "dbg")
}

// TestDebugStrace turns syscall logging on and off in a running sandbox.
func TestDebugStrace(t *testing.T) {
	e := newOCIEnv(t)
	logs := t.TempDir()
	e.debugLog = logs + "/"
	e.create("st", e.bundle("/bin/sh", "-c", "sleep 1000 & wait"))
	e.must("start", "st")
	// straced counts the exit_group lines in the Sentry's log.
	straced := func() int {
		n := 0
		ents, _ := os.ReadDir(logs)
		for _, ent := range ents {
			if strings.Contains(ent.Name(), ".boot.") {
				n += strings.Count(readFile(t, filepath.Join(logs, ent.Name())), "exit_group(")
			}
		}
		return n
	}
	e.must("exec", "st", "/bin/true")
	if n := straced(); n != 0 {
		t.Fatalf("%d strace lines before debug --strace on", n)
	}
	e.must("debug", "--strace", "on", "st")
	e.must("exec", "st", "/bin/true")
	on := straced()
	if on == 0 {
		t.Errorf("no strace line for the exec'd process's exit_group after debug --strace on")
	}
	e.must("debug", "--strace", "off", "st")
	e.must("exec", "st", "/bin/true")
	if n := straced(); n != on {
		t.Errorf("strace lines went from %d to %d after debug --strace off", on, n)
	}
	if r := e.runsc("debug", "--strace", "loud", "st"); r.code == 0 {
		t.Errorf("debug --strace loud succeeded")
	}
	e.must("delete", "--force", "st")
}
