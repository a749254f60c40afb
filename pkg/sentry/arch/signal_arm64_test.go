package arch

import (
	"bytes"
	"errors"
	"math/rand"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

const (
	testHandler    = 0x401000
	testRestorer   = 0x402000
	testTrampoline = 0x7fff0000_0800
)

var noAltStack = linux.SignalStack{Flags: linux.SS_DISABLE}

// The arm64 frame sizes and offsets are fixed by the kernel's uapi headers
// (asm/sigcontext.h, asm/ucontext.h); glibc's ucontext_t is the same
// 4560 bytes.
func TestSignalFrameLayoutARM64(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"sigcontext.__reserved size", SigcontextReservedSize, 4096},
		{"offsetof(sigcontext, sp)", scSP, 256},
		{"offsetof(sigcontext, pstate)", scPstate, 272},
		{"offsetof(sigcontext, __reserved)", scReserved, 288},
		{"sizeof(struct sigcontext)", sizeofSigcontext, 4384},
		{"offsetof(ucontext, uc_sigmask)", ucSigmask, 40},
		{"offsetof(ucontext, uc_mcontext)", ucMcontext, 176},
		{"sizeof(struct ucontext)", SizeofUcontext, 4560},
		{"sizeof(struct rt_sigframe)", SizeofRtSigframe, 4688},
		{"__reserved from the frame", frUC + ucMcontext + scReserved, 592},
		{"sizeof(struct fpsimd_context)", SizeofFPSIMDContext, 528},
		{"sizeof(struct user_fpsimd_state)", FPSIMDStateSize, 528},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if SizeofRtSigframe%16 != 0 {
		t.Errorf("frame size %d breaks 16-byte stack alignment", SizeofRtSigframe)
	}
}

func randomContextARM64(rng *rand.Rand, sp uint64) *Context {
	c := NewContext(FPStateSize)
	for i := range c.Regs.Regs {
		c.Regs.Regs[i] = rng.Uint64()
	}
	c.Regs.Sp = sp
	c.Regs.Pc = rng.Uint64()
	c.Regs.Pstate = rng.Uint64() & pstateNZCV
	rng.Read(c.FPState[:FPSIMDStateSize-8])
	c.SetTLS(0x7f00_1234_5670)
	return c
}

func testActionARM64(flags uint64) linux.SigAction {
	return linux.SigAction{Handler: testHandler, Restorer: testRestorer, Flags: flags | linux.SA_RESTORER | linux.SA_SIGINFO}
}

func TestSignalRoundTripARM64(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	mem := newTestMemory(0x10000, 1<<16)
	for i := 0; i < 50; i++ {
		ctx := randomContextARM64(rng, uint64(mem.top())-uint64(rng.Intn(4096)))
		before := ctx.Fork()
		d := &SignalDelivery{Action: testActionARM64(0), AltStack: noAltStack,
			OldMask: linux.SignalSet(rng.Uint64()), Fault: FaultContext{Addr: 0xbad0, Code: 0x92000047}}
		d.Info.Signo = int32(linux.SIGBUS)
		sp, err := SignalSetup(ctx, mem, d)
		if err != nil {
			t.Fatal(err)
		}
		if sp%16 != 0 {
			t.Fatalf("handler sp %#x not 16-aligned", sp)
		}
		r := ctx.Regs
		if r.Regs[0] != uint64(linux.SIGBUS) || r.Regs[1] != uint64(sp)+frInfo || r.Regs[2] != uint64(sp)+frUC ||
			r.Regs[29] != uint64(sp)+SizeofRtSigframe || r.Regs[30] != testRestorer || r.Pc != testHandler || r.Sp != uint64(sp) {
			t.Fatalf("handler entry regs %+v", r)
		}
		var rec [16]byte
		mem.CopyIn(sp+SizeofRtSigframe, rec[:])
		if le.Uint64(rec[:]) != before.Regs.Regs[29] || le.Uint64(rec[8:]) != before.Regs.Regs[30] {
			t.Fatalf("frame record %x", rec)
		}
		if !bytes.Equal(ctx.FPState, before.FPState) {
			t.Fatalf("FP state changed for the handler")
		}
		// The handler clobbers registers, then returns via the restorer
		// with sp back at the frame.
		for j := range ctx.Regs.Regs {
			ctx.Regs.Regs[j] = rng.Uint64()
		}
		rng.Read(ctx.FPState[:FPSIMDStateSize-8])
		ctx.Regs.Sp = uint64(sp)
		mask, alt, err := SignalRestore(ctx, mem)
		if err != nil {
			t.Fatal(err)
		}
		if mask != d.OldMask || alt != d.AltStack {
			t.Errorf("mask %#x alt %+v", mask, alt)
		}
		if ctx.Regs != before.Regs {
			t.Fatalf("regs\n%+v\nwant\n%+v", ctx.Regs, before.Regs)
		}
		if !bytes.Equal(ctx.FPState[:FPSIMDStateSize-8], before.FPState[:FPSIMDStateSize-8]) || ctx.TLS() != before.TLS() {
			t.Fatalf("FP state or TLS not restored")
		}
	}
}

// frameRecords returns the __reserved area of the frame at sp.
func frameRecords(mem *testMemory, sp uintptr) []byte {
	b, _ := mem.slice(sp+frUC+ucMcontext+scReserved, SigcontextReservedSize)
	return b
}

func TestSignalFrameRecordsARM64(t *testing.T) {
	mem := newTestMemory(0x10000, 1<<16)
	ctx := randomContextARM64(rand.New(rand.NewSource(2)), uint64(mem.top()))
	d := &SignalDelivery{Action: testActionARM64(0), AltStack: noAltStack, Fault: FaultContext{Addr: 0x1234, Code: 0x92000046}}
	sp, err := SignalSetup(ctx, mem, d)
	if err != nil {
		t.Fatal(err)
	}
	recs := frameRecords(mem, sp)
	if le.Uint32(recs) != 0x46508001 || le.Uint32(recs[4:]) != 528 {
		t.Fatalf("first record %#x size %d", le.Uint32(recs), le.Uint32(recs[4:]))
	}
	if le.Uint32(recs[528:]) != 0x45535201 || le.Uint32(recs[532:]) != 16 || le.Uint64(recs[536:]) != 0x92000046 {
		t.Fatalf("esr record %x", recs[528:544])
	}
	if !allZero(recs[544:552]) {
		t.Fatalf("no terminator")
	}
	var fa [8]byte
	mem.CopyIn(sp+frUC+ucMcontext+scFaultAddress, fa[:])
	if le.Uint64(fa[:]) != 0x1234 {
		t.Errorf("fault_address %#x", le.Uint64(fa[:]))
	}
}

func allZero(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}

func TestSignalRestorerARM64(t *testing.T) {
	mem := newTestMemory(0x10000, 1<<16)
	for _, tc := range []struct {
		name       string
		act        linux.SigAction
		trampoline uint64
		want       uint64
	}{
		{"SA_RESTORER", testActionARM64(0), testTrampoline, testRestorer},
		{"vDSO trampoline", linux.SigAction{Handler: testHandler, Flags: linux.SA_SIGINFO}, testTrampoline, testTrampoline},
		{"nowhere to return", linux.SigAction{Handler: testHandler}, 0, 0},
	} {
		ctx := NewContext(FPStateSize)
		ctx.Regs.Sp = uint64(mem.top())
		ctx.Regs.Regs[1] = 77
		_, err := SignalSetup(ctx, mem, &SignalDelivery{Action: tc.act, AltStack: noAltStack, Trampoline: tc.trampoline})
		if tc.want == 0 {
			if !errors.Is(err, ErrNoRestorer) {
				t.Errorf("%s: err %v", tc.name, err)
			}
			continue
		}
		if err != nil || ctx.Regs.Regs[30] != tc.want {
			t.Errorf("%s: err %v x30 %#x", tc.name, err, ctx.Regs.Regs[30])
		}
		if tc.act.Flags&linux.SA_SIGINFO == 0 && ctx.Regs.Regs[1] != 77 {
			t.Errorf("%s: x1 set without SA_SIGINFO", tc.name)
		}
	}
}

func TestSignalAltStackARM64(t *testing.T) {
	mem := newTestMemory(0x100000, 1<<20)
	alt := linux.SignalStack{Addr: 0x110000, Size: 0x10000}
	top := alt.Addr + alt.Size
	for _, tc := range []struct {
		name  string
		flags uint64
		sp    uint64
		want  uint64
	}{
		{"switch to the top", linux.SA_ONSTACK, uint64(mem.top()) - 32, top - 16 - SizeofRtSigframe},
		{"nested continues below sp", linux.SA_ONSTACK, top - 0x1008, (top-0x1008-16)&^15 - SizeofRtSigframe},
		{"no SA_ONSTACK", 0, uint64(mem.top()) - 40, (uint64(mem.top())-40-16)&^15 - SizeofRtSigframe},
	} {
		ctx := NewContext(FPStateSize)
		ctx.Regs.Sp = tc.sp
		sp, err := SignalSetup(ctx, mem, &SignalDelivery{Action: testActionARM64(tc.flags), AltStack: alt})
		if err != nil || uint64(sp) != tc.want {
			t.Errorf("%s: frame %#x err %v, want %#x", tc.name, sp, err, tc.want)
		}
	}
}

func TestSignalRestoreRejectsARM64(t *testing.T) {
	setup := func() (*Context, *testMemory, uintptr) {
		mem := newTestMemory(0x10000, 1<<16)
		ctx := randomContextARM64(rand.New(rand.NewSource(3)), uint64(mem.top()))
		sp, err := SignalSetup(ctx, mem, &SignalDelivery{Action: testActionARM64(0), AltStack: noAltStack,
			OldMask: linux.MakeSignalSet(linux.SIGTERM)})
		if err != nil {
			t.Fatal(err)
		}
		return ctx, mem, sp
	}
	put32 := func(b []byte, v uint32) { le.PutUint32(b, v) }
	for _, tc := range []struct {
		name    string
		corrupt func(mem *testMemory, sp uintptr)
	}{
		{"EL1h", func(mem *testMemory, sp uintptr) {
			b, _ := mem.slice(sp+frUC+ucMcontext+scPstate, 8)
			le.PutUint64(b, 5)
		}},
		{"AArch32", func(mem *testMemory, sp uintptr) {
			b, _ := mem.slice(sp+frUC+ucMcontext+scPstate, 8)
			le.PutUint64(b, pstateMode32)
		}},
		{"IRQs masked", func(mem *testMemory, sp uintptr) {
			b, _ := mem.slice(sp+frUC+ucMcontext+scPstate, 8)
			le.PutUint64(b, pstateI)
		}},
		{"no fpsimd record", func(mem *testMemory, sp uintptr) { clear(frameRecords(mem, sp)[:8]) }},
		{"fpsimd record of the wrong size", func(mem *testMemory, sp uintptr) { put32(frameRecords(mem, sp)[4:], 512) }},
		{"SVE record", func(mem *testMemory, sp uintptr) {
			r := frameRecords(mem, sp)
			put32(r[528:], 0x53564501)
			put32(r[532:], 16)
		}},
		{"terminator with a size", func(mem *testMemory, sp uintptr) { put32(frameRecords(mem, sp)[532:], 16) }},
		{"record overrunning the area", func(mem *testMemory, sp uintptr) {
			r := frameRecords(mem, sp)
			put32(r[528:], esrMagic)
			put32(r[532:], 8192)
		}},
		{"two fpsimd records", func(mem *testMemory, sp uintptr) {
			r := frameRecords(mem, sp)
			copy(r[528:], r[:528])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, mem, sp := setup()
			tc.corrupt(mem, sp)
			before := ctx.Fork()
			mask, _, err := SignalRestore(ctx, mem)
			if !errors.Is(err, ErrBadSignalFrame) {
				t.Fatalf("err = %v, want ErrBadSignalFrame", err)
			}
			if mask != linux.MakeSignalSet(linux.SIGTERM) {
				t.Errorf("mask %#x", mask)
			}
			if ctx.Regs != before.Regs || !bytes.Equal(ctx.FPState, before.FPState) {
				t.Errorf("bad frame changed the thread")
			}
		})
	}

	t.Run("misaligned sp", func(t *testing.T) {
		ctx, mem, sp := setup()
		ctx.Regs.Sp = uint64(sp) + 8
		if _, _, err := SignalRestore(ctx, mem); !errors.Is(err, ErrSignalFrameFault) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("reserved pstate bits dropped, flags kept, esr ignored", func(t *testing.T) {
		ctx, mem, sp := setup()
		b, _ := mem.slice(sp+frUC+ucMcontext+scPstate, 8)
		le.PutUint64(b, 0xffff_0000_0000_0000|pstateNZCV|1<<20|pstateSS)
		r := frameRecords(mem, sp)
		put32(r[528:], esrMagic)
		put32(r[532:], 16)
		if _, _, err := SignalRestore(ctx, mem); err != nil {
			t.Fatal(err)
		}
		if ctx.Regs.Pstate != pstateNZCV {
			t.Errorf("pstate %#x", ctx.Regs.Pstate)
		}
	})
}

func TestRegistersARM64(t *testing.T) {
	c := NewContext(FPStateSize)
	if c.Regs.Pstate != 0 || len(c.FPState) != FPStateSize || !allZero(c.FPState) {
		t.Errorf("initial state %+v", c.Regs)
	}
	for i := 0; i < 6; i++ {
		c.Regs.Regs[i] = uint64(100 + i)
	}
	c.Regs.Regs[8] = 63 // read
	c.Regs.Pc = 0x400104
	s := c.SyscallState()
	if c.SyscallNo() != 63 || c.SyscallArgs()[5].Value != 105 {
		t.Errorf("syscall %d args %v", c.SyscallNo(), c.SyscallArgs())
	}
	c.SetReturn(^uintptr(511)) // -ERESTARTSYS
	if c.Return() != ^uintptr(511) {
		t.Errorf("Return %#x", c.Return())
	}
	c.RestartSyscall(s)
	if c.IP() != 0x400100 || c.Regs.Regs[0] != 100 || c.Regs.Regs[8] != 63 {
		t.Errorf("after restart pc %#x x0 %d x8 %d", c.IP(), c.Regs.Regs[0], c.Regs.Regs[8])
	}
	if !c.SetTLS(0xffff_0000_0000_0001) || c.TLS() != 0xffff_0000_0000_0001 {
		t.Errorf("TLS %#x", c.TLS())
	}
	f := c.Fork()
	if f.TLS() != c.TLS() {
		t.Errorf("Fork lost TLS")
	}
}
