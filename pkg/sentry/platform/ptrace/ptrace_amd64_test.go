package ptrace

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

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
	platformtest.RunCounters(t, conformanceEnv{e}, []platform.AddressSpace{as}, 3, 10)
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

// conformanceEnv shows a testEnv to platformtest's shared tests.
type conformanceEnv struct{ *testEnv }

func (e conformanceEnv) Write(off int64, b []byte)              { e.write(off, b) }
func (e conformanceEnv) NewAddressSpace() platform.AddressSpace { return e.newAS() }
func (e conformanceEnv) NewContext() platform.Context           { return e.newContext() }
func (e conformanceEnv) Read(off int64, n int) []byte           { return e.read(off, n) }
func (e conformanceEnv) InitialFPState() []byte                 { return e.p.initFP }

// StubThreads implements platformtest.StubThreadCounter.
func (e conformanceEnv) StubThreads(as platform.AddressSpace) int {
	a := as.(*addressSpace)
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.threads)
}

// TestConformance runs the tests every platform passes, with this
// platform's differences.
func TestConformance(t *testing.T) {
	platformtest.Conformance(t, func(t *testing.T) platformtest.Env { return conformanceEnv{newEnv(t)} }, platformtest.Options{})
}
