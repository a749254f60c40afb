package systrap

import (
	"encoding/binary"
	"testing"

	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// fastProg is what a patched call site and its trampoline amount to: load
// the number and the return address, jump to fastEntry; the return
// address loops back to the start.
func fastProg(entry uintptr, nr uint32) []byte {
	const ret = 0x20
	p := make([]byte, ret+2)
	p[0] = 0xb8 // mov $nr, %eax
	binary.LittleEndian.PutUint32(p[1:], nr)
	p[5], p[6] = 0x48, 0xb9 // movabs $ret, %rcx
	binary.LittleEndian.PutUint64(p[7:], codeAddr+ret)
	p[15], p[16] = 0x49, 0xbb // movabs $entry, %r11
	binary.LittleEndian.PutUint64(p[17:], uint64(entry))
	p[25], p[26], p[27] = 0x41, 0xff, 0xe3 // jmp *%r11
	for i := 28; i < ret; i++ {
		p[i] = 0xcc
	}
	p[ret], p[ret+1] = 0xeb, 0x100-(ret+2) // jmp 0
	return p
}

const xmm0 = 160 // offset of xmm0 in the XSAVE area

// newFastEnv is newEnv with an address space running fastProg.
func newFastEnv(t *testing.T) (*testEnv, *addressSpace) {
	e := newEnv(t)
	entry := e.p.SyscallPatchEntry()
	if entry == 0 {
		t.Skip("no FSGSBASE: syscall patching is off")
	}
	as := e.newAS()
	e.loadProg(as, 0, fastProg(entry, 39))
	return e, as
}

func TestFastEntry(t *testing.T) {
	e, as := newFastEnv(t)
	e.mapFile(as, dataAddr, pg, pg, platform.ReadWrite)
	c := e.newContext()
	ac := at(codeAddr)
	ac.FPState = append([]byte(nil), e.p.initFP...)
	binary.LittleEndian.PutUint64(ac.FPState[xmm0:], 0x1122_3344_5566_7788)
	binary.LittleEndian.PutUint64(ac.FPState[512:], binary.LittleEndian.Uint64(ac.FPState[512:])|2) // SSE in use
	ac.Regs.Rbx, ac.Regs.R12, ac.Regs.R15, ac.Regs.Rbp, ac.Regs.Rsp = 1, 12, 15, 0xb0, dataAddr+0x800
	ac.Regs.FsBase = dataAddr

	check := func(round int, rbx uint64) {
		t.Helper()
		r := &ac.Regs
		if r.Rip != codeAddr+0x20 || r.Rcx != r.Rip || r.Rax != 39 || r.OrigRax != 39 || r.R11 != r.Eflags {
			t.Fatalf("round %d: rip %#x rcx %#x rax %d orig %d r11 %#x eflags %#x", round, r.Rip, r.Rcx, r.Rax, r.OrigRax, r.R11, r.Eflags)
		}
		if r.Rbx != rbx || r.R12 != 12 || r.R15 != 15 || r.Rbp != 0xb0 || r.Rsp != dataAddr+0x800 || r.FsBase != dataAddr || r.GsBase != 0 {
			t.Fatalf("round %d: registers not kept: %+v", round, *r)
		}
		if x := binary.LittleEndian.Uint64(ac.FPState[xmm0:]); x != 0x1122_3344_5566_7788 {
			t.Fatalf("round %d: xmm0 %#x", round, x)
		}
	}
	// The first call arrives through a signal frame, the later ones
	// through fastRun and fastEntry.
	for i := 0; i < 5; i++ {
		mustSwitch(t, c, as, ac, platform.TrapSyscall)
		check(i, uint64(i+1))
		ac.Regs.Rbx++
		ac.Regs.Rip = codeAddr
	}
	if n := e.p.page.fastEntry; n == 0 {
		t.Fatal("no fastEntry")
	}

	// An application gs base: fastRun leaves through the frame, and the
	// patched call reports through fallback, as the same system call.
	ac.Regs.GsBase = dataAddr
	mustSwitch(t, c, as, ac, platform.TrapSyscall)
	if ac.Regs.Rip != codeAddr+0x20 || ac.Regs.Rax != 39 || ac.Regs.GsBase != dataAddr {
		t.Fatalf("with gs: rip %#x rax %d gs %#x", ac.Regs.Rip, ac.Regs.Rax, ac.Regs.GsBase)
	}
	// gs base on an unmapped page: the magic check faults instead.
	ac.Regs.GsBase = dataAddr + 16*pg
	ac.Regs.Rip = codeAddr
	mustSwitch(t, c, as, ac, platform.TrapSyscall)
	if ac.Regs.Rip != codeAddr+0x20 || ac.Regs.Rax != 39 {
		t.Fatalf("with unmapped gs: rip %#x rax %d", ac.Regs.Rip, ac.Regs.Rax)
	}
	// And back to the fast path.
	ac.Regs.GsBase = 0
	for i := 0; i < 3; i++ {
		ac.Regs.Rip = codeAddr
		mustSwitch(t, c, as, ac, platform.TrapSyscall)
		check(100+i, ac.Regs.Rbx)
	}
}

// TestFastEntryInterrupt kicks a context over and over while it makes
// patched calls: every Switch must come back with a consistent state, a
// system call at the return address or an interrupt anywhere.
func TestFastEntryInterrupt(t *testing.T) {
	e, as := newFastEnv(t)
	c := e.newContext()
	ac := at(codeAddr)
	ac.Regs.R13 = 13
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				c.Interrupt()
			}
		}
	}()
	var calls, intr int
	for i := 0; i < 20000; i++ {
		tr, err := c.Switch(as, ac)
		switch {
		case err == platform.ErrInterrupted:
			intr++
		case err != nil:
			t.Fatalf("Switch: %v", err)
		case tr.Kind != platform.TrapSyscall:
			t.Fatalf("trap %v signo %d at %#x", tr.Kind, tr.Info.Signo, ac.Regs.Rip)
		default:
			calls++
			if ac.Regs.Rip != codeAddr+0x20 || ac.Regs.Rax != 39 {
				t.Fatalf("call %d: rip %#x rax %d", calls, ac.Regs.Rip, ac.Regs.Rax)
			}
			ac.Regs.Rip = codeAddr
		}
		if ac.Regs.R13 != 13 || ac.Regs.Rip < codeAddr || ac.Regs.Rip >= codeAddr+0x22 {
			t.Fatalf("after %d calls, %d interrupts: r13 %d rip %#x", calls, intr, ac.Regs.R13, ac.Regs.Rip)
		}
	}
	t.Logf("%d calls, %d interrupts", calls, intr)
}
