package vdso

import (
	"encoding/binary"
	"fmt"
)

// x86 is a minimal x86-64 assembler for the handful of instruction forms
// the vDSO needs: register and [base+index*scale+disp] operands with REX
// prefixes, RIP-relative addressing of the vvar page, and 32-bit relative
// branches to labels.
type x86 struct {
	// origin is the image offset of buf[0], for RIP-relative operands.
	origin int64
	buf    []byte
	labels map[string]int
	fixups []x86Fixup
}

type x86Fixup struct {
	at    int // offset of the rel32 field
	end   int // offset of the end of the instruction
	label string
}

type reg uint8

const (
	rax reg = iota
	rcx
	rdx
	rbx
	rsp
	rbp
	rsi
	rdi
	r8
	r9
	r10
	r11
)

// noIndex marks a memory operand without an index register.
const noIndex reg = 0xff

// mem is a memory operand [base + index*scale + disp].
type mem struct {
	base, index reg
	scale       uint8
	disp        int32
}

func at(base reg, disp int32) mem { return mem{base: base, index: noIndex, disp: disp} }

func newX86(origin uint64) *x86 {
	return &x86{origin: int64(origin), labels: map[string]int{}}
}

func (a *x86) emit(b ...byte) { a.buf = append(a.buf, b...) }

func (a *x86) u32(v uint32) { a.buf = binary.LittleEndian.AppendUint32(a.buf, v) }

func (a *x86) label(name string) {
	if _, dup := a.labels[name]; dup {
		panic("vdso: duplicate label " + name)
	}
	a.labels[name] = len(a.buf)
}

// rex emits a REX prefix when one is needed: 64-bit operand size (w) or an
// extended register in the ModRM reg (r), SIB index (x) or rm/base (b)
// fields.
func (a *x86) rex(w bool, r, x, b reg) {
	v := byte(0x40)
	if w {
		v |= 8
	}
	if r != noIndex && r >= 8 {
		v |= 4
	}
	if x != noIndex && x >= 8 {
		v |= 2
	}
	if b != noIndex && b >= 8 {
		v |= 1
	}
	if v != 0x40 {
		a.emit(v)
	}
}

// opRR emits op with ModRM register-direct operands: reg field r, rm field m.
func (a *x86) opRR(w bool, op []byte, r, m reg) {
	a.rex(w, r, noIndex, m)
	a.emit(op...)
	a.emit(0xc0 | byte(r&7)<<3 | byte(m&7))
}

// opRM emits op with a memory operand; r is the ModRM reg field (a
// register or an opcode extension).
func (a *x86) opRM(w bool, op []byte, r reg, m mem) {
	a.rex(w, r, m.index, m.base)
	a.emit(op...)
	var mod byte
	switch {
	case m.disp == 0 && m.base&7 != rbp:
		mod = 0
	case m.disp >= -128 && m.disp <= 127:
		mod = 1
	default:
		mod = 2
	}
	if m.index != noIndex || m.base&7 == rsp {
		a.emit(mod<<6 | byte(r&7)<<3 | 4)
		idx := byte(4) // none
		if m.index != noIndex {
			if m.index == rsp {
				panic("vdso: rsp cannot be an index")
			}
			idx = byte(m.index & 7)
		}
		var ss byte
		switch m.scale {
		case 0, 1:
		case 2:
			ss = 1
		case 4:
			ss = 2
		case 8:
			ss = 3
		default:
			panic(fmt.Sprintf("vdso: scale %d", m.scale))
		}
		a.emit(ss<<6 | idx<<3 | byte(m.base&7))
	} else {
		a.emit(mod<<6 | byte(r&7)<<3 | byte(m.base&7))
	}
	switch mod {
	case 1:
		a.emit(byte(int8(m.disp)))
	case 2:
		a.u32(uint32(m.disp))
	}
}

func (a *x86) movLoad(dst reg, m mem)    { a.opRM(true, []byte{0x8b}, dst, m) }
func (a *x86) movStore(m mem, src reg)   { a.opRM(true, []byte{0x89}, src, m) }
func (a *x86) movRR(dst, src reg)        { a.opRR(true, []byte{0x89}, src, dst) }
func (a *x86) addRR(dst, src reg)        { a.opRR(true, []byte{0x01}, src, dst) }
func (a *x86) subRR(dst, src reg)        { a.opRR(true, []byte{0x29}, src, dst) }
func (a *x86) orRR(dst, src reg)         { a.opRR(true, []byte{0x09}, src, dst) }
func (a *x86) testRR(x, y reg)           { a.opRR(true, []byte{0x85}, y, x) }
func (a *x86) subLoad(dst reg, m mem)    { a.opRM(true, []byte{0x2b}, dst, m) }
func (a *x86) cmpLoad(r reg, m mem)      { a.opRM(true, []byte{0x3b}, r, m) }
func (a *x86) mulMem(m mem)              { a.opRM(true, []byte{0xf7}, 4, m) } // rdx:rax = rax * m
func (a *x86) divRR(m reg)               { a.opRR(true, []byte{0xf7}, 6, m) } // rax, rdx = rdx:rax / m, %
func (a *x86) divMem(m mem)              { a.opRM(true, []byte{0xf7}, 6, m) }
func (a *x86) btRR(bits, index reg)      { a.opRR(true, []byte{0x0f, 0xa3}, index, bits) }
func (a *x86) shrdCL(dst, src reg)       { a.opRR(true, []byte{0x0f, 0xad}, src, dst) }
func (a *x86) zero32(r reg)              { a.opRR(false, []byte{0x31}, r, r) } // xor r32, r32
func (a *x86) zeroExtend32(r reg)        { a.opRR(false, []byte{0x89}, r, r) } // mov r32, r32
func (a *x86) storeImm32(m mem, v int32) { a.opRM(true, []byte{0xc7}, 0, m); a.u32(uint32(v)) }

// movImm32 loads a zero-extended 32-bit immediate.
func (a *x86) movImm32(r reg, v uint32) {
	a.rex(false, noIndex, noIndex, r)
	a.emit(0xb8 + byte(r&7))
	a.u32(v)
}

// shlImm shifts a 64-bit register left by n.
func (a *x86) shlImm(r reg, n byte) {
	a.opRR(true, []byte{0xc1}, 4, r)
	a.emit(n)
}

// cmpImm8 compares a 32-bit register with a sign-extended 8-bit immediate.
func (a *x86) cmpImm8(r reg, v int8) {
	a.opRR(false, []byte{0x83}, 7, r)
	a.emit(byte(v))
}

// testImm32 tests a 64-bit register against a sign-extended immediate.
func (a *x86) testImm32(r reg, v int32) {
	a.opRR(true, []byte{0xf7}, 0, r)
	a.u32(uint32(v))
}

// leaRIP loads the address at image offset target.
func (a *x86) leaRIP(dst reg, target int64) {
	a.rex(true, dst, noIndex, noIndex)
	a.emit(0x8d, 0x05|byte(dst&7)<<3)
	end := a.origin + int64(len(a.buf)) + 4
	a.u32(uint32(int32(target - end)))
}

func (a *x86) lfence()  { a.emit(0x0f, 0xae, 0xe8) }
func (a *x86) rdtsc()   { a.emit(0x0f, 0x31) }
func (a *x86) pause()   { a.emit(0xf3, 0x90) }
func (a *x86) syscall() { a.emit(0x0f, 0x05) }
func (a *x86) ret()     { a.emit(0xc3) }

// Condition codes for jcc.
const (
	ccB  = 0x2 // below (carry)
	ccAE = 0x3 // above or equal (no carry)
	ccE  = 0x4
	ccNE = 0x5
	ccA  = 0x7
)

func (a *x86) branch(op []byte, label string) {
	a.emit(op...)
	a.fixups = append(a.fixups, x86Fixup{at: len(a.buf), end: len(a.buf) + 4, label: label})
	a.u32(0)
}

func (a *x86) jcc(cc byte, label string) { a.branch([]byte{0x0f, 0x80 | cc}, label) }
func (a *x86) jmp(label string)          { a.branch([]byte{0xe9}, label) }
func (a *x86) call(label string)         { a.branch([]byte{0xe8}, label) }

// finish resolves branches and returns the code.
func (a *x86) finish() []byte {
	for _, f := range a.fixups {
		target, ok := a.labels[f.label]
		if !ok {
			panic("vdso: undefined label " + f.label)
		}
		binary.LittleEndian.PutUint32(a.buf[f.at:], uint32(int32(target-f.end)))
	}
	return a.buf
}
