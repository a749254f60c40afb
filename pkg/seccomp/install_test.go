package seccomp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// childEnv names the child mode when the test binary re-executes itself:
// installing a filter is irreversible, so it happens in a child.
const childEnv = "SECCOMP_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		if err := runChild(mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// probe is the syscall the kernel tests filter: it ignores its arguments
// and has no effect, so the Go runtime never depends on it.
const probe = unix.SYS_GETPPID

// kernelRuleSet is a deterministic random rule set on probe whose actions
// are distinct errnos, so the child can report which rule decided.
func kernelRuleSet() (RuleSet, []linux.SeccompData) {
	r := rand.New(rand.NewPCG(7, 11))
	rs := RuleSet{Default: Allow}
	for s := 0; s < 3; s++ {
		var rules []Rule
		for n := 0; n < 6; n++ {
			// Two selective conditions, so that later rules and
			// sections get a chance to decide.
			var rule Rule
			for k := 0; k < 2; k++ {
				m := randMatch(r)
				for m.op == opAny || m.op == opNe {
					m = randMatch(r)
				}
				rule.Args[r.IntN(6)] = m
			}
			rules = append(rules, rule)
		}
		rs.Sections = append(rs.Sections, Section{Action: Errno(linux.Errno(100 + s)), Syscalls: SyscallRules{probe: rules}})
	}
	var vectors []linux.SeccompData
	for i := 0; i < 2000; i++ {
		d := randData(r, rs, NativeArch)
		d.Nr, d.Arch, d.InstructionPointer = probe, NativeArch, 0
		vectors = append(vectors, d)
	}
	return rs, vectors
}

func runChild(mode string) error {
	switch mode {
	case "vectors":
		rs, vectors := kernelRuleSet()
		p, err := Compile(rs)
		if err != nil {
			return err
		}
		if err := Install(p); err != nil {
			return err
		}
		var out strings.Builder
		for _, d := range vectors {
			a := d.Args
			_, _, e := unix.RawSyscall6(probe, uintptr(a[0]), uintptr(a[1]), uintptr(a[2]), uintptr(a[3]), uintptr(a[4]), uintptr(a[5]))
			fmt.Fprintf(&out, "%d\n", e)
		}
		_, err = os.Stdout.WriteString(out.String())
		return err
	case "tsync":
		// A thread that exists before Install and never calls it.
		ask, answer := make(chan struct{}), make(chan string)
		go func() {
			runtime.LockOSThread()
			<-ask
			_, _, e := unix.RawSyscall(probe, 0, 0, 0)
			nnp, _ := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
			answer <- fmt.Sprintf("tid %d errno %d nnp %d", unix.Gettid(), e, nnp)
		}()
		p, err := Compile(RuleSet{Sections: []Section{{Action: Errno(77), Syscalls: SyscallRules{probe: nil}}}, Default: Allow})
		if err != nil {
			return err
		}
		if err := Install(p); err != nil {
			return err
		}
		ask <- struct{}{}
		fmt.Println(<-answer, "installer", unix.Gettid())
		return nil
	case "kill":
		p, err := Compile(RuleSet{Sections: []Section{{Action: KillProcess, Syscalls: SyscallRules{probe: nil}}}, Default: Allow})
		if err != nil {
			return err
		}
		if err := Install(p); err != nil {
			return err
		}
		unix.RawSyscall(probe, 0, 0, 0)
		return errors.New("survived a killing syscall")
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

func child(t *testing.T, mode string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && stderr.Len() > 0 {
		t.Logf("child stderr: %s", stderr.String())
	}
	return string(out), err
}

// TestKernelAgrees installs a compiled program and checks that the
// kernel's decisions on real calls are the ones Evaluate predicts.
func TestKernelAgrees(t *testing.T) {
	out, err := child(t, "vectors")
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	rs, vectors := kernelRuleSet()
	p, err := Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(out)
	if len(lines) != len(vectors) {
		t.Fatalf("child reported %d results, want %d", len(lines), len(vectors))
	}
	decided := map[Action]int{}
	for i, d := range vectors {
		want, err := Evaluate(p, d)
		if err != nil {
			t.Fatal(err)
		}
		decided[want]++
		errno, _ := strconv.Atoi(lines[i])
		got := Allow
		if errno != 0 {
			got = Errno(linux.Errno(errno))
		}
		if got != want {
			t.Errorf("args %#x: kernel says %v, Evaluate %v", d.Args, got, want)
		}
	}
	// The vectors must exercise more than one outcome to mean anything.
	if len(decided) < 3 {
		t.Errorf("outcomes too uniform: %v", decided)
	}
	t.Logf("outcomes: %v", decided)
}

// TestInstallCoversAllThreads checks TSYNC: a thread that existed before
// Install, and never called it, is filtered and has no_new_privs.
func TestInstallCoversAllThreads(t *testing.T) {
	out, err := child(t, "tsync")
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	var tid, errno, nnp, installer int
	if _, err := fmt.Sscanf(out, "tid %d errno %d nnp %d installer %d", &tid, &errno, &nnp, &installer); err != nil {
		t.Fatalf("child said %q: %v", out, err)
	}
	if tid == installer {
		t.Skip("the probe ran on the installing thread; nothing learned")
	}
	if errno != 77 || nnp != 1 {
		t.Errorf("other thread: errno %d (want 77), no_new_privs %d (want 1)", errno, nnp)
	}
}

func TestKillProcess(t *testing.T) {
	_, err := child(t, "kill")
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child: %v", err)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
		t.Errorf("child ended with %v, want killed by SIGSYS", ws)
	}
}
