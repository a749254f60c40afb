package systrap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
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
			want := platform.Read
			if tc.write {
				want = platform.AccessType{Write: true}
			}
			if tr.Access != want {
				t.Errorf("access %v, want %v", tr.Access, want)
			}
			if ac.Regs.Rip != codeAddr {
				t.Errorf("rip %#x, want the faulting instruction %#x", ac.Regs.Rip, codeAddr)
			}
			var v [8]byte
			binary.LittleEndian.PutUint64(v[:], 0x1122_3344_5566_7788)
			e.write(0x10018, v[:])
			e.mapFile(as, dataAddr, 0x10000, pg, platform.ReadWrite)
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
	e.mapFile(as, dataAddr, 0x10000, pg, platform.Read)
	c := e.newContext()
	ac := at(codeAddr)
	ac.Regs.Rbx = dataAddr + 8
	ac.Regs.Rcx = 42
	tr := mustSwitch(t, c, as, ac, platform.TrapFault)
	if tr.Addr != dataAddr+8 || tr.Info.Code != linux.SEGV_ACCERR || tr.Access != (platform.AccessType{Write: true}) {
		t.Errorf("fault at %#x code %d access %v, want %#x SEGV_ACCERR write", tr.Addr, tr.Info.Code, tr.Access, dataAddr+8)
	}
	e.mapFile(as, dataAddr, 0x10000, pg, platform.ReadWrite)
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
	exec := platform.AccessType{Execute: true}
	tr := mustSwitch(t, c, as, ac, platform.TrapFault)
	if tr.Addr != dataAddr || tr.Access != exec || tr.Info.Code != linux.SEGV_MAPERR {
		t.Errorf("fault at %#x access %v code %d, want %#x execute MAPERR", tr.Addr, tr.Access, tr.Info.Code, dataAddr)
	}
	// Mapped without execute: still an instruction fetch, which the page
	// fault error code tells (ptrace cannot).
	e.mapFile(as, dataAddr, 0x10000, pg, platform.Read)
	tr = mustSwitch(t, c, as, ac, platform.TrapFault)
	if tr.Addr != dataAddr || tr.Info.Code != linux.SEGV_ACCERR || tr.Access != exec {
		t.Errorf("fault at %#x code %d access %v", tr.Addr, tr.Info.Code, tr.Access)
	}
}

// An Interrupt aimed at one context must never stop another that runs on
// the same stub thread afterwards (the kick may still be pending there).
func TestInterruptDoesNotLeak(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.Count)
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
	time.Sleep(10 * time.Millisecond)
	_, err := a.Switch(as, aac)
	if err == platform.ErrInterrupted {
		_, err = a.Switch(as, aac)
	}
	if err != nil {
		t.Fatalf("a after the interrupts: %v", err)
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
			ac.Regs.FsBase = uint64(g) << 12
			for i := 0; i < iters; i++ {
				tr, err := c.Switch(as, ac)
				if err != nil {
					errs <- fmt.Errorf("goroutine %d iteration %d: %v", g, i, err)
					return
				}
				if tr.Kind != platform.TrapSyscall || ac.Regs.OrigRax != 39 || ac.Regs.R12 != uint64(i) ||
					ac.Regs.R13 != uint64(g)<<32 || ac.Regs.FsBase != uint64(g)<<12 {
					errs <- fmt.Errorf("goroutine %d iteration %d: trap %v orig_rax %d r12 %d r13 %#x fs %#x",
						g, i, tr.Kind, ac.Regs.OrigRax, ac.Regs.R12, ac.Regs.R13, ac.Regs.FsBase)
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
	if n < 1 || n > 8 {
		t.Errorf("%d stub threads for 8 contexts", n)
	}
	t.Logf("%d stub threads served 8 goroutines", n)
}

func TestManyContextsManyAddressSpaces(t *testing.T) {
	e := newEnv(t)
	e.write(0, platformtest.Count)
	var spaces []*addressSpace
	for i := 0; i < 4; i++ {
		as := e.newAS()
		e.mapFile(as, codeAddr, 0, pg, platform.AccessType{Read: true, Execute: true})
		spaces = append(spaces, as)
	}
	runCounters(t, e, spaces, 8, 1000)
}

func TestFPState(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	e.loadProg(as, 0, platformtest.XMM)
	c := e.newContext()
	ac := at(codeAddr)
	ac.FPState = append([]byte(nil), e.p.initFP...)
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
	// The ptrace layout: the feature mask in the software-reserved bytes.
	if got := binary.LittleEndian.Uint64(ac.FPState[464:]); got != e.p.fp.xfeatures {
		t.Errorf("sw_reserved %#x, want xfeatures %#x", got, e.p.fp.xfeatures)
	}
	ac2 := at(codeAddr)
	mustSwitch(t, c, as, ac2, platform.TrapSyscall)
	if len(ac2.FPState) != e.p.FPStateSize() || ac2.Regs.Rdi != 0 {
		t.Errorf("fresh context: FP state %d bytes, xmm0 %#x", len(ac2.FPState), ac2.Regs.Rdi)
	}
	ac.Regs.Rip = codeAddr
	mustSwitch(t, c, as, ac, platform.TrapSyscall)
	if ac.Regs.Rdi != 0x0123_4567_89ab_cdef {
		t.Errorf("xmm0 %#x after another context ran", ac.Regs.Rdi)
	}
	// Bits the host cannot restore are dropped rather than killing the
	// stub in sigreturn.
	ac.Regs.Rip = codeAddr
	binary.LittleEndian.PutUint32(ac.FPState[24:], 0xffff_ffff) // MXCSR
	binary.LittleEndian.PutUint64(ac.FPState[520:], 1<<63)      // XCOMP_BV
	mustSwitch(t, c, as, ac, platform.TrapSyscall)
	bad := at(codeAddr)
	bad.FPState = make([]byte, 10)
	if _, err := c.Switch(as, bad); err == nil || errors.Is(err, platform.ErrContextDead) {
		t.Errorf("Switch with a 10-byte FP state: %v", err)
	}
}

func TestFSBase(t *testing.T) {
	for _, fsgs := range []bool{true, false} {
		t.Run(fmt.Sprintf("fsgsbase=%v", fsgs), func(t *testing.T) {
			e := newEnv(t)
			if fsgs && e.p.flags&flagFSGSBase == 0 {
				t.Skip("no FSGSBASE on this host")
			}
			if !fsgs {
				// Only slots initialized from now on use arch_prctl.
				e.p.flags &^= flagFSGSBase
			}
			as := e.newAS()
			e.loadProg(as, 0, platformtest.FS)
			const tls1, tls2 = 0x700000, 0x710000
			for i, tls := range []uint64{tls1, tls2} {
				var v [8]byte
				binary.LittleEndian.PutUint64(v[:], 0xf5f5_0000_1234+uint64(i))
				e.write(int64(0x30000+i*pg), v[:])
				e.mapFile(as, uintptr(tls), uint64(0x30000+i*pg), pg, platform.Read)
			}
			c := e.newContext()
			for round := 0; round < 3; round++ {
				for i, tls := range []uint64{tls1, tls2} {
					ac := at(codeAddr)
					ac.Regs.FsBase = tls
					mustSwitch(t, c, as, ac, platform.TrapSyscall)
					if ac.Regs.Rdi != 0xf5f5_0000_1234+uint64(i) {
						t.Errorf("read %#x through %%fs=%#x", ac.Regs.Rdi, tls)
					}
					if ac.Regs.FsBase != tls {
						t.Errorf("fs_base %#x after the trap", ac.Regs.FsBase)
					}
				}
			}
			bad := at(codeAddr)
			bad.Regs.FsBase = 1 << 60
			if _, err := c.Switch(as, bad); err == nil || errors.Is(err, platform.ErrContextDead) {
				t.Errorf("Switch with a non-canonical fs_base: %v", err)
			}
		})
	}
}

func TestMapFileChecksRange(t *testing.T) {
	e := newEnv(t)
	as := e.newAS()
	for _, r := range [][2]uintptr{
		{stub.MaxUserAddress - pg, 2 * pg},
		{stub.Base, pg},
		{0x1001, pg},
		{^uintptr(0) &^ (pg - 1), 2 * pg},
	} {
		if err := as.MapFile(r[0], 0, r[1], platform.Read); err != linux.EINVAL {
			t.Errorf("MapFile(%#x, %#x): %v, want EINVAL", r[0], r[1], err)
		}
	}
	as.Unmap(0x10000, pg)
	as.Unmap(stub.MaxUserAddress-pg, 1<<40)
	e.loadProg(as, 0, platformtest.SyscallLoop)
	mustSwitch(t, e.newContext(), as, at(codeAddr), platform.TrapSyscall)
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

// TestConformance runs the tests every platform passes identically.
func TestConformance(t *testing.T) {
	platformtest.Conformance(t, func(t *testing.T) platformtest.Env { return conformanceEnv{newEnv(t)} })
}
