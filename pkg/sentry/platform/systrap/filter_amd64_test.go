package systrap

import (
	"appkernel.dev/appkernel/pkg/sentry/platform/platformtest"
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/seccomp"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"golang.org/x/sys/unix"
)

// The stub filter, as the kernel would run it.
func TestStubFilter(t *testing.T) {
	var prog seccomp.Program
	for _, f := range stubFilter() {
		prog = append(prog, linux.SockFilter{Code: f.Code, JT: f.Jt, JF: f.Jf, K: f.K})
	}
	if err := seccomp.Validate(prog); err != nil {
		t.Fatalf("invalid program: %v", err)
	}
	for _, tc := range []struct {
		name string
		nr   int32
		arch uint32
		ip   uint64
		want uint32
	}{
		{"app getpid", unix.SYS_GETPID, linux.AUDIT_ARCH_X86_64, 0x401000, linux.SECCOMP_RET_TRAP},
		{"app futex", unix.SYS_FUTEX, linux.AUDIT_ARCH_X86_64, 0x401000, linux.SECCOMP_RET_TRAP},
		{"app i386", 20, linux.AUDIT_ARCH_I386, codeBase + 0x200, linux.SECCOMP_RET_TRAP},
		{"app in stub package page", unix.SYS_MMAP, linux.AUDIT_ARCH_X86_64, codeBase - 0x100, linux.SECCOMP_RET_TRAP},
		{"app above the page", unix.SYS_MMAP, linux.AUDIT_ARCH_X86_64, codeBase + codeSize + 2, linux.SECCOMP_RET_TRAP},
		{"app, same low half", unix.SYS_MMAP, linux.AUDIT_ARCH_X86_64, codeBase&0xffffffff + 0x200, linux.SECCOMP_RET_TRAP},
		{"stub futex", unix.SYS_FUTEX, linux.AUDIT_ARCH_X86_64, codeBase + 0x200, linux.SECCOMP_RET_ALLOW},
		{"stub rt_sigreturn at page end", unix.SYS_RT_SIGRETURN, linux.AUDIT_ARCH_X86_64, codeBase + codeSize, linux.SECCOMP_RET_ALLOW},
		{"stub mmap", unix.SYS_MMAP, linux.AUDIT_ARCH_X86_64, codeBase + 0x300, linux.SECCOMP_RET_ALLOW},
		// SyncCore's membarrier, for rewriting patched call sites.
		{"stub membarrier", unix.SYS_MEMBARRIER, linux.AUDIT_ARCH_X86_64, codeBase + 0x300, linux.SECCOMP_RET_ALLOW},
		{"app membarrier", unix.SYS_MEMBARRIER, linux.AUDIT_ARCH_X86_64, 0x401000, linux.SECCOMP_RET_TRAP},
		{"stub openat", unix.SYS_OPENAT, linux.AUDIT_ARCH_X86_64, codeBase + 0x300, linux.SECCOMP_RET_KILL_PROCESS},
		{"stub execve", unix.SYS_EXECVE, linux.AUDIT_ARCH_X86_64, codeBase + 0x300, linux.SECCOMP_RET_KILL_PROCESS},
	} {
		got, err := seccomp.Evaluate(prog, linux.SeccompData{Nr: tc.nr, Arch: tc.arch, InstructionPointer: tc.ip})
		if err != nil || uint32(got) != tc.want {
			t.Errorf("%s: %#x %v, want %#x", tc.name, uint32(got), err, tc.want)
		}
	}
}

// A system call the application makes from the handler page outside the
// allowed set kills its own stub process, and only that.
func TestForbiddenStubSyscall(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	// Jump to the handler page's `syscall; mov %rax, ret(%rbx)` with
	// openat in rax: the filter kills the stub process.
	e.loadProg(as, 0, platformtest.Jump)
	c := e.newContext()
	ac := at(codeAddr)
	ac.Regs.Rbx = uint64(e.p.page.syscallInsn)
	ac.Regs.Rax = unix.SYS_OPENAT
	if _, err := c.Switch(as, ac); !errors.Is(err, platform.ErrContextDead) {
		t.Fatalf("Switch: %v, want ErrContextDead", err)
	}
	// Other address spaces are unaffected.
	other := e.newAS()
	e.loadProg(other, 0, platformtest.SyscallLoop)
	mustSwitch(t, c, other, at(codeAddr), platform.TrapSyscall)
}

// TestStubsDieWithSentry runs a platform in a child process, SIGKILLs the
// child, and checks its stubs die too.
func TestStubsDieWithSentry(t *testing.T) {
	if os.Getenv("SYSTRAP_TEST_HELPER") == "1" {
		helperSentry()
		return
	}
	newEnv(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestStubsDieWithSentry$")
	cmd.Env = append(os.Environ(), "SYSTRAP_TEST_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var pids []int32
	for _, f := range strings.Fields(line) {
		v, _ := strconv.Atoi(f)
		pids = append(pids, int32(v))
	}
	if len(pids) < 4 {
		t.Fatalf("helper said %q", line)
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("stub %d not running before the kill", pid)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("stub %d survived its Sentry", pid)
		}
	}
}

// helperSentry creates a platform with a running address space and an idle
// one, prints the stub pids (pristine, leader, app thread, idle leader),
// and waits to be killed.
func helperSentry() {
	fd, _ := unixMemfd()
	pl, err := New(fd)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	p := pl.(*Platform)
	as, _ := p.NewAddressSpace()
	s := as.(*addressSpace)
	unix.Pwrite(fd, platformtest.SyscallLoop, 0)
	if err := as.MapFile(codeAddr, 0, pg, platform.AccessType{Read: true, Execute: true}); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	c, _ := p.NewContext()
	if _, err := c.Switch(as, at(codeAddr)); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	idle, err := p.NewAddressSpace()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(p.pristine.tgid, s.pid, s.threads[0].tid, idle.(*addressSpace).pid)
	// Wait to be killed. Not with select{}: with every goroutine blocked
	// on channels the runtime calls it a deadlock and exits, which kills
	// the stubs early.
	for {
		time.Sleep(time.Hour)
	}
}

// TestNoForkOrExecAfterNew checks that address spaces can be created and
// run once the process may no longer fork, exec or ptrace, as under the
// Sentry's seccomp filter. It runs in a child process, since seccomp
// filters cannot be removed.
func TestNoForkOrExecAfterNew(t *testing.T) {
	if os.Getenv("SYSTRAP_TEST_HELPER") == "seccomp" {
		helperSeccomp()
		return
	}
	newEnv(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoForkOrExecAfterNew$")
	cmd.Env = append(os.Environ(), "SYSTRAP_TEST_HELPER=seccomp")
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
	if _, err := syscall.ForkExec("/bin/true", []string{"true"}, nil); !errors.Is(err, unix.EPERM) {
		fail("ForkExec under the filter: %v", err)
	}
	runtime.LockOSThread()
	unix.Pwrite(fd, platformtest.Count, 0)
	for i := 0; i < 2; i++ {
		as, err := p.NewAddressSpace()
		if err != nil {
			fail("NewAddressSpace: %v", err)
		}
		if err := as.MapFile(codeAddr, 0, pg, platform.AccessType{Read: true, Execute: true}); err != nil {
			fail("MapFile: %v", err)
		}
		for g := 0; g < 2; g++ {
			c, _ := p.NewContext()
			ac := at(codeAddr)
			for j := 0; j < 10; j++ {
				if tr, err := c.Switch(as, ac); err != nil || tr.Kind != platform.TrapSyscall {
					fail("Switch: %v %v", tr.Kind, err)
				}
			}
			c.Interrupt()
			if _, err := c.Switch(as, ac); err != platform.ErrInterrupted {
				fail("Switch after Interrupt: %v", err)
			}
		}
		as.Unmap(codeAddr, pg)
		as.Release()
	}
	p.Release()
	fmt.Println("helper ok")
	os.Exit(0)
}

// denyForkExec installs, on every thread, a seccomp filter that refuses
// execve, execveat, fork, vfork, clone3, ptrace and clone without
// CLONE_THREAD (Go itself still needs clone for threads).
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
		{Code: jeq, Jt: 0, Jf: 13, K: unix.AUDIT_ARCH_X86_64},
		{Code: ld, K: 0}, // nr
		{Code: jeq, Jt: 9, K: unix.SYS_EXECVE},
		{Code: jeq, Jt: 8, K: unix.SYS_EXECVEAT},
		{Code: jeq, Jt: 7, K: unix.SYS_FORK},
		{Code: jeq, Jt: 6, K: unix.SYS_VFORK},
		{Code: jeq, Jt: 5, K: unix.SYS_PTRACE},
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
