package filter

import (
	"testing"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/seccomp"
)

// TestHotPathCost keeps the calls made at every application syscall
// cheap to decide: each stop of an application thread makes several
// ptrace calls, a wait4, a getcpu and a clock_gettime. The bounds are the
// instruction counts of the current layout (docs/seccomp.md, "Cost").
func TestHotPathCost(t *testing.T) {
	rs, err := Rules(Options{Platform: "ptrace", PID: 100})
	if err != nil {
		t.Fatal(err)
	}
	p, err := seccomp.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		nr   uintptr
		args []uint64
		max  int
	}{
		{"ptrace (first request)", unix.SYS_PTRACE, []uint64{ptraceRequests[0], 5}, 10},
		{"ptrace (third request)", unix.SYS_PTRACE, []uint64{ptraceRequests[2], 5}, 12},
		{"clock_gettime", unix.SYS_CLOCK_GETTIME, nil, 7},
		{"wait4", unix.SYS_WAIT4, []uint64{5, 0, linux.WALL, 0}, 18},
		{"rt_sigreturn", unix.SYS_RT_SIGRETURN, nil, 9},
		{"getcpu", unix.SYS_GETCPU, nil, 11},
		{"futex", unix.SYS_FUTEX, []uint64{0, linux.FUTEX_WAKE_PRIVATE}, 18},
		{"any other allowed call", unix.SYS_STATX, nil, 22},
	} {
		d := linux.SeccompData{Nr: int32(c.nr), Arch: seccomp.NativeArch}
		copy(d.Args[:], c.args)
		act, n, err := seccomp.EvaluateSteps(p, d)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v in %d instructions", c.name, act, n)
		if act != seccomp.Allow || n > c.max {
			t.Errorf("%s: %v in %d instructions, want allow in at most %d", c.name, act, n, c.max)
		}
	}
}
