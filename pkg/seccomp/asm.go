package seccomp

import (
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// label names a position in a program being assembled. Every jump in
// classic BPF goes forward, so a label must be bound after every jump that
// refers to it.
type label int

// next is the label of the instruction after the one using it.
const next label = -1

// insn is one instruction before jump offsets are known.
type insn struct {
	code uint16
	k    uint32
	// jt and jf are the targets of a conditional jump, to for BPF_JA.
	jt, jf, to label
}

func (in *insn) isCond() bool {
	return in.code&0x07 == linux.BPF_JMP && in.code&0xf0 != linux.BPF_JA
}

func (in *insn) isJA() bool {
	return in.code == linux.BPF_JMP|linux.BPF_JA
}

// assembler collects instructions with symbolic jump targets and lays
// them out, widening conditional jumps that cannot reach their target in
// the 8-bit offset.
type assembler struct {
	insns []insn
	// at[l] is the index in insns that label l is bound to, or -1.
	at []int
}

func (a *assembler) newLabel() label {
	a.at = append(a.at, -1)
	return label(len(a.at) - 1)
}

// bind places l before the next instruction emitted.
func (a *assembler) bind(l label) {
	if a.at[l] != -1 {
		panic("seccomp: label bound twice")
	}
	a.at[l] = len(a.insns)
}

// load loads the 32-bit word at off in seccomp_data into A.
func (a *assembler) load(off uint32) {
	a.insns = append(a.insns, insn{code: linux.BPF_LD | linux.BPF_W | linux.BPF_ABS, k: off})
}

// and masks A with k.
func (a *assembler) and(k uint32) {
	a.insns = append(a.insns, insn{code: linux.BPF_ALU | linux.BPF_AND | linux.BPF_K, k: k})
}

// jump compares A with k (op is BPF_JEQ, BPF_JGT, BPF_JGE or BPF_JSET)
// and goes to jt when the comparison holds, jf otherwise.
func (a *assembler) jump(op uint16, k uint32, jt, jf label) {
	if jt == jf {
		a.ja(jt)
		return
	}
	a.insns = append(a.insns, insn{code: linux.BPF_JMP | op | linux.BPF_K, k: k, jt: jt, jf: jf})
}

// ja jumps to l unconditionally.
func (a *assembler) ja(l label) {
	if l == next {
		return
	}
	a.insns = append(a.insns, insn{code: linux.BPF_JMP | linux.BPF_JA, to: l})
}

// ret returns act.
func (a *assembler) ret(act Action) {
	a.insns = append(a.insns, insn{code: linux.BPF_RET | linux.BPF_K, k: uint32(act)})
}

// target is the instruction index that l, used by instruction i, denotes.
func (a *assembler) target(i int, l label) (int, error) {
	if l == next {
		return i + 1, nil
	}
	t := a.at[l]
	if t == -1 {
		return 0, fmt.Errorf("seccomp: label %d never bound", l)
	}
	if t <= i {
		return 0, fmt.Errorf("seccomp: backward jump from %d to %d", i, t)
	}
	return t, nil
}

// assemble lays out the program. A conditional jump whose target is more
// than 255 instructions ahead gets a BPF_JA right after it (one per far
// branch) and jumps to that instead. Widening only ever moves targets
// further away, so repeating until nothing changes terminates.
func (a *assembler) assemble() (Program, error) {
	n := len(a.insns)
	// farT/farF mark conditional jumps whose true/false branch goes
	// through a BPF_JA.
	farT := make([]bool, n)
	farF := make([]bool, n)
	pos := make([]int, n+1)
	for {
		p := 0
		for i := range a.insns {
			pos[i] = p
			p++
			if farT[i] {
				p++
			}
			if farF[i] {
				p++
			}
		}
		pos[n] = p
		changed := false
		for i := range a.insns {
			in := &a.insns[i]
			if !in.isCond() {
				continue
			}
			for _, b := range []struct {
				l   label
				far *bool
			}{{in.jt, &farT[i]}, {in.jf, &farF[i]}} {
				t, err := a.target(i, b.l)
				if err != nil {
					return nil, err
				}
				if !*b.far && pos[t]-(pos[i]+1) > 255 {
					*b.far = true
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
	if pos[n] > linux.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp: program of %d instructions is longer than the kernel's limit of %d", pos[n], linux.BPF_MAXINSNS)
	}

	prog := make(Program, 0, pos[n])
	for i := range a.insns {
		in := &a.insns[i]
		switch {
		case in.isCond():
			t, _ := a.target(i, in.jt)
			f, _ := a.target(i, in.jf)
			slot := pos[i] + 1
			jt, jf := pos[t]-(pos[i]+1), pos[f]-(pos[i]+1)
			var jas []uint32
			if farT[i] {
				jt = slot - (pos[i] + 1)
				jas = append(jas, uint32(pos[t]-(slot+1)))
				slot++
			}
			if farF[i] {
				jf = slot - (pos[i] + 1)
				jas = append(jas, uint32(pos[f]-(slot+1)))
			}
			prog = append(prog, linux.SockFilter{Code: in.code, JT: uint8(jt), JF: uint8(jf), K: in.k})
			for _, off := range jas {
				prog = append(prog, linux.SockFilter{Code: linux.BPF_JMP | linux.BPF_JA, K: off})
			}
		case in.isJA():
			t, err := a.target(i, in.to)
			if err != nil {
				return nil, err
			}
			prog = append(prog, linux.SockFilter{Code: in.code, K: uint32(pos[t] - (pos[i] + 1))})
		default:
			prog = append(prog, linux.SockFilter{Code: in.code, K: in.k})
		}
	}
	return prog, nil
}
