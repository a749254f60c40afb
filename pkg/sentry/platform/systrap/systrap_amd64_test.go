package systrap

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/platform/platformtest"
	"appkernel.dev/appkernel/pkg/sentry/platform/stub"
	"golang.org/x/sys/unix"
)

// memFileSize is the size of the test memory file.
const memFileSize = 16 << 20

// testEnv is a platform over a fresh memory file.
type testEnv struct {
	t     testing.TB
	memFD int
	p     *Platform
}

// newEnv creates a platform, or skips the test where it cannot work.
func newEnv(t testing.TB) *testEnv {
	t.Helper()
	fd, err := unixMemfd()
	if err != nil {
		t.Fatalf("memfd: %v", err)
	}
	p, err := New(fd)
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) {
			t.Skipf("systrap unavailable here: %v", err)
		}
		t.Fatalf("New: %v", err)
	}
	e := &testEnv{t: t, memFD: fd, p: p.(*Platform)}
	t.Cleanup(func() {
		p.Release()
		unix.Close(fd)
	})
	return e
}

func unixMemfd() (int, error) {
	fd, err := unix.MemfdCreate("systrap-test", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, err
	}
	return fd, unix.Ftruncate(fd, memFileSize)
}

func (e *testEnv) write(off int64, b []byte) {
	e.t.Helper()
	if _, err := unix.Pwrite(e.memFD, b, off); err != nil {
		e.t.Fatalf("pwrite: %v", err)
	}
}

func (e *testEnv) read(off int64, n int) []byte {
	e.t.Helper()
	b := make([]byte, n)
	if _, err := unix.Pread(e.memFD, b, off); err != nil {
		e.t.Fatalf("pread: %v", err)
	}
	return b
}

func (e *testEnv) newAS() *addressSpace {
	e.t.Helper()
	as, err := e.p.NewAddressSpace()
	if err != nil {
		e.t.Fatalf("NewAddressSpace: %v", err)
	}
	return as.(*addressSpace)
}

func (e *testEnv) mapFile(as platform.AddressSpace, addr uintptr, off uint64, length uintptr, at platform.AccessType) {
	e.t.Helper()
	if err := as.MapFile(addr, off, length, at); err != nil {
		e.t.Fatalf("MapFile(%#x, %#x, %#x, %v): %v", addr, off, length, at, err)
	}
}

func (e *testEnv) newContext() platform.Context {
	e.t.Helper()
	c, err := e.p.NewContext()
	if err != nil {
		e.t.Fatalf("NewContext: %v", err)
	}
	return c
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int32) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
	if err != nil {
		return false
	}
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
		}
	}
	return false
}

// exists reports whether pid exists at all (a zombie counts).
func exists(pid int32) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(int(pid)))
	return err == nil
}

const (
	codeAddr = 0x400000
	dataAddr = 0x500000
	pg       = 0x1000
)

// loadProg writes prog at memory-file offset off and maps it at codeAddr.
func (e *testEnv) loadProg(as platform.AddressSpace, off uint64, prog []byte) {
	e.write(int64(off), prog)
	e.mapFile(as, codeAddr, off, pg, platform.AccessType{Read: true, Execute: true})
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

func TestNew(t *testing.T) {
	e := newEnv(t)
	if e.p.FPStateSize() != arch.HostXSaveSize() || len(e.p.initFP) != e.p.FPStateSize() {
		t.Errorf("FPStateSize %d, initial state %d bytes, host XSAVE %d", e.p.FPStateSize(), len(e.p.initFP), arch.HostXSaveSize())
	}
	if e.p.Name() != "systrap" || e.p.MaxUserAddress() != stub.MaxUserAddress {
		t.Errorf("Name %q MaxUserAddress %#x", e.p.Name(), e.p.MaxUserAddress())
	}
	for i := 0; i < 3; i++ {
		as := e.newAS()
		if !alive(as.pid) {
			t.Errorf("stub %d not running", as.pid)
		}
		as.Release()
		if exists(as.pid) {
			t.Errorf("stub %d left after Release", as.pid)
		}
	}
	t.Logf("FP state %d bytes, fsgsbase %v, spin %d/%d pauses", e.p.FPStateSize(), e.p.flags&flagFSGSBase != 0, e.p.sentrySpin, e.p.stubSpin)
}

func TestStubAddressSpace(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.SyscallLoop)
	mustSwitch(t, e.newContext(), as, at(codeAddr), platform.TrapSyscall)
	for _, pid := range []int32{e.p.pristine.tgid, as.pid} {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/maps")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var start, end uint64
			fmt.Sscanf(l, "%x-%x", &start, &end)
			switch {
			case start >= stub.MaxUserAddress:
			case pid == as.pid && start == codeAddr && end == codeAddr+pg:
			default:
				t.Errorf("stub %d has a mapping the application could collide with: %s", pid, l)
			}
		}
		fds, _ := os.ReadDir("/proc/" + strconv.Itoa(int(pid)) + "/fd")
		if len(fds) != 2 {
			t.Errorf("stub %d fds: %v", pid, fds)
		}
	}
	// Every stub thread's slot is mapped once, in its own process.
	// (Adjacent ones may show as one line.)
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(int(as.pid)) + "/maps")
	var total uint64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "appkernel-systrap") {
			var start, end uint64
			fmt.Sscanf(l, "%x-%x", &start, &end)
			total += end - start
		}
	}
	if total != 2*slotSize {
		t.Errorf("%#x bytes of slots mapped in a process with two threads:\n%s", total, b)
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
	pristine := e.p.pristine.tgid
	other := e.newAS()
	e.p.Release()
	for _, pid := range []int32{pristine, other.pid} {
		if exists(pid) {
			t.Errorf("stub %d still exists after platform Release", pid)
		}
	}
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

// A stub killed from outside makes Switch fail with ErrContextDead instead
// of waiting forever.
func TestStubKilled(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.Spin)
	c := e.newContext()
	go func() {
		time.Sleep(20 * time.Millisecond)
		unix.Kill(int(as.pid), unix.SIGKILL)
	}()
	if _, err := c.Switch(as, at(codeAddr)); !errors.Is(err, platform.ErrContextDead) {
		t.Fatalf("Switch in a killed stub: %v", err)
	}
	if _, err := c.Switch(as, at(codeAddr)); !errors.Is(err, platform.ErrContextDead) {
		t.Fatalf("Switch after the kill: %v", err)
	}
	as.Release()
	if exists(as.pid) {
		t.Errorf("stub %d left after Release", as.pid)
	}
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
	platformtest.Conformance(t, func(t *testing.T) platformtest.Env { return conformanceEnv{newEnv(t)} }, platformtest.Options{
		PreciseAccess:    true,
		SanitizesFPState: true,
		FSGSBaseModes:    []string{"fsgsbase", "arch_prctl"},
		SetFSGSBase: func(pe platformtest.Env, mode string) bool {
			p := pe.(conformanceEnv).p
			if mode == "arch_prctl" {
				// Only slots initialized from now on use arch_prctl.
				p.flags &^= flagFSGSBase
				return true
			}
			return p.flags&flagFSGSBase != 0
		},
	})
}

// mappedPages returns the stub's mappings of the memory file in
// [dataAddr, dataAddr+n*2*pg) as start address -> file offset.
func mappedPages(t *testing.T, as *addressSpace, n int) map[uint64]uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(as.pid)) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint64]uint64{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var start, end, off uint64
		var perms string
		fmt.Sscanf(l, "%x-%x %s %x", &start, &end, &perms, &off)
		if start >= dataAddr && start < dataAddr+uint64(n)*2*pg {
			for a := start; a < end; a += pg {
				got[a] = off + a - start
			}
		}
	}
	return got
}

// TestApplyMappings batches more changes than one command holds, with an
// invalid one among them, on the leader (no application thread yet) and
// on an idle application thread.
func TestApplyMappings(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	const n = 2*maxBatch + 5
	for round, viaThread := range []bool{false, true} {
		if viaThread {
			e.loadProg(as, 0, platformtest.SyscallLoop)
			mustSwitch(t, e.newContext(), as, at(codeAddr), platform.TrapSyscall)
		}
		var changes []platform.MappingChange
		for i := 0; i < n; i++ {
			changes = append(changes, platform.MappingChange{
				Addr: dataAddr + uintptr(i)*2*pg, Offset: uint64(round*n+i+1) * pg, Length: pg, Access: platform.Read})
		}
		bad := append(changes[:maxBatch:maxBatch], platform.MappingChange{Addr: dataAddr, Offset: 1, Length: pg, Access: platform.Read})
		changes = append(bad, changes[maxBatch:]...)
		if err := as.ApplyMappings(changes); !errors.Is(err, unix.EINVAL) {
			t.Errorf("round %d: ApplyMappings with an unaligned offset: %v, want EINVAL", round, err)
		}
		got := mappedPages(t, as, n)
		if len(got) != n {
			t.Fatalf("round %d: %d pages mapped, want %d", round, len(got), n)
		}
		for i := 0; i < n; i++ {
			if off, want := got[dataAddr+uint64(i)*2*pg], uint64(round*n+i+1)*pg; off != want {
				t.Errorf("round %d: page %d maps offset %#x, want %#x", round, i, off, want)
			}
		}
		var unmaps []platform.MappingChange
		for i := 0; i < n; i += 2 {
			unmaps = append(unmaps, platform.MappingChange{Addr: dataAddr + uintptr(i)*2*pg, Length: pg})
		}
		if err := as.ApplyMappings(unmaps); err != nil {
			t.Errorf("round %d: unmapping: %v", round, err)
		}
		if got := len(mappedPages(t, as, n)); got != n/2 {
			t.Errorf("round %d: %d pages mapped after unmapping every other one, want %d", round, got, n/2)
		}
	}
	if len(as.threads) != 1 {
		t.Errorf("%d application threads, want 1", len(as.threads))
	}
}

// TestSyncCore: the membarrier registration a stub inherits from the
// pristine stub lets a process with several threads synchronize.
func TestSyncCore(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.SyscallLoop)
	mustSwitch(t, e.newContext(), as, at(codeAddr), platform.TrapSyscall)
	start := time.Now()
	if err := as.SyncCore(); err != nil {
		t.Fatalf("SyncCore: %v", err)
	}
	t.Logf("SyncCore took %v", time.Since(start))
}
