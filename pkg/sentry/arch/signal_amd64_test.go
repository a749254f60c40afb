package arch

import (
	"bytes"
	"errors"
	"math/rand"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

const (
	testHandler  = 0x401000
	testRestorer = 0x402000
)

func testAction(flags uint64) linux.SigAction {
	return linux.SigAction{Handler: testHandler, Restorer: testRestorer, Flags: flags | linux.SA_RESTORER | linux.SA_SIGINFO}
}

var noAltStack = linux.SignalStack{Flags: linux.SS_DISABLE}

// randomContext returns a thread state with every register and FP byte
// that a program controls set to something random.
func randomContext(rng *rand.Rand, sp uint64) *Context {
	c := NewContext(HostXSaveSize())
	for _, g := range sigcontextGPRs(&c.Regs) {
		*g.reg = rng.Uint64()
	}
	c.Regs.Rsp = sp
	c.Regs.Eflags = InitialEflags | rng.Uint64()&userEflagsMask
	c.Regs.OrigRax = 39
	c.Regs.FsBase = 0x7f0000001000
	// x87 control/status and registers, MXCSR (valid bits), XMM.
	rng.Read(c.FPState[fxFCW:fxMXCSR])
	le.PutUint32(c.FPState[fxMXCSR:], initMXCSR|0x8040)
	rng.Read(c.FPState[fxST0:fxXMMEnd])
	if comp, ok := hostXSave().components[2]; ok {
		rng.Read(c.FPState[comp.offset : comp.offset+comp.size])
		le.PutUint64(c.FPState[xsaveXStateBV:], le.Uint64(c.FPState[xsaveXStateBV:])|xfeatureYMM)
	}
	return c
}

func TestSignalRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	mem := newTestMemory(0x10000, 1<<16)
	for i := 0; i < 50; i++ {
		ctx := randomContext(rng, uint64(mem.top())-uint64(rng.Intn(4096)))
		before := ctx.Fork()
		d := &SignalDelivery{
			Action:   testAction(0),
			AltStack: noAltStack,
			OldMask:  linux.SignalSet(rng.Uint64()) &^ linux.UnblockableSignals,
			Fault:    FaultContext{Addr: 0xdead000, Code: 6, Trap: 14},
		}
		d.Info.Signo = int32(linux.SIGSEGV)
		d.Info.Code = linux.SEGV_MAPERR
		d.Info.SetAddr(0xdead000)
		sp, err := SignalSetup(ctx, mem, d)
		if err != nil {
			t.Fatal(err)
		}
		// The handler may clobber anything; sigreturn must not care.
		for _, g := range sigcontextGPRs(&ctx.Regs) {
			*g.reg = rng.Uint64()
		}
		ctx.Regs.Eflags = InitialEflags | rng.Uint64()&userEflagsMask
		rng.Read(ctx.FPState[fxST0:fxXMMEnd])
		ctx.Regs.Rsp = uint64(sp) + 8
		mask, alt, err := SignalRestore(ctx, mem)
		if err != nil {
			t.Fatal(err)
		}
		if mask != d.OldMask || alt != d.AltStack {
			t.Errorf("mask %#x alt %+v, want %#x %+v", mask, alt, d.OldMask, d.AltStack)
		}
		want := before.Regs
		want.OrigRax = ^uint64(0)
		if ctx.Regs != want {
			t.Fatalf("regs after round trip\n%+v\nwant\n%+v", ctx.Regs, want)
		}
		if !bytes.Equal(ctx.FPState, before.FPState) {
			for i := range ctx.FPState {
				if ctx.FPState[i] != before.FPState[i] {
					t.Fatalf("FP byte %d = %#x, want %#x", i, ctx.FPState[i], before.FPState[i])
				}
			}
		}
	}
}

// The frame must sit below the red zone, keep the FP state 64-aligned
// and enter the handler with rsp ≡ 8 (mod 16), from any starting rsp.
func TestSignalFrameAlignment(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	mem := newTestMemory(0x100000, 1<<16)
	for i := 0; i < 1000; i++ {
		sp := uint64(mem.top()) - uint64(rng.Intn(8192))
		ctx := NewContext(HostXSaveSize())
		ctx.Regs.Rsp = sp
		d := &SignalDelivery{Action: testAction(0), AltStack: noAltStack}
		d.Info.Signo = int32(linux.SIGUSR1)
		frame, err := SignalSetup(ctx, mem, d)
		if err != nil {
			t.Fatal(err)
		}
		if frame%16 != 8 {
			t.Fatalf("rsp %#x: handler rsp %#x not 8 mod 16", sp, frame)
		}
		var scb [8]byte
		mem.CopyIn(frame+frUC+ucMcontext+scFPState, scb[:])
		fp := le.Uint64(scb[:])
		if fp%64 != 0 || fp < uint64(frame)+SizeofRtSigframe {
			t.Fatalf("rsp %#x: fpstate %#x, frame %#x", sp, fp, frame)
		}
		if end := fp + uint64(len(ctx.FPState)) + fpXStateMagic2Size; end > sp-redZone {
			t.Fatalf("rsp %#x: frame ends at %#x, inside the red zone", sp, end)
		}
		if sp-redZone-uint64(frame) > uint64(SizeofRtSigframe+len(ctx.FPState)+fpXStateMagic2Size+64+16) {
			t.Fatalf("rsp %#x: frame at %#x wastes stack", sp, frame)
		}
	}
}

func TestSignalAltStackSelection(t *testing.T) {
	mem := newTestMemory(0x200000, 1<<20)
	altBase := uint64(0x200000 + 0x10000)
	alt := linux.SignalStack{Addr: altBase, Size: 0x8000}
	altTop := altBase + alt.Size
	mainSP := uint64(mem.top()) - 64
	size := uint64(SizeofRtSigframe + HostXSaveSize() + 4 + redZone + 128)

	for _, tc := range []struct {
		name    string
		flags   uint64
		alt     linux.SignalStack
		sp      uint64
		lo, hi  uint64 // the frame must be in [lo, hi)
		wantErr error
	}{
		{name: "no SA_ONSTACK stays on the stack", flags: 0, alt: alt, sp: mainSP, lo: mainSP - size, hi: mainSP},
		{name: "SA_ONSTACK switches to the top", flags: linux.SA_ONSTACK, alt: alt, sp: mainSP, lo: altTop - size + redZone, hi: altTop},
		{name: "disabled alt stack is ignored", flags: linux.SA_ONSTACK, alt: linux.SignalStack{Addr: altBase, Flags: linux.SS_DISABLE}, sp: mainSP, lo: mainSP - size, hi: mainSP},
		{name: "nested frame continues below sp", flags: linux.SA_ONSTACK, alt: alt, sp: altTop - 0x3000, lo: altTop - 0x3000 - size, hi: altTop - 0x3000 - redZone},
		{name: "SS_AUTODISARM always starts at the top", flags: linux.SA_ONSTACK,
			alt: linux.SignalStack{Addr: altBase, Size: alt.Size, Flags: -1 << 31}, sp: altTop - 0x3000, lo: altTop - size + redZone, hi: altTop},
		{name: "overflowing a nested frame", flags: linux.SA_ONSTACK, alt: alt, sp: altBase + 256, wantErr: ErrSignalStackOverflow},
		{name: "alt stack too small", flags: linux.SA_ONSTACK, alt: linux.SignalStack{Addr: altBase, Size: 512}, sp: mainSP, wantErr: ErrSignalStackOverflow},
		{name: "handler without SA_ONSTACK on the alt stack checks overflow too", flags: 0, alt: alt, sp: altBase + 256, wantErr: ErrSignalStackOverflow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := NewContext(HostXSaveSize())
			ctx.Regs.Rsp = tc.sp
			before := ctx.Fork()
			d := &SignalDelivery{Action: testAction(tc.flags), AltStack: tc.alt}
			d.Info.Signo = int32(linux.SIGUSR2)
			frame, err := SignalSetup(ctx, mem, d)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if ctx.Regs != before.Regs {
					t.Fatalf("failed setup changed registers")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f := uint64(frame); f < tc.lo || f >= tc.hi {
				t.Fatalf("frame %#x not in [%#x, %#x)", f, tc.lo, tc.hi)
			}
			// uc_stack records the thread's sigaltstack verbatim.
			var got linux.SignalStack
			b := make([]byte, 24)
			mem.CopyIn(frame+frUC+ucStack, b)
			got.UnmarshalBytes(b)
			if got != tc.alt {
				t.Errorf("uc_stack %+v, want %+v", got, tc.alt)
			}
		})
	}
}

func TestSignalSetupErrors(t *testing.T) {
	mem := newTestMemory(0x10000, 1<<16)
	ctx := NewContext(HostXSaveSize())
	ctx.Regs.Rsp = uint64(mem.top())
	before := ctx.Fork()

	d := &SignalDelivery{Action: linux.SigAction{Handler: testHandler, Flags: linux.SA_SIGINFO}, AltStack: noAltStack}
	if _, err := SignalSetup(ctx, mem, d); !errors.Is(err, ErrNoRestorer) {
		t.Errorf("without SA_RESTORER: %v", err)
	}
	ctx.Regs.Rsp = 0x10000 + 1024 // the frame would run off the bottom
	before.Regs.Rsp = ctx.Regs.Rsp
	d.Action = testAction(0)
	if _, err := SignalSetup(ctx, mem, d); !errors.Is(err, ErrSignalFrameFault) {
		t.Errorf("unmapped stack: %v", err)
	}
	if ctx.Regs != before.Regs || !bytes.Equal(ctx.FPState, before.FPState) {
		t.Errorf("failed setup changed the thread")
	}
}

// Without SA_SIGINFO Linux leaves the info area alone; the handler gets
// its address in rsi anyway (an old-style handler ignores it).
func TestSignalSetupWithoutSiginfo(t *testing.T) {
	mem := newTestMemory(0x10000, 1<<16)
	for i := range mem.data {
		mem.data[i] = 0xee
	}
	ctx := NewContext(HostXSaveSize())
	ctx.Regs.Rsp = uint64(mem.top())
	d := &SignalDelivery{Action: linux.SigAction{Handler: testHandler, Restorer: testRestorer, Flags: linux.SA_RESTORER}, AltStack: noAltStack}
	d.Info.Signo = int32(linux.SIGINT)
	frame, err := SignalSetup(ctx, mem, d)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := mem.slice(frame+frInfo, linux.SizeofSignalInfo)
	if !bytes.Equal(info, bytes.Repeat([]byte{0xee}, linux.SizeofSignalInfo)) {
		t.Errorf("siginfo written without SA_SIGINFO")
	}
	if ctx.Regs.Rdi != uint64(linux.SIGINT) || ctx.Regs.Rsi != uint64(frame)+frInfo {
		t.Errorf("rdi %d rsi %#x", ctx.Regs.Rdi, ctx.Regs.Rsi)
	}
}

// setupForRestore delivers a signal and returns what sigreturn will see,
// with a hook to corrupt the saved sigcontext.
func setupForRestore(t *testing.T) (*Context, *testMemory, uintptr) {
	t.Helper()
	mem := newTestMemory(0x10000, 1<<16)
	ctx := randomContext(rand.New(rand.NewSource(3)), uint64(mem.top()))
	d := &SignalDelivery{Action: testAction(0), AltStack: noAltStack, OldMask: linux.MakeSignalSet(linux.SIGTERM)}
	d.Info.Signo = int32(linux.SIGUSR1)
	frame, err := SignalSetup(ctx, mem, d)
	if err != nil {
		t.Fatal(err)
	}
	ctx.Regs.Rsp = uint64(frame) + 8
	return ctx, mem, frame + frUC + ucMcontext
}

func TestSignalRestoreEflags(t *testing.T) {
	ctx, mem, sc := setupForRestore(t)
	ctx.Regs.Eflags = InitialEflags
	var b [8]byte
	le.PutUint64(b[:], ^uint64(0)) // IOPL, NT, VM, VIF, ID, IF...: all set
	mem.CopyOut(sc+scEFLAGS, b[:])
	if _, _, err := SignalRestore(ctx, mem); err != nil {
		t.Fatal(err)
	}
	if want := uint64(InitialEflags | userEflagsMask); ctx.Regs.Eflags != want {
		t.Errorf("eflags %#x, want %#x", ctx.Regs.Eflags, want)
	}
	ctx2, mem2, sc2 := setupForRestore(t)
	ctx2.Regs.Eflags = InitialEflags | eflagsDF
	le.PutUint64(b[:], 0)
	mem2.CopyOut(sc2+scEFLAGS, b[:])
	if _, _, err := SignalRestore(ctx2, mem2); err != nil {
		t.Fatal(err)
	}
	if ctx2.Regs.Eflags != InitialEflags {
		t.Errorf("eflags %#x, want %#x (IF kept, DF cleared)", ctx2.Regs.Eflags, InitialEflags)
	}
}

func TestSignalRestoreSegments(t *testing.T) {
	put16 := func(mem *testMemory, addr uintptr, v uint16) {
		var b [2]byte
		le.PutUint16(b[:], v)
		mem.CopyOut(addr, b[:])
	}
	for _, tc := range []struct {
		name    string
		cs, ss  uint16
		strict  bool
		wantErr bool
		wantSS  uint64
	}{
		{name: "RPL forced to 3", cs: 0x30, ss: 0x28, strict: true, wantSS: UserSS},
		{name: "32-bit code segment", cs: 0x23, ss: UserSS, strict: true, wantErr: true},
		{name: "garbage code segment", cs: 0x1234, ss: UserSS, strict: true, wantErr: true},
		{name: "bad SS with UC_STRICT_RESTORE_SS", cs: UserCS, ss: 0, strict: true, wantErr: true},
		{name: "bad SS in an old frame is repaired", cs: UserCS, ss: 0, strict: false, wantSS: UserSS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, mem, sc := setupForRestore(t)
			before := ctx.Fork()
			put16(mem, sc+scCS, tc.cs)
			put16(mem, sc+scSS, tc.ss)
			if !tc.strict {
				var b [8]byte
				le.PutUint64(b[:], ucFPXState|ucSigcontextSS)
				mem.CopyOut(sc-ucMcontext+ucFlags, b[:])
			}
			mask, _, err := SignalRestore(ctx, mem)
			if tc.wantErr {
				if !errors.Is(err, ErrBadSignalFrame) {
					t.Fatalf("err = %v, want ErrBadSignalFrame", err)
				}
				if mask != linux.MakeSignalSet(linux.SIGTERM) {
					t.Errorf("mask %#x not returned with a bad frame", mask)
				}
				if ctx.Regs != before.Regs {
					t.Errorf("bad frame changed registers")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ctx.Regs.Cs != UserCS || ctx.Regs.Ss != tc.wantSS {
				t.Errorf("cs %#x ss %#x", ctx.Regs.Cs, ctx.Regs.Ss)
			}
		})
	}
}

func TestSignalRestoreFPState(t *testing.T) {
	fpAddrOf := func(mem *testMemory, sc uintptr) uintptr {
		var b [8]byte
		mem.CopyIn(sc+scFPState, b[:])
		return uintptr(le.Uint64(b[:]))
	}
	put32 := func(mem *testMemory, addr uintptr, v uint32) {
		var b [4]byte
		le.PutUint32(b[:], v)
		mem.CopyOut(addr, b[:])
	}
	put64 := func(mem *testMemory, addr uintptr, v uint64) {
		var b [8]byte
		le.PutUint64(b[:], v)
		mem.CopyOut(addr, b[:])
	}
	_, hasYMM := hostXSave().components[2]

	t.Run("bad magic restores the legacy area only", func(t *testing.T) {
		ctx, mem, sc := setupForRestore(t)
		fp := fpAddrOf(mem, sc)
		saved := make([]byte, fxsaveSize)
		mem.CopyIn(fp, saved)
		put32(mem, fp+swMagic1, 0x12345678)
		if _, _, err := SignalRestore(ctx, mem); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ctx.FPState[fxST0:fxXMMEnd], saved[fxST0:fxXMMEnd]) ||
			!bytes.Equal(ctx.FPState[:fxMXCSRMask], saved[:fxMXCSRMask]) {
			t.Errorf("legacy state not restored")
		}
		if bv := le.Uint64(ctx.FPState[xsaveXStateBV:]); bv != xfeatureFPSSE {
			t.Errorf("XSTATE_BV %#x, want only x87|SSE", bv)
		}
		if hasYMM {
			c := hostXSave().components[2]
			if !allZero(ctx.FPState[c.offset : c.offset+c.size]) {
				t.Errorf("AVX state not reset")
			}
		}
	})
	t.Run("missing magic2 restores the legacy area only", func(t *testing.T) {
		ctx, mem, sc := setupForRestore(t)
		fp := fpAddrOf(mem, sc)
		put32(mem, fp+uintptr(len(ctx.FPState)), 0)
		if _, _, err := SignalRestore(ctx, mem); err != nil {
			t.Fatal(err)
		}
		if bv := le.Uint64(ctx.FPState[xsaveXStateBV:]); bv != xfeatureFPSSE {
			t.Errorf("XSTATE_BV %#x, want only x87|SSE", bv)
		}
	})
	t.Run("xfeatures limits what is restored", func(t *testing.T) {
		if !hasYMM {
			t.Skip("no AVX")
		}
		ctx, mem, sc := setupForRestore(t)
		fp := fpAddrOf(mem, sc)
		put64(mem, fp+swXFeatures, xfeatureFPSSE)
		if _, _, err := SignalRestore(ctx, mem); err != nil {
			t.Fatal(err)
		}
		if bv := le.Uint64(ctx.FPState[xsaveXStateBV:]); bv&xfeatureYMM != 0 {
			t.Errorf("AVX restored though xfeatures excluded it")
		}
	})
	t.Run("null fpstate gives a clean state", func(t *testing.T) {
		ctx, mem, sc := setupForRestore(t)
		put64(mem, sc+scFPState, 0)
		if _, _, err := SignalRestore(ctx, mem); err != nil {
			t.Fatal(err)
		}
		clean := NewContext(len(ctx.FPState)).FPState
		if !bytes.Equal(ctx.FPState, clean) {
			t.Errorf("FP state not clean")
		}
	})
	for _, tc := range []struct {
		name    string
		corrupt func(mem *testMemory, fp uintptr, sc uintptr)
	}{
		{"misaligned fpstate", func(mem *testMemory, fp, sc uintptr) { put64(mem, sc+scFPState, uint64(fp)+16) }},
		{"unreadable fpstate", func(mem *testMemory, fp, sc uintptr) { put64(mem, sc+scFPState, 0x1000) }},
		{"reserved MXCSR bits", func(mem *testMemory, fp, sc uintptr) { put32(mem, fp+fxMXCSR, 0xffffffff) }},
		{"XSTATE_BV bit the CPU lacks", func(mem *testMemory, fp, sc uintptr) {
			put64(mem, fp+xsaveXStateBV, xfeatureFPSSE|1<<62)
		}},
		{"compacted header", func(mem *testMemory, fp, sc uintptr) { put64(mem, fp+xsaveXCompBV, 1<<63|3) }},
		{"legacy frame with reserved MXCSR bits", func(mem *testMemory, fp, sc uintptr) {
			put32(mem, fp+swMagic1, 0)
			put32(mem, fp+fxMXCSR, 0xffffffff)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, mem, sc := setupForRestore(t)
			before := ctx.Fork()
			tc.corrupt(mem, fpAddrOf(mem, sc), sc)
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
}

func TestSignalRestoreUnreadableFrame(t *testing.T) {
	mem := newTestMemory(0x10000, 4096)
	ctx := NewContext(HostXSaveSize())
	ctx.Regs.Rsp = 0x10000 + 4096 - 100
	if _, _, err := SignalRestore(ctx, mem); !errors.Is(err, ErrSignalFrameFault) {
		t.Errorf("err = %v, want ErrSignalFrameFault", err)
	}
}

func TestNewContextAMD64(t *testing.T) {
	c := NewContext(HostXSaveSize())
	if c.Regs.Cs != 0x33 || c.Regs.Ss != 0x2b || c.Regs.Eflags != 0x202 {
		t.Errorf("cs %#x ss %#x eflags %#x", c.Regs.Cs, c.Regs.Ss, c.Regs.Eflags)
	}
	fp := c.FPState
	if le.Uint16(fp[fxFCW:]) != 0x37f || le.Uint32(fp[fxMXCSR:]) != 0x1f80 {
		t.Errorf("fcw %#x mxcsr %#x", le.Uint16(fp[fxFCW:]), le.Uint32(fp[fxMXCSR:]))
	}
	if bv := le.Uint64(fp[xsaveXStateBV:]); bv&xfeatureFPSSE != xfeatureFPSSE {
		t.Errorf("XSTATE_BV %#x", bv)
	}
	if !allZero(fp[xsaveXCompBV : xsaveXCompBV+56]) {
		t.Errorf("XSAVE header not zero")
	}
	if x := le.Uint64(fp[fxSWReserved:]); x != hostXSave().xcr0 || x&xfeatureFPSSE != xfeatureFPSSE {
		t.Errorf("xcr0 word %#x", x)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("NewContext accepted a 512-byte FP state")
		}
	}()
	NewContext(512)
}

func TestRegistersAMD64(t *testing.T) {
	c := NewContext(HostXSaveSize())
	c.Regs.OrigRax = 0       // read
	c.Regs.Rax = ^uint64(37) // -ENOSYS as under PTRACE_SYSEMU
	c.Regs.Rdi, c.Regs.Rsi, c.Regs.Rdx, c.Regs.R10, c.Regs.R8, c.Regs.R9 = 1, 2, 3, 4, 5, 6
	c.Regs.Rip = 0x401002
	if c.SyscallNo() != 0 {
		t.Errorf("SyscallNo %d", c.SyscallNo())
	}
	args := c.SyscallArgs()
	for i, a := range args {
		if a.Value != uintptr(i+1) {
			t.Errorf("arg %d = %d", i, a.Value)
		}
	}
	s := c.SyscallState()
	c.SetReturn(^uintptr(3)) // -EINTR
	if c.Return() != ^uintptr(3) {
		t.Errorf("Return %#x", c.Return())
	}
	c.RestartSyscall(s)
	if c.IP() != 0x401000 || c.Regs.Rax != 0 || c.Regs.OrigRax != 0 {
		t.Errorf("after restart rip %#x rax %d", c.IP(), c.Regs.Rax)
	}
	if !c.SetTLS(0x7f00_0000_1000) || c.TLS() != 0x7f00_0000_1000 || c.Regs.Fs != 0 {
		t.Errorf("SetTLS")
	}
	if c.SetTLS(1<<47) || c.TLS() != 0x7f00_0000_1000 {
		t.Errorf("SetTLS accepted a kernel address")
	}
	c.SetStack(0x7ffe0000)
	c.SetIP(0x400000)
	if c.Stack() != 0x7ffe0000 || c.IP() != 0x400000 {
		t.Errorf("SetStack/SetIP")
	}
}
