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
	// Modes named hostnet-* run under the --network=host rules.
	opts := Options{Platform: "ptrace", HostNetwork: strings.HasPrefix(mode, "hostnet-")}
	// Modes named packet-* run with a packet link's socket.
	if strings.HasPrefix(mode, "packet-") {
		fd, err := packetChildSocket()
		if err != nil {
			fmt.Fprintln(os.Stderr, "packet socket:", err)
			return 2
		}
		opts.PacketFD = fd
	}
	if err := Install(opts); err != nil {
		fmt.Fprintln(os.Stderr, "install:", err)
		return 2
	}
	// Proof that the filter let the child get as far as the call under
	// test (write is allowed).
	fmt.Println("installed")
	if opts.PacketFD > 0 {
		return packetChild(mode, opts.PacketFD)
	}
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
	case "hostnet-allowed":
		return hostnetAllowed()
	case "hostnet-raw":
		r, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		return survived("socket(SOCK_RAW)", r, e)
	case "hostnet-blocking-socket":
		// hostinet always creates its sockets non-blocking.
		r, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM, 0)
		return survived("socket(blocking)", r, e)
	case "sockdiag":
		// The host's sock_diag is for --network=host only.
		r, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		return survived("socket(NETLINK_SOCK_DIAG)", r, e)
	case "hostnet-netlink-audit":
		r, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
		return survived("socket(NETLINK_AUDIT)", r, e)
	case "hostnet-bindtodevice":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			fmt.Println("socket:", err)
			return 4
		}
		dev := []byte("lo\x00")
		r, _, e := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, uintptr(unsafe.Pointer(&dev[0])), uintptr(len(dev)), 0)
		return survived("setsockopt(SO_BINDTODEVICE)", r, e)
	case "hostnet-ioctl-set":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			fmt.Println("socket:", err)
			return 4
		}
		// SIOCSIFFLAGS on a zeroed ifreq (no such interface) if it got
		// through.
		var ifr [40]byte
		r, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr[0])))
		return survived("ioctl(SIOCSIFFLAGS)", r, e)
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

// hostnetAllowed runs, under the --network=host rules, the host calls
// hostinet makes for a TCP connection over loopback, a UDP socket, a
// NETLINK_ROUTE socket, options and interface queries.
func hostnetAllowed() int {
	fail := func(what string, err error) int {
		fmt.Println(what+":", err)
		return 4
	}
	const nb = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|nb, 0)
	if err != nil {
		return fail("socket", err)
	}
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(ln, 1); err != nil {
		return fail("listen", err)
	}
	sa, err := unix.Getsockname(ln)
	if err != nil {
		return fail("getsockname", err)
	}
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|nb, unix.IPPROTO_TCP)
	if err != nil {
		return fail("socket", err)
	}
	if err := unix.SetsockoptInt(c, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fail("setsockopt", err)
	}
	if err := unix.Connect(c, sa); err != nil && err != unix.EINPROGRESS {
		return fail("connect", err)
	}
	if _, err := unix.GetsockoptInt(c, unix.SOL_SOCKET, unix.SO_ERROR); err != nil {
		return fail("getsockopt", err)
	}
	var a int
	for i := 0; ; i++ {
		if a, _, err = unix.Accept4(ln, nb); err == nil {
			break
		}
		if err != unix.EAGAIN || i > 1000 {
			return fail("accept4", err)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := unix.Getpeername(a); err != nil {
		return fail("getpeername", err)
	}
	if err := unix.Shutdown(c, unix.SHUT_WR); err != nil {
		return fail("shutdown", err)
	}
	if _, err := unix.IoctlGetInt(a, unix.SIOCINQ); err != nil {
		return fail("ioctl(SIOCINQ)", err)
	}
	if _, err := unix.IoctlGetInt(a, unix.SIOCGIFINDEX); err != nil && err != unix.ENODEV {
		return fail("ioctl(SIOCGIFINDEX)", err)
	}
	if _, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|nb, unix.IPPROTO_UDP); err != nil {
		return fail("socket(udp6)", err)
	}
	if _, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|nb, unix.NETLINK_ROUTE); err != nil {
		return fail("socket(netlink)", err)
	}
	if _, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|nb, unix.NETLINK_SOCK_DIAG); err != nil {
		return fail("socket(sock_diag)", err)
	}
	fmt.Println("ok")
	return 0
}

func TestHostNetworkWorkloadSurvives(t *testing.T) {
	out, err := runInChild(t, "hostnet-allowed")
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("child: %v: %s", err, out)
	}
}

func TestDisallowedCallsKill(t *testing.T) {
	for _, mode := range []string{"socket", "execve", "ptrace-attach", "mmap-exec", "fork", "kill-other", "kill-all", "wait-any", "openat", "sockdiag",
		"hostnet-raw", "hostnet-blocking-socket", "hostnet-netlink-audit", "hostnet-bindtodevice", "hostnet-ioctl-set"} {
		t.Run(mode, func(t *testing.T) { wantKilled(t, mode) })
	}
}

// wantKilled runs the child mode and checks that the filter killed it
// with SIGSYS at the call under test, after it was installed.
func wantKilled(t *testing.T, mode string) {
	t.Helper()
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
		// A pod container's gofer socket, adopted after the filter is in.
		{"socket type", call(unix.SYS_GETSOCKOPT, 5, unix.SOL_SOCKET, unix.SO_TYPE), seccomp.Allow},
		{"peer name", call(unix.SYS_GETPEERNAME, 5, 0x1000, 0x2000), seccomp.Allow},
		{"dup cloexec", call(unix.SYS_FCNTL, 5, unix.F_DUPFD_CLOEXEC, 0), seccomp.Allow},
		{"plain dup", call(unix.SYS_FCNTL, 5, unix.F_DUPFD, 0), seccomp.KillProcess},
		{"set fd flags", call(unix.SYS_FCNTL, 5, unix.F_SETFD, 0), seccomp.KillProcess},
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

// TestHostNetworkDecisions checks the --network=host additions, and that
// none of them is allowed without it.
func TestHostNetworkDecisions(t *testing.T) {
	compile := func(host bool) seccomp.Program {
		rs, err := Rules(Options{Platform: "systrap", PID: 1234, HostNetwork: host})
		if err != nil {
			t.Fatal(err)
		}
		p, err := seccomp.Compile(rs)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	host, base := compile(true), compile(false)
	const nb = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	for _, c := range []struct {
		name string
		nr   uintptr
		args []uint64
		// want is the decision with HostNetwork; without it, only
		// base calls are allowed.
		want, baseWant seccomp.Action
	}{
		{"tcp socket", unix.SYS_SOCKET, []uint64{unix.AF_INET, unix.SOCK_STREAM | nb, 0}, seccomp.Allow, seccomp.KillProcess},
		{"udp6 socket", unix.SYS_SOCKET, []uint64{unix.AF_INET6, unix.SOCK_DGRAM | nb, unix.IPPROTO_UDP}, seccomp.Allow, seccomp.KillProcess},
		{"udp over stream", unix.SYS_SOCKET, []uint64{unix.AF_INET, unix.SOCK_STREAM | nb, unix.IPPROTO_UDP}, seccomp.KillProcess, seccomp.KillProcess},
		{"netlink route", unix.SYS_SOCKET, []uint64{unix.AF_NETLINK, unix.SOCK_RAW | nb, unix.NETLINK_ROUTE}, seccomp.Allow, seccomp.KillProcess},
		{"netlink sock_diag", unix.SYS_SOCKET, []uint64{unix.AF_NETLINK, unix.SOCK_RAW | nb, unix.NETLINK_SOCK_DIAG}, seccomp.Allow, seccomp.KillProcess},
		{"netlink sock_diag blocking", unix.SYS_SOCKET, []uint64{unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_SOCK_DIAG}, seccomp.KillProcess, seccomp.KillProcess},
		{"netlink sock_diag dgram", unix.SYS_SOCKET, []uint64{unix.AF_NETLINK, unix.SOCK_DGRAM | nb, unix.NETLINK_SOCK_DIAG}, seccomp.KillProcess, seccomp.KillProcess},
		{"packet socket", unix.SYS_SOCKET, []uint64{unix.AF_PACKET, unix.SOCK_RAW | nb, 0}, seccomp.KillProcess, seccomp.KillProcess},
		{"unix socket", unix.SYS_SOCKET, []uint64{unix.AF_UNIX, unix.SOCK_STREAM | nb, 0}, seccomp.KillProcess, seccomp.KillProcess},
		{"connect", unix.SYS_CONNECT, []uint64{5, 0x1000, 16}, seccomp.Allow, seccomp.KillProcess},
		{"bind", unix.SYS_BIND, []uint64{5, 0x1000, 16}, seccomp.Allow, seccomp.KillProcess},
		{"SO_RCVBUF get", unix.SYS_GETSOCKOPT, []uint64{5, unix.SOL_SOCKET, unix.SO_RCVBUF}, seccomp.Allow, seccomp.KillProcess},
		{"SO_PEERCRED get", unix.SYS_GETSOCKOPT, []uint64{5, unix.SOL_SOCKET, unix.SO_PEERCRED}, seccomp.Allow, seccomp.Allow},
		{"TCP_NODELAY set", unix.SYS_SETSOCKOPT, []uint64{5, unix.IPPROTO_TCP, unix.TCP_NODELAY}, seccomp.Allow, seccomp.KillProcess},
		{"TCP_INFO set", unix.SYS_SETSOCKOPT, []uint64{5, unix.IPPROTO_TCP, unix.TCP_INFO}, seccomp.KillProcess, seccomp.KillProcess},
		{"SO_RCVTIMEO set (the Sentry's)", unix.SYS_SETSOCKOPT, []uint64{5, unix.SOL_SOCKET, unix.SO_RCVTIMEO}, seccomp.KillProcess, seccomp.KillProcess},
		{"SO_BINDTODEVICE set", unix.SYS_SETSOCKOPT, []uint64{5, unix.SOL_SOCKET, unix.SO_BINDTODEVICE}, seccomp.KillProcess, seccomp.KillProcess},
		{"IP_TRANSPARENT set", unix.SYS_SETSOCKOPT, []uint64{5, unix.IPPROTO_IP, unix.IP_TRANSPARENT}, seccomp.KillProcess, seccomp.KillProcess},
		{"SIOCGIFCONF", unix.SYS_IOCTL, []uint64{5, unix.SIOCGIFCONF, 0x1000}, seccomp.Allow, seccomp.KillProcess},
		{"SIOCSIFADDR", unix.SYS_IOCTL, []uint64{5, unix.SIOCSIFADDR, 0x1000}, seccomp.KillProcess, seccomp.KillProcess},
		{"TCGETS still", unix.SYS_IOCTL, []uint64{0, unix.TCGETS}, seccomp.Allow, seccomp.Allow},
		{"sendto (hostinet uses sendmsg)", unix.SYS_SENDTO, []uint64{5, 0x1000, 10, 0, 0, 0}, seccomp.KillProcess, seccomp.KillProcess},
	} {
		for _, run := range []struct {
			p    seccomp.Program
			want seccomp.Action
			mode string
		}{{host, c.want, "host"}, {base, c.baseWant, "base"}} {
			d := linux.SeccompData{Nr: int32(c.nr), Arch: seccomp.NativeArch}
			copy(d.Args[:], c.args)
			got, err := seccomp.Evaluate(run.p, d)
			if err != nil {
				t.Fatal(err)
			}
			if got != run.want {
				t.Errorf("%s (%s rules): got %v, want %v", c.name, run.mode, got, run.want)
			}
		}
	}
}
