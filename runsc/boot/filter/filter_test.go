package filter

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/seccomp"
	"appkernel.dev/appkernel/pkg/sentry/platform/ptrace"
	"appkernel.dev/appkernel/pkg/sentry/platform/systrap"
	sys "appkernel.dev/appkernel/pkg/sentry/syscalls/linux"
)

const childEnv = "BOOT_FILTER_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	os.Exit(m.Run())
}

// runChild installs the Sentry's filter and then makes the call mode
// names. It returns 0 when the allowed workload completes, 3 when a call
// that should have killed it returned.
func runChild(mode string) int {
	ppid := uintptr(os.Getppid()) // getppid is not on the list
	if err := Install(Options{Platform: "ptrace"}); err != nil {
		fmt.Fprintln(os.Stderr, "install:", err)
		return 2
	}
	// Proof that the filter let the child get as far as the call under
	// test (write is allowed).
	fmt.Println("installed")
	survived := func(what string, r1 uintptr, errno syscall.Errno) int {
		fmt.Printf("%s returned %d, errno %v\n", what, r1, errno)
		return 3
	}
	switch mode {
	case "allowed":
		// What the Sentry's Go runtime does all day, under the filter:
		// new threads (clone), futexes, timers, GC, signals to itself
		// (preemption), and a few of the Sentry's own calls.
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread() // forces extra OS threads
				buf := make([]byte, 1<<20)
				for j := range buf {
					buf[j] = byte(j)
				}
				time.Sleep(5 * time.Millisecond)
			}()
		}
		wg.Wait()
		runtime.GC()
		if _, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(new(uint32))), 0, 0); e != 0 {
			fmt.Println("getcpu:", e)
			return 4
		}
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
			fmt.Println("clock_gettime:", err)
			return 4
		}
		// A wait4 for a pid that is not our child: allowed, ECHILD.
		if _, err := unix.Wait4(int(ppid), nil, unix.WALL, nil); err != unix.ECHILD {
			fmt.Println("wait4:", err)
			return 4
		}
		fmt.Println("ok")
		return 0
	case "socket":
		r, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM, 0)
		return survived("socket", r, e)
	case "execve":
		path, _ := unix.BytePtrFromString("/bin/true")
		argv := []*byte{path, nil}
		r, _, e := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(&argv[0])), 0)
		return survived("execve", r, e)
	case "ptrace-attach":
		// Not a request the platform makes.
		r, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_ATTACH, ppid, 0, 0, 0, 0)
		return survived("ptrace(PTRACE_ATTACH)", r, e)
	case "mmap-exec":
		r, _, e := unix.RawSyscall6(unix.SYS_MMAP, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uintptr(0), 0)
		return survived("mmap(PROT_EXEC)", r, e)
	case "fork":
		// Process-creating flags. CLONE_SIGHAND without CLONE_VM is
		// EINVAL, so nothing is created if the filter lets it through.
		r, _, e := unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_SIGHAND|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
		return survived("clone(fork)", r, e)
	case "kill-other":
		// Signal 0 to our parent: harmless if it got through.
		r, _, e := unix.RawSyscall(unix.SYS_KILL, ppid, 0, 0)
		return survived("kill(ppid, 0)", r, e)
	case "kill-all":
		// kill(-1, SIGKILL) must die before it reaches the kernel; send
		// signal 0 instead so that a failing filter does no harm.
		r, _, e := unix.RawSyscall(unix.SYS_KILL, ^uintptr(0), 0, 0)
		return survived("kill(-1, 0)", r, e)
	case "wait-any":
		r, _, e := unix.RawSyscall6(unix.SYS_WAIT4, ^uintptr(0), 0, unix.WALL|unix.WNOHANG, 0, 0, 0)
		return survived("wait4(-1)", r, e)
	case "openat":
		path, _ := unix.BytePtrFromString("/etc/passwd")
		fdcwd := unix.AT_FDCWD
		r, _, e := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(fdcwd), uintptr(unsafe.Pointer(path)), unix.O_RDONLY, 0, 0, 0)
		return survived("openat", r, e)
	}
	fmt.Fprintln(os.Stderr, "unknown mode", mode)
	return 2
}

func runInChild(t *testing.T, mode string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestAllowedWorkloadSurvives(t *testing.T) {
	out, err := runInChild(t, "allowed")
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("child: %v: %s", err, out)
	}
}

func TestDisallowedCallsKill(t *testing.T) {
	for _, mode := range []string{"socket", "execve", "ptrace-attach", "mmap-exec", "fork", "kill-other", "kill-all", "wait-any", "openat"} {
		t.Run(mode, func(t *testing.T) {
			out, err := runInChild(t, mode)
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child: %v: %s", err, out)
			}
			if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
				t.Errorf("child ended with %v, want killed by SIGSYS: %s", ws, out)
			}
			if !strings.Contains(out, "installed") {
				t.Errorf("child died before the call under test: %s", out)
			}
		})
	}
}

// TestCoversPlatform checks that every call a platform declares in its
// RuntimeSyscalls has a rule: the platform's list is the contract.
func TestCoversPlatform(t *testing.T) {
	byName := map[string]uintptr{}
	for nr, s := range sys.Table.All() {
		byName[s.Name] = nr
	}
	for platform, calls := range map[string][]string{"ptrace": ptrace.RuntimeSyscalls, "systrap": systrap.RuntimeSyscalls} {
		rs, err := Rules(Options{Platform: platform})
		if err != nil {
			t.Fatal(err)
		}
		allowed := rs.Sections[0].Syscalls
		for _, name := range calls {
			nr, ok := byName[name]
			if !ok {
				t.Errorf("%s: %s: unknown syscall", platform, name)
				continue
			}
			if _, ok := allowed[nr]; !ok {
				t.Errorf("%s (%s.RuntimeSyscalls) is not allowed", name, platform)
			}
		}
	}
}

func TestRulesRefuse(t *testing.T) {
	if _, err := Rules(Options{Platform: "kvm"}); err == nil {
		t.Error("rules for a platform that does not exist")
	}
	if _, err := Rules(Options{Platform: "ptrace", HostNetwork: true}); err == nil {
		t.Error("rules for host networking, which does not exist")
	}
}

// TestDecisions spot-checks the compiled program in Go, on arguments the
// child tests cannot safely make real.
func TestDecisions(t *testing.T) {
	const pid = 1234
	rs, err := Rules(Options{Platform: "ptrace", PID: pid})
	if err != nil {
		t.Fatal(err)
	}
	p, err := seccomp.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	call := func(nr uintptr, args ...uint64) linux.SeccompData {
		d := linux.SeccompData{Nr: int32(nr), Arch: seccomp.NativeArch}
		copy(d.Args[:], args)
		return d
	}
	neg := func(v int64) uint64 { return uint64(v) }
	for _, c := range []struct {
		name string
		d    linux.SeccompData
		want seccomp.Action
	}{
		{"tgkill self SIGURG", call(unix.SYS_TGKILL, pid, 99, uint64(unix.SIGURG)), seccomp.Allow},
		{"tgkill stub SIGSTOP", call(unix.SYS_TGKILL, 777, 778, uint64(unix.SIGSTOP)), seccomp.Allow},
		{"tgkill stub SIGKILL", call(unix.SYS_TGKILL, 777, 778, uint64(unix.SIGKILL)), seccomp.KillProcess},
		{"kill stub SIGKILL", call(unix.SYS_KILL, 777, uint64(unix.SIGKILL)), seccomp.Allow},
		{"kill -1 SIGKILL", call(unix.SYS_KILL, neg(-1), uint64(unix.SIGKILL)), seccomp.KillProcess},
		{"kill group SIGKILL", call(unix.SYS_KILL, 0, uint64(unix.SIGKILL)), seccomp.KillProcess},
		{"futex wait private", call(unix.SYS_FUTEX, 0x1000, linux.FUTEX_WAIT_PRIVATE), seccomp.Allow},
		{"futex shared wait", call(unix.SYS_FUTEX, 0x1000, linux.FUTEX_WAIT), seccomp.KillProcess},
		{"clone thread", call(unix.SYS_CLONE, 0xd0f00), seccomp.Allow},
		{"clone newuser thread", call(unix.SYS_CLONE, 0xd0f00|unix.CLONE_NEWUSER), seccomp.KillProcess},
		{"memfd mmap", call(unix.SYS_MMAP, 0x7f0000000000, 1<<21, 3, 0x4011, 5, 0), seccomp.Allow},
		{"kcmp file", call(unix.SYS_KCMP, pid, pid, 0, 1, 2), seccomp.Allow},
		{"kcmp other", call(unix.SYS_KCMP, pid, 1, 0, 1, 2), seccomp.KillProcess},
		{"utimensat fd", call(unix.SYS_UTIMENSAT, 5, 0, 0x1000, 0), seccomp.Allow},
		{"utimensat path", call(unix.SYS_UTIMENSAT, neg(-100), 0x1000, 0, 0), seccomp.KillProcess},
		{"ioctl TCGETS", call(unix.SYS_IOCTL, 0, unix.TCGETS), seccomp.Allow},
		{"ioctl TIOCSTI", call(unix.SYS_IOCTL, 0, unix.TIOCSTI), seccomp.KillProcess},
		{"ptrace SYSEMU", call(unix.SYS_PTRACE, unix.PTRACE_SYSEMU, 777), seccomp.Allow},
		{"ptrace POKEDATA", call(unix.SYS_PTRACE, unix.PTRACE_POKEDATA, 777), seccomp.KillProcess},
		{"peer credentials", call(unix.SYS_GETSOCKOPT, 5, unix.SOL_SOCKET, unix.SO_PEERCRED), seccomp.Allow},
		{"other socket option", call(unix.SYS_GETSOCKOPT, 5, unix.SOL_SOCKET, unix.SO_RCVBUF), seccomp.KillProcess},
		{"no core file", call(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_CORE, 0x1000, 0), seccomp.Allow},
		{"raise NOFILE", call(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_NOFILE, 0x1000, 0), seccomp.KillProcess},
		{"another process's limits", call(unix.SYS_PRLIMIT64, 777, unix.RLIMIT_CORE, 0x1000, 0), seccomp.KillProcess},
		{"membarrier private", call(unix.SYS_MEMBARRIER, linux.MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0), seccomp.KillProcess},
	} {
		got, err := seccomp.Evaluate(p, c.d)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
