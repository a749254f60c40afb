package ptrace

import (
	"appkernel.dev/appkernel/pkg/sentry/platform/platformtest"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"appkernel.dev/appkernel/pkg/sentry/platform"
	"golang.org/x/sys/unix"
)

// TestNoForkOrExecAfterNew checks that address spaces can be created and
// run once the process may no longer fork or exec, as under the Sentry's
// seccomp filter. It runs in a child process, since seccomp filters cannot
// be removed.
func TestNoForkOrExecAfterNew(t *testing.T) {
	if os.Getenv("PTRACE_TEST_HELPER") == "seccomp" {
		helperSeccomp()
		return
	}
	newEnv(t) // skip where ptrace is unavailable
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoForkOrExecAfterNew$")
	cmd.Env = append(os.Environ(), "PTRACE_TEST_HELPER=seccomp")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "helper ok") {
		t.Fatalf("helper: %v\n%s", err, out)
	}
}

func helperSeccomp() {
	fail := func(f string, args ...any) {
		fmt.Printf("helper failed: "+f+"\n", args...)
		os.Exit(1)
	}
	fd, err := unixMemfd()
	if err != nil {
		fail("memfd: %v", err)
	}
	p, err := New(fd)
	if err != nil {
		fail("New: %v", err)
	}
	if err := denyForkExec(); err != nil {
		fail("seccomp: %v", err)
	}
	// The filter works: exec is refused.
	if _, err := syscall.ForkExec("/bin/true", []string{"true"}, nil); !errors.Is(err, unix.EPERM) {
		fail("ForkExec under the filter: %v", err)
	}
	runtime.LockOSThread()
	unixPwrite(fd, platformtest.Count, 0)
	for i := 0; i < 2; i++ {
		as, err := p.NewAddressSpace()
		if err != nil {
			fail("NewAddressSpace: %v", err)
		}
		if err := as.MapFile(codeAddr, 0, page, platform.AccessType{Read: true, Execute: true}); err != nil {
			fail("MapFile: %v", err)
		}
		c, _ := p.NewContext()
		ac := at(codeAddr)
		for j := 0; j < 10; j++ {
			if tr, err := c.Switch(as, ac); err != nil || tr.Kind != platform.TrapSyscall {
				fail("Switch: %v %v", tr.Kind, err)
			}
		}
		as.Unmap(codeAddr, page)
		as.Release()
	}
	p.Release()
	fmt.Println("helper ok")
	os.Exit(0)
}

// denyForkExec installs, on every thread, a seccomp filter that refuses
// execve, execveat, fork, vfork, clone3 and clone without CLONE_THREAD (Go
// itself still needs clone for threads).
func denyForkExec() error {
	const (
		ld    = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
		allow = unix.SECCOMP_RET_ALLOW
		errno = unix.SECCOMP_RET_ERRNO
	)
	prog := []unix.SockFilter{
		{Code: ld, K: 4}, // arch
		{Code: jeq, Jt: 0, Jf: 12, K: unix.AUDIT_ARCH_X86_64},
		{Code: ld, K: 0}, // nr
		{Code: jeq, Jt: 8, K: unix.SYS_EXECVE},
		{Code: jeq, Jt: 7, K: unix.SYS_EXECVEAT},
		{Code: jeq, Jt: 6, K: unix.SYS_FORK},
		{Code: jeq, Jt: 5, K: unix.SYS_VFORK},
		{Code: jeq, Jt: 5, K: unix.SYS_CLONE3},
		{Code: jeq, Jt: 0, Jf: 2, K: unix.SYS_CLONE},
		{Code: ld, K: 16}, // args[0], low half
		{Code: jset, Jt: 0, Jf: 1, K: unix.CLONE_THREAD},
		{Code: ret, K: allow},
		{Code: ret, K: errno | uint32(unix.EPERM)},
		{Code: ret, K: errno | uint32(unix.ENOSYS)},
		{Code: ret, K: unix.SECCOMP_RET_KILL_PROCESS},
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, e := syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return e
	}
	runtime.KeepAlive(prog)
	return nil
}
