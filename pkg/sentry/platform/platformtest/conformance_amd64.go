package platformtest

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/platform"
	"appkernel.dev/appkernel/pkg/sentry/platform/stub"
)

// Env is what the shared conformance tests need of a platform's test
// environment: a memory file to write programs and data into, and the
// platform's address spaces and contexts.
type Env interface {
	// Write puts b at offset off of the memory file; Read returns n
	// bytes from offset off.
	Write(off int64, b []byte)
	Read(off int64, n int) []byte
	NewAddressSpace() platform.AddressSpace
	NewContext() platform.Context
	// InitialFPState is the FP state a context without one starts with
	// (the platform's FPStateSize bytes, in the ptrace XSAVE layout).
	InitialFPState() []byte
}

// StubThreadCounter is an Env that can tell how many host threads serve
// an address space; the many-contexts tests then check that contexts
// share them within bounds.
type StubThreadCounter interface {
	StubThreads(as platform.AddressSpace) int
}

// Options describe where platforms legitimately differ.
type Options struct {
	// PreciseAccess is set when a fault's access type is exact (read,
	// write or execute, from the page fault's error code). Without it
	// (ptrace, which sees only the signal and the address) the only
	// requirement is that a data access is not reported as execute and
	// that a jump to an unmapped address is.
	PreciseAccess bool
	// SanitizesFPState is set when the platform drops FP state bits the
	// host cannot restore (reserved MXCSR bits, XCOMP_BV) and runs the
	// context; without it such a state must fail the switch and leave
	// the context alive.
	SanitizesFPState bool
	// FSGSBaseModes, if set, lists the ways the platform can load
	// fs_base (with the FSGSBASE instructions or with arch_prctl) and
	// switches an environment to one: it returns false if the host
	// cannot (the subtest is skipped). The FS base test runs once per
	// mode; without it, once.
	FSGSBaseModes []string
	SetFSGSBase   func(e Env, mode string) bool
}

// Where the conformance tests put code and data.
const (
	CodeAddr = 0x400000
	DataAddr = 0x500000
	Page     = 0x1000
)

// Conformance runs the tests every platform must pass, each on an
// environment from newEnv; opts says where the platform may differ.
func Conformance(t *testing.T, newEnv func(t *testing.T) Env, opts Options) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, Env)
	}{
		{"SyscallTrap", syscallTrap},
		{"Signals", signals},
		{"Interrupt", interrupt},
		{"InterruptDoesNotLeak", interruptDoesNotLeak},
		{"AddressSpacesIsolated", addressSpacesIsolated},
		{"MapFileChecksRange", mapFileChecksRange},
		{"WriteToReadOnly", func(t *testing.T, e Env) { writeToReadOnly(t, e, opts) }},
		{"ExecuteFault", func(t *testing.T, e Env) { executeFault(t, e, opts) }},
		{"ManyContextsOneAddressSpace", manyContextsOneAddressSpace},
		{"ManyContextsManyAddressSpaces", manyContextsManyAddressSpaces},
		{"FPState", func(t *testing.T, e Env) { fpState(t, e, opts) }},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newEnv(t)) })
	}
	t.Run("FaultThenMap", func(t *testing.T) { faultThenMap(t, newEnv, opts) })
	t.Run("FSBase", func(t *testing.T) {
		if len(opts.FSGSBaseModes) == 0 {
			fsBase(t, newEnv(t))
			return
		}
		for _, mode := range opts.FSGSBaseModes {
			t.Run(mode, func(t *testing.T) {
				e := newEnv(t)
				if !opts.SetFSGSBase(e, mode) {
					t.Skipf("%s unavailable on this host", mode)
				}
				fsBase(t, e)
			})
		}
	})
}

func mapFile(t *testing.T, as platform.AddressSpace, addr uintptr, off uint64, length uintptr, at platform.AccessType) {
	t.Helper()
	if err := as.MapFile(addr, off, length, at); err != nil {
		t.Fatalf("MapFile(%#x, %#x, %#x, %v): %v", addr, off, length, at, err)
	}
}

// loadProg writes prog at memory-file offset off and maps it at CodeAddr.
func loadProg(t *testing.T, e Env, as platform.AddressSpace, off uint64, prog []byte) {
	t.Helper()
	e.Write(int64(off), prog)
	mapFile(t, as, CodeAddr, off, Page, platform.AccessType{Read: true, Execute: true})
}

// At is a fresh register state starting at rip.
func At(rip uint64) *arch.Context {
	ac := &arch.Context{}
	ac.Regs.Rip = rip
	ac.Regs.Eflags = 0x202
	return ac
}

// MustSwitch runs c in as until it traps, and fails t unless the trap is
// of kind.
func MustSwitch(t *testing.T, c platform.Context, as platform.AddressSpace, ac *arch.Context, kind platform.TrapKind) platform.Trap {
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

func syscallTrap(t *testing.T, e Env) {
	as := e.NewAddressSpace()
	loadProg(t, e, as, 0, SyscallArgs)
	c := e.NewContext()
	ac := At(CodeAddr)
	MustSwitch(t, c, as, ac, platform.TrapSyscall)
	r := &ac.Regs
	if r.OrigRax != 39 || r.Rax != 39 {
		t.Errorf("orig_rax %d rax %d, want 39 39", r.OrigRax, r.Rax)
	}
	if got := [6]uint64{r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9}; got != [6]uint64{1, 2, 3, 4, 5, 6} {
		t.Errorf("arguments %v", got)
	}
	if want := uint64(CodeAddr + 5 + 5*3 + 6*3 + 2); r.Rip != want {
		t.Errorf("rip %#x, want %#x (past the syscall)", r.Rip, want)
	}
	if r.Rcx != r.Rip {
		t.Errorf("rcx %#x, want the return address %#x as `syscall` sets it", r.Rcx, r.Rip)
	}
	// The return value the Sentry stores reaches the application.
	r.Rax = 0x1234
	MustSwitch(t, c, as, ac, platform.TrapSyscall)
	if r.OrigRax != 60 || r.Rdi != 0x1234 {
		t.Errorf("second syscall %d with rdi %#x, want 60 with 0x1234", r.OrigRax, r.Rdi)
	}
}

func signals(t *testing.T, e Env) {
	as := e.NewAddressSpace()
	for i, tc := range []struct {
		name string
		prog []byte
		sig  linux.Signal
		code int32
	}{
		{"ud2", UD2, linux.SIGILL, linux.ILL_ILLOPN},
		{"div0", Div0, linux.SIGFPE, linux.FPE_INTDIV},
		{"int3", Int3, linux.SIGTRAP, linux.SI_KERNEL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			off := uint64(i+1) * Page
			e.Write(int64(off), tc.prog)
			addr := uintptr(CodeAddr + (i+1)*Page)
			mapFile(t, as, addr, off, Page, platform.AccessType{Read: true, Execute: true})
			c := e.NewContext()
			tr := MustSwitch(t, c, as, At(uint64(addr)), platform.TrapSignal)
			if tr.Info.Signo != int32(tc.sig) || tr.Info.Code != tc.code {
				t.Errorf("signal %d code %d, want %d code %d", tr.Info.Signo, tr.Info.Code, tc.sig, tc.code)
			}
		})
	}
}

func interrupt(t *testing.T, e Env) {
	as := e.NewAddressSpace()
	loadProg(t, e, as, 0, Spin)
	c := e.NewContext()
	ac := At(CodeAddr)

	// Pending before Switch: returns at once.
	c.Interrupt()
	if _, err := c.Switch(as, ac); err != platform.ErrInterrupted {
		t.Fatalf("Switch after Interrupt: %v", err)
	}
	// While spinning in user code, from another goroutine.
	for i := 0; i < 20; i++ {
		done := make(chan struct{})
		go func() {
			time.Sleep(time.Duration(i%4) * time.Millisecond)
			c.Interrupt()
			close(done)
		}()
		start := time.Now()
		_, err := c.Switch(as, ac)
		<-done
		if err != platform.ErrInterrupted {
			t.Fatalf("Switch: %v, want ErrInterrupted", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("interrupt took %v", d)
		}
		if ac.Regs.Rip != CodeAddr {
			t.Fatalf("rip %#x after interrupt", ac.Regs.Rip)
		}
	}
	// A consumed interrupt does not linger: the next Switch runs (and is
	// stopped by a fresh one).
	e.Write(Page, SyscallLoop)
	mapFile(t, as, CodeAddr+Page, Page, Page, platform.AccessType{Read: true, Execute: true})
	MustSwitch(t, c, as, At(CodeAddr+Page), platform.TrapSyscall)
}

func addressSpacesIsolated(t *testing.T, e Env) {
	e.Write(0, Load)
	var spaces []platform.AddressSpace
	for i := 0; i < 3; i++ {
		as := e.NewAddressSpace()
		spaces = append(spaces, as)
		mapFile(t, as, CodeAddr, 0, Page, platform.AccessType{Read: true, Execute: true})
		var v [8]byte
		binary.LittleEndian.PutUint64(v[:], uint64(100+i))
		off := uint64(0x20000 + i*Page)
		e.Write(int64(off), v[:])
		mapFile(t, as, DataAddr, off, Page, platform.Read)
	}
	c := e.NewContext()
	for round := 0; round < 2; round++ {
		for i, as := range spaces {
			ac := At(CodeAddr)
			ac.Regs.Rbx = DataAddr
			MustSwitch(t, c, as, ac, platform.TrapSyscall)
			if ac.Regs.Rdi != uint64(100+i) {
				t.Errorf("address space %d read %d", i, ac.Regs.Rdi)
			}
		}
	}
	// Unmap in one leaves the others alone.
	spaces[0].Unmap(DataAddr, Page)
	ac := At(CodeAddr)
	ac.Regs.Rbx = DataAddr
	MustSwitch(t, c, spaces[0], ac, platform.TrapFault)
	ac = At(CodeAddr)
	ac.Regs.Rbx = DataAddr
	MustSwitch(t, c, spaces[1], ac, platform.TrapSyscall)
}

// interruptDoesNotLeak: an Interrupt aimed at one context must never stop
// another that runs on the same host thread afterwards (the kick may
// still be pending there).
func interruptDoesNotLeak(t *testing.T, e Env) {
	as := e.NewAddressSpace()
	loadProg(t, e, as, 0, Count)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a, b := e.NewContext(), e.NewContext()
	aac, bac := At(CodeAddr), At(CodeAddr)
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
		_, err = a.Switch(as, aac)
	}
	if err != nil {
		t.Fatalf("a after the interrupts: %v", err)
	}
}

// mapFileChecksRange: mappings outside the application's range (into the
// stub's, unaligned, wrapping) fail with EINVAL; unmapping what is not
// mapped, or past the end, is harmless and spares the stub.
func mapFileChecksRange(t *testing.T, e Env) {
	as := e.NewAddressSpace()
	for _, r := range [][2]uintptr{
		{stub.MaxUserAddress - Page, 2 * Page},
		{stub.Base, Page},
		{0x1001, Page},
		{^uintptr(0) &^ (Page - 1), 2 * Page},
	} {
		if err := as.MapFile(r[0], 0, r[1], platform.Read); err != linux.EINVAL {
			t.Errorf("MapFile(%#x, %#x): %v, want EINVAL", r[0], r[1], err)
		}
	}
	as.Unmap(0x10000, Page)
	as.Unmap(stub.MaxUserAddress-Page, 1<<40)
	loadProg(t, e, as, 0, SyscallLoop)
	MustSwitch(t, e.NewContext(), as, At(CodeAddr), platform.TrapSyscall)
}
