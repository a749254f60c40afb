package systrap

import (
	"encoding/binary"
	"fmt"
)

// x86-64 general registers by encoding number.
const (
	rax = iota
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
	r12
	r13
	r14
	r15
)

// asm is a tiny x86-64 assembler: only the instruction forms the handler
// page needs, memory operands always as disp32(base). Labels are resolved
// by finish.
type asm struct {
	buf    []byte
	pos    int
	labels map[string]int
	fixups []asmFixup
}

type asmFixup struct {
	at    int // offset of the rel32 field
	label string
}

func newAsm(size int) *asm {
	a := &asm{buf: make([]byte, size), labels: map[string]int{}}
	for i := range a.buf {
		a.buf[i] = 0xcc // int3: a stray jump traps
	}
	return a
}

func (a *asm) org(off int) {
	if off < a.pos {
		panic(fmt.Sprintf("systrap: code overflows into offset %#x (at %#x)", off, a.pos))
	}
	a.pos = off
}

func (a *asm) label(name string) {
	if _, ok := a.labels[name]; ok {
		panic("systrap: duplicate label " + name)
	}
	a.labels[name] = a.pos
}

func (a *asm) b(v ...byte) {
	copy(a.buf[a.pos:], v)
	a.pos += len(v)
}

func (a *asm) u32(v uint32) {
	binary.LittleEndian.PutUint32(a.buf[a.pos:], v)
	a.pos += 4
}

func (a *asm) u64(v uint64) {
	binary.LittleEndian.PutUint64(a.buf[a.pos:], v)
	a.pos += 8
}

func (a *asm) finish() []byte {
	for _, f := range a.fixups {
		t, ok := a.labels[f.label]
		if !ok {
			panic("systrap: undefined label " + f.label)
		}
		binary.LittleEndian.PutUint32(a.buf[f.at:], uint32(int32(t-(f.at+4))))
	}
	return a.buf
}

// rex emits a REX prefix when one is needed.
func (a *asm) rex(w bool, reg, base int) {
	v := byte(0x40)
	if w {
		v |= 8
	}
	if reg >= 8 {
		v |= 4
	}
	if base >= 8 {
		v |= 1
	}
	if v != 0x40 {
		a.b(v)
	}
}

// mem emits op with a ModRM memory operand disp32(base).
func (a *asm) mem(w bool, op []byte, reg, base int, disp int32) {
	a.rex(w, reg, base)
	a.b(op...)
	a.b(0x80 | byte(reg&7)<<3 | byte(base&7))
	if base&7 == rsp {
		a.b(0x24) // SIB: base only
	}
	a.u32(uint32(disp))
}

// rr emits op with a register-direct ModRM (reg, rm).
func (a *asm) rr(w bool, op []byte, reg, rm int) {
	a.rex(w, reg, rm)
	a.b(op...)
	a.b(0xc0 | byte(reg&7)<<3 | byte(rm&7))
}

func (a *asm) load64(dst, base int, disp int32)      { a.mem(true, []byte{0x8b}, dst, base, disp) }
func (a *asm) load32(dst, base int, disp int32)      { a.mem(false, []byte{0x8b}, dst, base, disp) }
func (a *asm) store64(base int, disp int32, src int) { a.mem(true, []byte{0x89}, src, base, disp) }
func (a *asm) store32(base int, disp int32, src int) { a.mem(false, []byte{0x89}, src, base, disp) }
func (a *asm) lea(dst, base int, disp int32)         { a.mem(true, []byte{0x8d}, dst, base, disp) }

// storeImm32 is movl $v, disp(base).
func (a *asm) storeImm32(base int, disp int32, v uint32) {
	a.mem(false, []byte{0xc7}, 0, base, disp)
	a.u32(v)
}

// storeImm64 is movq $v, disp(base) with v sign-extended from 32 bits.
func (a *asm) storeImm64(base int, disp int32, v int32) {
	a.mem(true, []byte{0xc7}, 0, base, disp)
	a.u32(uint32(v))
}

// testImm32 is testl $v, disp(base).
func (a *asm) testImm32(base int, disp int32, v uint32) {
	a.mem(false, []byte{0xf7}, 0, base, disp)
	a.u32(v)
}

// cmpMem64 is cmp disp(base), reg (flags of reg - mem).
func (a *asm) cmpMem64(reg, base int, disp int32) { a.mem(true, []byte{0x3b}, reg, base, disp) }

func (a *asm) movRR(dst, src int) { a.rr(true, []byte{0x89}, src, dst) }

// movImm32 loads a zero-extended 32-bit immediate.
func (a *asm) movImm32(dst int, v uint32) {
	a.rex(false, 0, dst)
	a.b(0xb8 + byte(dst&7))
	a.u32(v)
}

func (a *asm) movImm64(dst int, v uint64) {
	a.rex(true, 0, dst)
	a.b(0xb8 + byte(dst&7))
	a.u64(v)
}

func (a *asm) xor32(r int)              { a.rr(false, []byte{0x31}, r, r) }
func (a *asm) test64(x, y int)          { a.rr(true, []byte{0x85}, y, x) }
func (a *asm) cmp64(x, y int)           { a.rr(true, []byte{0x39}, y, x) } // flags of x - y
func (a *asm) andImm64(r int, v int32)  { a.rr(true, []byte{0x81}, 4, r); a.u32(uint32(v)) }
func (a *asm) orImm32(r int, v uint32)  { a.rr(false, []byte{0x81}, 1, r); a.u32(v) }
func (a *asm) cmpImm32(r int, v uint32) { a.rr(false, []byte{0x81}, 7, r); a.u32(v) }
func (a *asm) addImm64(r int, v int32)  { a.rr(true, []byte{0x81}, 0, r); a.u32(uint32(v)) }
func (a *asm) subImm32(r int, v uint32) { a.rr(false, []byte{0x81}, 5, r); a.u32(v) }
func (a *asm) decl(r int)               { a.rr(false, []byte{0xff}, 1, r) }

// xchgMem32 is xchg %reg32, disp(base): an implicitly locked swap.
func (a *asm) xchgMem32(reg, base int, disp int32) { a.mem(false, []byte{0x87}, reg, base, disp) }

// lockCmpxchg32 is lock cmpxchg %reg32, disp(base) (compares with eax).
func (a *asm) lockCmpxchg32(reg, base int, disp int32) {
	a.b(0xf0)
	a.mem(false, []byte{0x0f, 0xb1}, reg, base, disp)
}

func (a *asm) repMovsq() { a.b(0xf3, 0x48, 0xa5) }
func (a *asm) repMovsb() { a.b(0xf3, 0xa4) }
func (a *asm) pause()    { a.b(0xf3, 0x90) }
func (a *asm) syscall()  { a.b(0x0f, 0x05) }
func (a *asm) ud2()      { a.b(0x0f, 0x0b) }
func (a *asm) xorESP()   { a.b(0x31, 0xe4) }
func (a *asm) rdtscp()   { a.b(0x0f, 0x01, 0xf9) }             // edx:eax = TSC, ecx = TSC_AUX
func (a *asm) rdfsbase() { a.b(0xf3, 0x48, 0x0f, 0xae, 0xc0) } // into rax
func (a *asm) rdgsbase() { a.b(0xf3, 0x48, 0x0f, 0xae, 0xc8) }
func (a *asm) wrfsbase() { a.b(0xf3, 0x48, 0x0f, 0xae, 0xd0) } // from rax
func (a *asm) wrgsbase() { a.b(0xf3, 0x48, 0x0f, 0xae, 0xd8) }

// gsMem emits op with the memory operand %gs:disp32 (an absolute
// displacement from the gs base: ModRM rm=100, SIB without base or index).
func (a *asm) gsMem(w bool, op []byte, reg int, disp int32) {
	a.b(0x65)
	a.rex(w, reg, 0)
	a.b(op...)
	a.b(0x04|byte(reg&7)<<3, 0x25)
	a.u32(uint32(disp))
}

// xsave64 and xrstor64 save and load the extended state components in
// edx:eax at disp(base), in the standard (non-compacted) format.
func (a *asm) xsave64(base int, disp int32)  { a.mem(true, []byte{0x0f, 0xae}, 4, base, disp) }
func (a *asm) xrstor64(base int, disp int32) { a.mem(true, []byte{0x0f, 0xae}, 5, base, disp) }

// pushMem64 is pushq disp(base).
func (a *asm) pushMem64(base int, disp int32) { a.mem(false, []byte{0xff}, 6, base, disp) }

func (a *asm) pushfq() { a.b(0x9c) }
func (a *asm) popfq()  { a.b(0x9d) }

// popR is pop %r.
func (a *asm) popR(r int) {
	a.rex(false, 0, r)
	a.b(0x58 + byte(r&7))
}

// shrImm64 is shr $n, %r.
func (a *asm) shrImm64(r int, n byte) { a.rr(true, []byte{0xc1}, 5, r); a.b(n) }

// Condition codes for jcc.
const (
	ccB  = 0x2 // unsigned <
	ccAE = 0x3 // unsigned >=
	ccE  = 0x4
	ccNE = 0x5
	ccA  = 0x7 // unsigned >
)

func (a *asm) jcc(cc byte, label string) {
	a.b(0x0f, 0x80|cc)
	a.fixups = append(a.fixups, asmFixup{at: a.pos, label: label})
	a.u32(0)
}

// leaRIP is lea label(%rip), %dst.
func (a *asm) leaRIP(dst int, label string) {
	a.rex(true, dst, 0)
	a.b(0x8d, 0x05|byte(dst&7)<<3)
	a.fixups = append(a.fixups, asmFixup{at: a.pos, label: label})
	a.u32(0)
}

func (a *asm) jmp(label string) {
	a.b(0xe9)
	a.fixups = append(a.fixups, asmFixup{at: a.pos, label: label})
	a.u32(0)
}
