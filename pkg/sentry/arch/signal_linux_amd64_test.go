package arch

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// These tests compare our frames with the ones the host kernel builds, as
// shown by testdata/sigframe_amd64.c (compiled here with gcc; skipped when
// gcc is missing).

type probeBlock map[string]string

type probeOutput struct {
	header probeBlock
	blocks []probeBlock
}

var buildProbe = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "sigframe")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "sigframe_amd64")
	src := filepath.Join("testdata", "sigframe_amd64.c")
	out, err := exec.Command("gcc", "-static", "-O1", "-o", bin, src).CombinedOutput()
	if err != nil {
		// No static libc: a dynamic binary shows the same frames.
		out, err = exec.Command("gcc", "-O1", "-o", bin, src).CombinedOutput()
	}
	if err != nil {
		return "", &exec.Error{Name: "gcc: " + string(out), Err: err}
	}
	return bin, nil
})

func runProbe(t *testing.T, mode string) probeOutput {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	bin, err := buildProbe()
	if err != nil {
		t.Fatalf("building probe: %v", err)
	}
	out, err := exec.Command(bin, mode).Output()
	if err != nil {
		t.Fatalf("probe %s: %v\n%s", mode, err, out)
	}
	var p probeOutput
	p.header = probeBlock{}
	cur := p.header
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch line {
		case "BEGIN":
			cur = probeBlock{}
			continue
		case "END":
			p.blocks = append(p.blocks, cur)
			cur = p.header
			continue
		case "DONE":
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("bad probe line %q", line)
		}
		cur[k] = v
	}
	if len(p.blocks) == 0 {
		t.Fatalf("probe printed no frame:\n%s", out)
	}
	return p
}

func (b probeBlock) num(t *testing.T, k string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(b[k], 10, 64)
	if err != nil {
		t.Fatalf("probe value %s=%q: %v", k, b[k], err)
	}
	return v
}

func (b probeBlock) bytes(t *testing.T, k string) []byte {
	t.Helper()
	v, err := hex.DecodeString(b[k])
	if err != nil {
		t.Fatalf("probe bytes %s: %v", k, err)
	}
	return v
}

// The C library's ucontext_t / mcontext_t must agree with our constants.
func TestSignalFrameOffsetsMatchLibc(t *testing.T) {
	h := runProbe(t, "normal").header
	checks := []struct {
		key  string
		want uint64
	}{
		{"off_uc_flags", ucFlags}, {"off_uc_link", ucLink}, {"off_uc_stack", ucStack},
		{"off_uc_mcontext", ucMcontext}, {"off_uc_sigmask", ucSigmask},
		{"off_fpregs", scFPState}, {"sizeof_mcontext", sizeofSigcontext},
		{"off_fp_mxcsr", fxMXCSR}, {"off_fp_st", fxST0}, {"off_fp_xmm", fxXMM0},
	}
	for _, c := range checks {
		if got := h.num(t, c.key); got != c.want {
			t.Errorf("%s = %d, ours %d", c.key, got, c.want)
		}
	}
	gregs := h.num(t, "off_gregs")
	regs := map[string]uint64{
		"REG_R8": scR8, "REG_R9": scR9, "REG_R10": scR10, "REG_R11": scR11, "REG_R12": scR12,
		"REG_R13": scR13, "REG_R14": scR14, "REG_R15": scR15, "REG_RDI": scRDI, "REG_RSI": scRSI,
		"REG_RBP": scRBP, "REG_RBX": scRBX, "REG_RDX": scRDX, "REG_RAX": scRAX, "REG_RCX": scRCX,
		"REG_RSP": scRSP, "REG_RIP": scRIP, "REG_EFL": scEFLAGS, "REG_CSGSFS": scCS,
		"REG_ERR": scErr, "REG_TRAPNO": scTrapno, "REG_OLDMASK": scOldmask, "REG_CR2": scCR2,
	}
	for name, off := range regs {
		if got := gregs + 8*h.num(t, name); got != off {
			t.Errorf("gregs[%s] at %d, ours %d", name, got, off)
		}
	}
}

// reproduce feeds the interrupted state recorded in a real frame to
// SignalSetup and checks that it builds the same frame at the same address
// and enters the handler the same way.
func reproduce(t *testing.T, b probeBlock) {
	t.Helper()
	frame := b.bytes(t, "frame")
	fpframe := b.bytes(t, "fpframe")
	entryRSP := b.num(t, "entry_rsp")
	fpAddr := b.num(t, "fpstate")
	if len(frame) != SizeofRtSigframe {
		t.Fatalf("frame is %d bytes", len(frame))
	}
	if got := b.num(t, "arg_uc") - entryRSP; got != frUC {
		t.Errorf("uc at rsp+%d, ours %d", got, frUC)
	}
	if got := b.num(t, "arg_info") - entryRSP; got != frInfo {
		t.Errorf("info at rsp+%d, ours %d", got, frInfo)
	}
	if entryRSP%16 != 8 {
		t.Errorf("kernel's handler rsp %#x not 8 mod 16", entryRSP)
	}
	if fpAddr%64 != 0 {
		t.Errorf("kernel's fpstate %#x not 64-aligned", fpAddr)
	}
	xstateSize := int(le.Uint32(fpframe[swXStateSize:]))
	xfeatures := le.Uint64(fpframe[swXFeatures:])
	if m := le.Uint32(fpframe[swMagic1:]); m != fpXStateMagic1 {
		t.Fatalf("kernel magic1 %#x", m)
	}
	if m := le.Uint32(fpframe[xstateSize:]); m != fpXStateMagic2 {
		t.Fatalf("kernel magic2 %#x", m)
	}
	if xfeatures&(3<<17) == 0 { // no AMX: ptrace's size is the frame's
		if got := HostXSaveSize(); got != xstateSize {
			t.Errorf("HostXSaveSize() = %d, kernel frame xstate_size %d", got, xstateSize)
		}
		if got := hostXSave().xcr0; got != xfeatures {
			t.Errorf("host xcr0 %#x, kernel frame xfeatures %#x", got, xfeatures)
		}
	}

	// The interrupted state, in the forms the kernel would hand us.
	uc := frame[frUC:frInfo]
	sc := uc[ucMcontext:ucSigmask]
	ctx := &Context{}
	for _, g := range sigcontextGPRs(&ctx.Regs) {
		*g.reg = le.Uint64(sc[g.off:])
	}
	ctx.Regs.Cs = uint64(le.Uint16(sc[scCS:]))
	ctx.Regs.Ss = uint64(le.Uint16(sc[scSS:]))
	ctx.FPState = append([]byte(nil), fpframe[:xstateSize]...)
	clear(ctx.FPState[fxSWReserved:fxsaveSize])
	le.PutUint64(ctx.FPState[fxSWReserved:], xfeatures) // ptrace layout
	d := &SignalDelivery{
		Action: linux.SigAction{
			Handler:  b.num(t, "sa_handler"),
			Flags:    b.num(t, "sa_flags"),
			Restorer: b.num(t, "sa_restorer"),
			Mask:     linux.SignalSet(b.num(t, "sa_mask")),
		},
		OldMask: linux.SignalSet(le.Uint64(uc[ucSigmask:])),
		Fault: FaultContext{
			Addr: le.Uint64(sc[scCR2:]),
			Code: le.Uint64(sc[scErr:]),
			Trap: le.Uint64(sc[scTrapno:]),
		},
	}
	d.Info.UnmarshalBytes(frame[frInfo:])
	d.AltStack.UnmarshalBytes(uc[ucStack:])
	if got := d.Info.Signo; got != int32(b.num(t, "sig")) {
		t.Errorf("siginfo signo %d", got)
	}
	if d.Action.Restorer != le.Uint64(frame[frPretcode:]) {
		t.Errorf("pretcode %#x, sa_restorer %#x", le.Uint64(frame[frPretcode:]), d.Action.Restorer)
	}

	// Memory: the frame and FP state, with room around them.
	base := uintptr(entryRSP) - 4096
	mem := newTestMemory(base, int(fpAddr-uint64(base))+len(fpframe)+4096)
	// The kernel's stack held older data there; make it visible that we
	// write only the frame and the FP state.
	for i := range mem.data {
		mem.data[i] = 0xa5
	}
	before := ctx.Fork()
	addr, err := SignalSetup(ctx, mem, d)
	if err != nil {
		t.Fatalf("SignalSetup: %v", err)
	}
	if uint64(addr) != entryRSP {
		t.Fatalf("frame at %#x, kernel put it at %#x (interrupted rsp %#x)", addr, entryRSP, before.Regs.Rsp)
	}
	gotFrame, _ := mem.slice(addr, SizeofRtSigframe)
	// Linux never writes stack_t's padding or sigcontext.reserved1, so
	// the kernel's frame shows whatever was on the stack there; we write
	// zeros.
	unwritten := func(i int) bool {
		return (i >= frUC+ucStack+12 && i < frUC+ucStack+16) ||
			(i >= frUC+ucMcontext+scFPState+8 && i < frUC+ucMcontext+sizeofSigcontext)
	}
	for i := range frame {
		if gotFrame[i] != frame[i] && !unwritten(i) {
			t.Errorf("frame byte %d: ours %#x, kernel %#x", i, gotFrame[i], frame[i])
		}
	}
	gotFP, _ := mem.slice(uintptr(fpAddr), len(fpframe))
	if !bytes.Equal(gotFP, fpframe) {
		for i := range fpframe {
			if gotFP[i] != fpframe[i] {
				t.Errorf("fpstate byte %d: ours %#x, kernel %#x", i, gotFP[i], fpframe[i])
			}
		}
	}
	// The gap between the frame and the FP state is untouched.
	for a := addr + SizeofRtSigframe; a < uintptr(fpAddr); a++ {
		if v, _ := mem.slice(a, 1); v[0] != 0xa5 {
			t.Fatalf("wrote padding at %#x", a)
		}
	}

	r := ctx.Regs
	want := map[string][2]uint64{
		"rdi":    {r.Rdi, b.num(t, "sig")},
		"rsi":    {r.Rsi, b.num(t, "arg_info")},
		"rdx":    {r.Rdx, b.num(t, "arg_uc")},
		"rax":    {r.Rax, b.num(t, "entry_rax")},
		"rsp":    {r.Rsp, entryRSP},
		"eflags": {r.Eflags, b.num(t, "entry_eflags")},
		"mxcsr":  {uint64(le.Uint32(ctx.FPState[fxMXCSR:])), b.num(t, "entry_mxcsr")},
		"fcw":    {uint64(le.Uint16(ctx.FPState[fxFCW:])), b.num(t, "entry_fcw")},
		"rip":    {r.Rip, d.Action.Handler},
		"cs":     {r.Cs, UserCS},
	}
	for name, v := range want {
		if v[0] != v[1] {
			t.Errorf("handler entry %s = %#x, kernel %#x", name, v[0], v[1])
		}
	}

	// Returning from the handler: ret pops pretcode, then rt_sigreturn.
	ret := &Context{FPState: make([]byte, len(before.FPState))}
	copy(ret.FPState, ctx.FPState)
	ret.Regs = ctx.Regs
	ret.Regs.Rsp = uint64(addr) + 8
	ret.Regs.Rax = 15
	mask, alt, err := SignalRestore(ret, mem)
	if err != nil {
		t.Fatalf("SignalRestore: %v", err)
	}
	if mask != d.OldMask || alt != d.AltStack {
		t.Errorf("restored mask %#x alt %+v, want %#x %+v", mask, alt, d.OldMask, d.AltStack)
	}
	wantRegs := before.Regs
	wantRegs.OrigRax = ^uint64(0)
	if ret.Regs != wantRegs {
		t.Errorf("restored regs\n%+v\nwant\n%+v", ret.Regs, wantRegs)
	}
	for _, rng := range [][2]int{{fxFCW, fxMXCSRMask}, {fxST0, fxXMMEnd}} {
		if !bytes.Equal(ret.FPState[rng[0]:rng[1]], before.FPState[rng[0]:rng[1]]) {
			t.Errorf("restored legacy FP bytes %v differ", rng)
		}
	}
	for i, c := range hostXSave().components {
		if le.Uint64(before.FPState[xsaveXStateBV:])&(1<<i) == 0 {
			continue
		}
		if !bytes.Equal(ret.FPState[c.offset:c.offset+c.size], before.FPState[c.offset:c.offset+c.size]) {
			t.Errorf("restored component %d differs", i)
		}
	}
}

func TestSignalSetupMatchesLinux(t *testing.T) {
	for _, mode := range []string{"normal", "onstack", "nested"} {
		t.Run(mode, func(t *testing.T) {
			p := runProbe(t, mode)
			for _, b := range p.blocks {
				reproduce(t, b)
			}
			if mode != "normal" {
				// Every frame is on the alternate stack, and the
				// nested one is below the outer one.
				for _, b := range p.blocks {
					var alt linux.SignalStack
					frame := b.bytes(t, "frame")
					alt.UnmarshalBytes(frame[frUC+ucStack:])
					if !alt.Contains(b.num(t, "entry_rsp")) {
						t.Errorf("kernel frame for signal %s not on the alternate stack", b["sig"])
					}
				}
			}
			if mode == "nested" && len(p.blocks) != 2 {
				t.Fatalf("nested probe printed %d frames", len(p.blocks))
			}
		})
	}
}
