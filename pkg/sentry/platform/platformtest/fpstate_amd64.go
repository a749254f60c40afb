package platformtest

import (
	"encoding/binary"
	"errors"
	"testing"

	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// Per-context state beyond the general registers: the FP/SSE state in
// the ptrace XSAVE layout, and fs_base.

// Offsets in the XSAVE layout.
const (
	xmm0Off       = 160
	xmm1Off       = 176
	mxcsrOff      = 24
	swReservedOff = 464 // the ptrace layout puts XCR0 here
	xstateBVOff   = 512
	xcompBVOff    = 520
	// legacy area plus XSAVE header.
	minXSaveSize = 576
)

func fpState(t *testing.T, e Env, opts Options) {
	as := e.NewAddressSpace()
	loadProg(t, e, as, 0, XMM)
	c := e.NewContext()
	initFP := e.InitialFPState()
	if len(initFP) < minXSaveSize {
		t.Fatalf("initial FP state %d bytes: smaller than legacy area + XSAVE header", len(initFP))
	}
	xcr0 := binary.LittleEndian.Uint64(initFP[swReservedOff:])
	if xcr0&3 != 3 {
		t.Errorf("initial FP state's XCR0 %#x lacks x87 and SSE", xcr0)
	}
	ac := At(CodeAddr)
	ac.FPState = append([]byte(nil), initFP...)
	// XSTATE_BV must mark SSE state present or the host loads xmm
	// registers as zero.
	binary.LittleEndian.PutUint64(ac.FPState[xmm0Off:], 0x0123_4567_89ab_cdef)
	ac.FPState[xstateBVOff] |= 2
	ac.Regs.Rsi = 0x5555_6666_7777_8888
	MustSwitch(t, c, as, ac, platform.TrapSyscall)
	if ac.Regs.Rdi != 0x0123_4567_89ab_cdef {
		t.Errorf("xmm0 read %#x in the application", ac.Regs.Rdi)
	}
	if got := binary.LittleEndian.Uint64(ac.FPState[xmm1Off:]); got != 0x5555_6666_7777_8888 {
		t.Errorf("xmm1 saved as %#x", got)
	}
	if got := binary.LittleEndian.Uint64(ac.FPState[xmm0Off:]); got != 0x0123_4567_89ab_cdef {
		t.Errorf("xmm0 saved as %#x", got)
	}
	if got := binary.LittleEndian.Uint64(ac.FPState[swReservedOff:]); got != xcr0 {
		t.Errorf("saved state's XCR0 %#x, want %#x", got, xcr0)
	}
	// A context with no FP state gets the initial state.
	ac2 := At(CodeAddr)
	MustSwitch(t, c, as, ac2, platform.TrapSyscall)
	if len(ac2.FPState) != len(initFP) || ac2.Regs.Rdi != 0 {
		t.Errorf("fresh context: FP state %d bytes, xmm0 %#x", len(ac2.FPState), ac2.Regs.Rdi)
	}
	// The same host thread, other context: no leak of xmm0 from ac.
	ac.Regs.Rip = CodeAddr
	MustSwitch(t, c, as, ac, platform.TrapSyscall)
	if ac.Regs.Rdi != 0x0123_4567_89ab_cdef {
		t.Errorf("xmm0 %#x after another context ran", ac.Regs.Rdi)
	}
	// Bits the host cannot restore (reserved MXCSR bits, a compacted
	// format) never kill the context: they are dropped, or the switch
	// fails and the context lives on.
	ac.Regs.Rip = CodeAddr
	binary.LittleEndian.PutUint32(ac.FPState[mxcsrOff:], 0xffff_ffff)
	binary.LittleEndian.PutUint64(ac.FPState[xcompBVOff:], 1<<63)
	if opts.SanitizesFPState {
		MustSwitch(t, c, as, ac, platform.TrapSyscall)
	} else if _, err := c.Switch(as, ac); err == nil || errors.Is(err, platform.ErrContextDead) {
		t.Errorf("Switch with unrestorable FP state bits: %v, want a failure that spares the context", err)
	}
	bad := At(CodeAddr)
	bad.FPState = make([]byte, 10)
	if _, err := c.Switch(as, bad); err == nil || errors.Is(err, platform.ErrContextDead) {
		t.Errorf("Switch with a 10-byte FP state: %v", err)
	}
}

func fsBase(t *testing.T, e Env) {
	as := e.NewAddressSpace()
	loadProg(t, e, as, 0, FS)
	const tls1, tls2 = 0x700000, 0x710000
	for i, tls := range []uint64{tls1, tls2} {
		var v [8]byte
		binary.LittleEndian.PutUint64(v[:], 0xf5f5_0000_1234+uint64(i))
		e.Write(int64(0x30000+i*Page), v[:])
		mapFile(t, as, uintptr(tls), uint64(0x30000+i*Page), Page, platform.Read)
	}
	c := e.NewContext()
	// Alternating on one context: each switch loads its own fs_base.
	for round := 0; round < 3; round++ {
		for i, tls := range []uint64{tls1, tls2} {
			ac := At(CodeAddr)
			ac.Regs.FsBase = tls
			MustSwitch(t, c, as, ac, platform.TrapSyscall)
			if ac.Regs.Rdi != 0xf5f5_0000_1234+uint64(i) {
				t.Errorf("read %#x through %%fs=%#x", ac.Regs.Rdi, tls)
			}
			if ac.Regs.FsBase != tls {
				t.Errorf("fs_base %#x after the trap", ac.Regs.FsBase)
			}
		}
	}
	bad := At(CodeAddr)
	bad.Regs.FsBase = 1 << 60
	if _, err := c.Switch(as, bad); err == nil || errors.Is(err, platform.ErrContextDead) {
		t.Errorf("Switch with a non-canonical fs_base: %v", err)
	}
}
