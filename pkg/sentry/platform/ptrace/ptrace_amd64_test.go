package ptrace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/platform/platformtest"
	"appkernel.dev/appkernel/pkg/sentry/platform/stub"
)

const (
	codeAddr = 0x400000
	dataAddr = 0x500000
	page     = 0x1000
)

// loadProg writes prog at memory-file offset off and maps it at codeAddr.
func (e *testEnv) loadProg(as platform.AddressSpace, off uint64, prog []byte) {
	e.write(int64(off), prog)
	e.mapFile(as, codeAddr, off, page, platform.AccessType{Read: true, Execute: true})
}

func at(rip uint64) *arch.Context {
	ac := &arch.Context{}
	ac.Regs.Rip = rip
	ac.Regs.Eflags = 0x202
	return ac
}

func mustSwitch(t *testing.T, c platform.Context, as platform.AddressSpace, ac *arch.Context, kind platform.TrapKind) platform.Trap {
	t.Helper()
	tr, err := c.Switch(as, ac)
	if err != nil {
		t.Fatalf("Switch: %v", err)
	}
	if tr.Kind != kind {
		t.Fatalf("Switch: trap %v (info signo %d code %d addr %#x) at rip %#x, want %v",
			tr.Kind, tr.Info.Signo, tr.Info.Code, tr.Addr, ac.Regs.Rip, kind)
	}
	return tr
}

func TestFaultThenMap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		prog  []byte
		write bool
	}{{"read", platformtest.Load, false}, {"write", platformtest.Store, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			as := e.newAS()
			e.loadProg(as, 0, tc.prog)
			c := e.newContext()
			ac := at(codeAddr)
			ac.Regs.Rbx = dataAddr + 0x18
			ac.Regs.Rcx = 0xdead_beef_cafe
			ac.Regs.Rdi = 7
			tr := mustSwitch(t, c, as, ac, platform.TrapFault)
			if tr.Addr != dataAddr+0x18 {
				t.Errorf("fault address %#x, want %#x", tr.Addr, dataAddr+0x18)
			}
			if tr.Info.Signo != int32(linux.SIGSEGV) || tr.Info.Code != linux.SEGV_MAPERR {
				t.Errorf("siginfo signo %d code %d", tr.Info.Signo, tr.Info.Code)
			}
			if tr.Access.Execute {
				t.Errorf("data fault reported as execute")
			}
			if ac.Regs.Rip != codeAddr {
				t.Errorf("rip %#x, want the faulting instruction %#x", ac.Regs.Rip, codeAddr)
			}
			var v [8]byte
			binary.LittleEndian.PutUint64(v[:], 0x1122_3344_5566_7788)
			e.write(0x10018, v[:])
			e.mapFile(as, dataAddr, 0x10000, page, platform.ReadWrite)
			mustSwitch(t, c, as, ac, platform.TrapSyscall)
			if tc.write {
				if got := binary.LittleEndian.Uint64(e.read(0x10018, 8)); got != 0xdead_beef_cafe {
					t.Errorf("memory file holds %#x after the store", got)
				}
				if ac.Regs.Rdi != 7 {
					t.Errorf("rdi %d", ac.Regs.Rdi)
				}
			} else if ac.Regs.Rdi != 0x1122_3344_5566_7788 {
				t.Errorf("loaded %#x", ac.Regs.Rdi)
			}
		})
	}
}

func TestWriteToReadOnly(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.Store)
	e.mapFile(as, dataAddr, 0x10000, page, platform.Read)
	c := e.newContext()
	ac := at(codeAddr)
	ac.Regs.Rbx = dataAddr + 8
	ac.Regs.Rcx = 42
	tr := mustSwitch(t, c, as, ac, platform.TrapFault)
	if tr.Addr != dataAddr+8 || tr.Info.Code != linux.SEGV_ACCERR {
		t.Errorf("fault at %#x code %d, want %#x SEGV_ACCERR", tr.Addr, tr.Info.Code, dataAddr+8)
	}
	e.mapFile(as, dataAddr, 0x10000, page, platform.ReadWrite)
	mustSwitch(t, c, as, ac, platform.TrapSyscall)
	if got := binary.LittleEndian.Uint64(e.read(0x10008, 8)); got != 42 {
		t.Errorf("memory file holds %d", got)
	}
}

func TestExecuteFault(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.Jump)
	c := e.newContext()
	ac := at(codeAddr)
	ac.Regs.Rbx = dataAddr
	tr := mustSwitch(t, c, as, ac, platform.TrapFault)
	if tr.Addr != dataAddr || !tr.Access.Execute {
		t.Errorf("fault at %#x access %v, want %#x with execute", tr.Addr, tr.Access, dataAddr)
	}
	// Mapped without execute: the access is unknown to ptrace.
	e.mapFile(as, dataAddr, 0x10000, page, platform.Read)
	tr = mustSwitch(t, c, as, ac, platform.TrapFault)
	if tr.Addr != dataAddr || tr.Info.Code != linux.SEGV_ACCERR {
		t.Errorf("fault at %#x code %d", tr.Addr, tr.Info.Code)
	}
}

// runCounters runs n goroutines, each with its own context, for iters
// syscalls each, checking that every context's registers stay its own.
func runCounters(t *testing.T, e *testEnv, spaces []*addressSpace, n, iters int) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			as := spaces[g%len(spaces)]
			c, _ := e.p.NewContext()
			ac := at(codeAddr)
			ac.Regs.R13 = uint64(g) << 32
			for i := 0; i < iters; i++ {
				tr, err := c.Switch(as, ac)
				if err != nil {
					errs <- fmt.Errorf("goroutine %d iteration %d: %v", g, i, err)
					return
				}
				if tr.Kind != platform.TrapSyscall || ac.Regs.OrigRax != 39 || ac.Regs.R12 != uint64(i) || ac.Regs.R13 != uint64(g)<<32 {
					errs <- fmt.Errorf("goroutine %d iteration %d: trap %v orig_rax %d r12 %d r13 %#x",
						g, i, tr.Kind, ac.Regs.OrigRax, ac.Regs.R12, ac.Regs.R13)
					return
				}
				ac.Regs.Rax = uint64(g)
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestManyContextsOneAddressSpace(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.Count)
	runCounters(t, e, []*addressSpace{as}, 8, 1000)
	as.mu.Lock()
	n := len(as.threads)
	as.mu.Unlock()
	t.Logf("%d stub threads served 8 goroutines", n)
}

func TestManyContextsManyAddressSpaces(t *testing.T) {
	e := newEnv(t)
	e.write(0, platformtest.Count)
	var spaces []*addressSpace
	for i := 0; i < 4; i++ {
		as := e.newAS()
		e.mapFile(as, codeAddr, 0, page, platform.AccessType{Read: true, Execute: true})
		spaces = append(spaces, as)
	}
	runCounters(t, e, spaces, 8, 1000)
}

func TestFPState(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.XMM)
	c := e.newContext()
	if e.p.FPStateSize() < 576 {
		t.Fatalf("FPStateSize %d: smaller than legacy area + XSAVE header", e.p.FPStateSize())
	}
	ac := at(codeAddr)
	ac.FPState = append([]byte(nil), e.p.initFP...)
	// xmm0 is at byte 160 of the legacy area; XSTATE_BV (byte 512) must
	// mark SSE state present or the host loads xmm registers as zero.
	binary.LittleEndian.PutUint64(ac.FPState[160:], 0x0123_4567_89ab_cdef)
	ac.FPState[512] |= 2
	ac.Regs.Rsi = 0x5555_6666_7777_8888
	mustSwitch(t, c, as, ac, platform.TrapSyscall)
	if ac.Regs.Rdi != 0x0123_4567_89ab_cdef {
		t.Errorf("xmm0 read %#x in the application", ac.Regs.Rdi)
	}
	if got := binary.LittleEndian.Uint64(ac.FPState[176:]); got != 0x5555_6666_7777_8888 {
		t.Errorf("xmm1 saved as %#x", got)
	}
	if got := binary.LittleEndian.Uint64(ac.FPState[160:]); got != 0x0123_4567_89ab_cdef {
		t.Errorf("xmm0 saved as %#x", got)
	}
	// A context with no FP state gets the host's initial state.
	ac2 := at(codeAddr)
	mustSwitch(t, c, as, ac2, platform.TrapSyscall)
	if len(ac2.FPState) != e.p.FPStateSize() || ac2.Regs.Rdi != 0 {
		t.Errorf("fresh context: FP state %d bytes, xmm0 %#x", len(ac2.FPState), ac2.Regs.Rdi)
	}
	// The same thread, other context: no leak of xmm0 from ac.
	ac.Regs.Rip = codeAddr
	mustSwitch(t, c, as, ac, platform.TrapSyscall)
	if ac.Regs.Rdi != 0x0123_4567_89ab_cdef {
		t.Errorf("xmm0 %#x after another context ran", ac.Regs.Rdi)
	}
	bad := at(codeAddr)
	bad.FPState = make([]byte, 10)
	if _, err := c.Switch(as, bad); err == nil || errors.Is(err, platform.ErrContextDead) {
		t.Errorf("Switch with a 10-byte FP state: %v", err)
	}
}

func TestFSBase(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.FS)
	var v [8]byte
	binary.LittleEndian.PutUint64(v[:], 0xf5f5_0000_1234)
	e.write(0x30000, v[:])
	const tls = 0x700000
	e.mapFile(as, tls, 0x30000, page, platform.Read)
	c := e.newContext()
	ac := at(codeAddr)
	ac.Regs.FsBase = tls
	mustSwitch(t, c, as, ac, platform.TrapSyscall)
	if ac.Regs.Rdi != 0xf5f5_0000_1234 {
		t.Errorf("read %#x through %%fs", ac.Regs.Rdi)
	}
	if ac.Regs.FsBase != tls {
		t.Errorf("fs_base %#x after the trap", ac.Regs.FsBase)
	}
}

func TestMapFileChecksRange(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	for _, r := range [][2]uintptr{
		{stub.MaxUserAddress - page, 2 * page}, // into the stub
		{stub.Base, page},
		{0x1001, page},                        // unaligned
		{^uintptr(0) &^ (page - 1), 2 * page}, // wraps
	} {
		if err := as.MapFile(r[0], 0, r[1], platform.Read); err != linux.EINVAL {
			t.Errorf("MapFile(%#x, %#x): %v, want EINVAL", r[0], r[1], err)
		}
	}
	// Unmapping what is not mapped, or past the end, is fine and spares
	// the stub.
	as.Unmap(0x10000, page)
	as.Unmap(stub.MaxUserAddress-page, 1<<40)
	e.loadProg(as, 0, platformtest.SyscallLoop)
	mustSwitch(t, e.newContext(), as, at(codeAddr), platform.TrapSyscall)
}

// stubMappings returns the /proc/pid/maps lines of a stub process.
func stubMappings(t *testing.T, pid int32) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/maps")
	if err != nil {
		t.Fatalf("maps: %v", err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestStubAddressSpaceIsEmpty(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.SyscallLoop)
	mustSwitch(t, e.newContext(), as, at(codeAddr), platform.TrapSyscall)
	for _, pid := range []int32{e.p.pristine, as.pid} {
		for _, l := range stubMappings(t, pid) {
			var start, end uint64
			fmt.Sscanf(l, "%x-%x", &start, &end)
			switch {
			case start == stub.Base && end <= stub.End:
			case strings.HasSuffix(l, "[vsyscall]"):
			case pid == as.pid && start == codeAddr && end == codeAddr+page:
			default:
				t.Errorf("stub %d has a mapping the application could collide with: %s", pid, l)
			}
		}
	}
	// And holds only the memory file.
	fds, _ := os.ReadDir("/proc/" + strconv.Itoa(int(as.pid)) + "/fd")
	if len(fds) != 1 || fds[0].Name() != strconv.Itoa(stub.MemFD) {
		t.Errorf("stub fds: %v", fds)
	}
}

func TestReleaseReapsStubs(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.Count)
	runCounters(t, e, []*addressSpace{as}, 3, 10)
	pids := []int32{as.pid}
	as.mu.Lock()
	for _, th := range as.threads {
		pids = append(pids, th.tid)
	}
	as.mu.Unlock()
	if len(pids) < 2 {
		t.Fatalf("no stub threads")
	}
	as.Release()
	for _, pid := range pids {
		if exists(pid) {
			t.Errorf("stub %d still exists after Release", pid)
		}
	}
	pristine := e.p.pristine
	other := e.newAS()
	e.p.Release()
	for _, pid := range []int32{pristine, other.pid} {
		if exists(pid) {
			t.Errorf("stub %d still exists after platform Release", pid)
		}
	}
	// No child of ours is left, zombie or not.
	ents, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, ent := range ents {
		b, err := os.ReadFile("/proc/" + ent.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == me {
			t.Errorf("child left behind: %s", s)
		}
	}
}

// TestStubsDieWithSentry runs a platform in a child process, SIGKILLs the
// child, and checks its stubs die too.
func TestStubsDieWithSentry(t *testing.T) {
	if os.Getenv("PTRACE_TEST_HELPER") == "1" {
		helperSentry()
		return
	}
	newEnv(t) // skip where ptrace is unavailable
	cmd := exec.Command(os.Args[0], "-test.run=^TestStubsDieWithSentry$")
	cmd.Env = append(os.Environ(), "PTRACE_TEST_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
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
// one, prints the stub pids (pristine, leader, thread, idle leader), and
// waits to be killed.
func helperSentry() {
	fd, _ := unixMemfd()
	p, err := New(fd)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	as, _ := p.NewAddressSpace()
	s := as.(*addressSpace)
	prog := platformtest.SyscallLoop
	unixPwrite(fd, prog, 0)
	runtime.LockOSThread()
	if err := as.MapFile(codeAddr, 0, page, platform.AccessType{Read: true, Execute: true}); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	c, _ := p.NewContext()
	if _, err := c.Switch(as, at(codeAddr)); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	// A second address space has no traced thread: only its own
	// PR_SET_PDEATHSIG can kill its leader.
	idle, err := p.NewAddressSpace()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(p.pristine, s.pid, s.threads[gettid()].tid, idle.(*addressSpace).pid)
	select {}
}

// An Interrupt aimed at one context must never stop another that runs on
// the same stub thread afterwards (the signal may still be pending there).
func TestInterruptDoesNotLeak(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.Count)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a, b := e.newContext(), e.newContext()
	aac, bac := at(codeAddr), at(codeAddr)
	interrupted := 0
	for i := 0; i < 300; i++ {
		if i%3 == 0 {
			go a.Interrupt()
		}
		_, err := a.Switch(as, aac)
		switch err {
		case nil:
		case platform.ErrInterrupted:
			interrupted++
		default:
			t.Fatalf("a: %v", err)
		}
		if tr, err := b.Switch(as, bac); err != nil || tr.Kind != platform.TrapSyscall {
			t.Fatalf("b, iteration %d: %v %v", i, tr.Kind, err)
		}
	}
	if interrupted == 0 || interrupted > 100 {
		t.Errorf("a was interrupted %d times for 100 Interrupts", interrupted)
	}
	// A pending interrupt (Interrupts coalesce) is consumed once, and
	// then a runs again.
	time.Sleep(10 * time.Millisecond)
	_, err := a.Switch(as, aac)
	if err == platform.ErrInterrupted {
		interrupted++
		_, err = a.Switch(as, aac)
	}
	if err != nil {
		t.Fatalf("a after the interrupts: %v", err)
	}
}

// conformanceEnv shows a testEnv to platformtest's shared tests.
type conformanceEnv struct{ *testEnv }

func (e conformanceEnv) Write(off int64, b []byte)              { e.write(off, b) }
func (e conformanceEnv) NewAddressSpace() platform.AddressSpace { return e.newAS() }
func (e conformanceEnv) NewContext() platform.Context           { return e.newContext() }

// TestConformance runs the tests every platform passes identically.
func TestConformance(t *testing.T) {
	platformtest.Conformance(t, func(t *testing.T) platformtest.Env { return conformanceEnv{newEnv(t)} })
}
