// Package bpf checks and runs classic BPF programs over struct
// seccomp_data: the filters applications install with seccomp(2), which
// the Sentry evaluates itself on every system call of a filtered task.
//
// Compile accepts exactly the programs Linux's loader accepts for seccomp
// (the classic BPF checker followed by the seccomp instruction list) and
// decodes them once into a form Run can execute without re-checking:
// every jump stays inside the program and goes forward, every load is an
// aligned word inside seccomp_data or an initialised scratch word, and
// every path ends in a return. Run therefore cannot fail or loop.
//
// pkg/seccomp builds filters for our own host processes; this package is
// the other direction, filters written by the application.
package bpf

import (
	"errors"
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// ErrInvalid wraps every reason Compile rejects a program; seccomp(2)
// reports all of them as EINVAL.
var ErrInvalid = errors.New("invalid seccomp BPF program")

// op is a decoded instruction kind, one per accepted opcode.
type op uint8

const (
	opRetK op = iota
	opRetA
	opLdAbs // A = seccomp_data word at k
	opLdImm
	opLdxImm
	opLdMem
	opLdxMem
	opSt
	opStx
	opTax
	opTxa
	opAddK
	opAddX
	opSubK
	opSubX
	opMulK
	opMulX
	opDivK
	opDivX
	opAndK
	opAndX
	opOrK
	opOrX
	opXorK
	opXorX
	opLshK
	opLshX
	opRshK
	opRshX
	opNeg
	opJa
	opJeqK
	opJeqX
	opJgtK
	opJgtX
	opJgeK
	opJgeX
	opJsetK
	opJsetX
)

// insn is one decoded instruction. Jump offsets are relative to the next
// instruction, as in classic BPF.
type insn struct {
	op     op
	jt, jf uint8
	k      uint32
}

// Program is a checked, decoded filter. It is immutable and may be run
// by several tasks at once.
type Program struct {
	insns []insn
}

// Len returns the number of instructions, which the kernel's limit on
// the total size of a task's filters counts.
func (p *Program) Len() int { return len(p.insns) }

// opcodes maps each classic BPF code seccomp permits to its decoded op.
// The two loads whose meaning seccomp fixes (the length of seccomp_data)
// are decoded to immediates.
var opcodes = map[uint16]op{
	linux.BPF_RET | linux.BPF_K:                  opRetK,
	linux.BPF_RET | linux.BPF_A:                  opRetA,
	linux.BPF_LD | linux.BPF_W | linux.BPF_ABS:   opLdAbs,
	linux.BPF_LD | linux.BPF_W | linux.BPF_LEN:   opLdImm,
	linux.BPF_LDX | linux.BPF_W | linux.BPF_LEN:  opLdxImm,
	linux.BPF_LD | linux.BPF_IMM:                 opLdImm,
	linux.BPF_LDX | linux.BPF_IMM:                opLdxImm,
	linux.BPF_LD | linux.BPF_MEM:                 opLdMem,
	linux.BPF_LDX | linux.BPF_MEM:                opLdxMem,
	linux.BPF_ST:                                 opSt,
	linux.BPF_STX:                                opStx,
	linux.BPF_MISC | linux.BPF_TAX:               opTax,
	linux.BPF_MISC | linux.BPF_TXA:               opTxa,
	linux.BPF_ALU | linux.BPF_ADD | linux.BPF_K:  opAddK,
	linux.BPF_ALU | linux.BPF_ADD | linux.BPF_X:  opAddX,
	linux.BPF_ALU | linux.BPF_SUB | linux.BPF_K:  opSubK,
	linux.BPF_ALU | linux.BPF_SUB | linux.BPF_X:  opSubX,
	linux.BPF_ALU | linux.BPF_MUL | linux.BPF_K:  opMulK,
	linux.BPF_ALU | linux.BPF_MUL | linux.BPF_X:  opMulX,
	linux.BPF_ALU | linux.BPF_DIV | linux.BPF_K:  opDivK,
	linux.BPF_ALU | linux.BPF_DIV | linux.BPF_X:  opDivX,
	linux.BPF_ALU | linux.BPF_AND | linux.BPF_K:  opAndK,
	linux.BPF_ALU | linux.BPF_AND | linux.BPF_X:  opAndX,
	linux.BPF_ALU | linux.BPF_OR | linux.BPF_K:   opOrK,
	linux.BPF_ALU | linux.BPF_OR | linux.BPF_X:   opOrX,
	linux.BPF_ALU | linux.BPF_XOR | linux.BPF_K:  opXorK,
	linux.BPF_ALU | linux.BPF_XOR | linux.BPF_X:  opXorX,
	linux.BPF_ALU | linux.BPF_LSH | linux.BPF_K:  opLshK,
	linux.BPF_ALU | linux.BPF_LSH | linux.BPF_X:  opLshX,
	linux.BPF_ALU | linux.BPF_RSH | linux.BPF_K:  opRshK,
	linux.BPF_ALU | linux.BPF_RSH | linux.BPF_X:  opRshX,
	linux.BPF_ALU | linux.BPF_NEG:                opNeg,
	linux.BPF_JMP | linux.BPF_JA:                 opJa,
	linux.BPF_JMP | linux.BPF_JEQ | linux.BPF_K:  opJeqK,
	linux.BPF_JMP | linux.BPF_JEQ | linux.BPF_X:  opJeqX,
	linux.BPF_JMP | linux.BPF_JGT | linux.BPF_K:  opJgtK,
	linux.BPF_JMP | linux.BPF_JGT | linux.BPF_X:  opJgtX,
	linux.BPF_JMP | linux.BPF_JGE | linux.BPF_K:  opJgeK,
	linux.BPF_JMP | linux.BPF_JGE | linux.BPF_X:  opJgeX,
	linux.BPF_JMP | linux.BPF_JSET | linux.BPF_K: opJsetK,
	linux.BPF_JMP | linux.BPF_JSET | linux.BPF_X: opJsetX,
}

func invalid(pc int, format string, a ...any) error {
	return fmt.Errorf("%w: instruction %d: %s", ErrInvalid, pc, fmt.Sprintf(format, a...))
}

// Compile checks filter as Linux does when a seccomp filter is loaded and
// returns its decoded form. Every error wraps ErrInvalid.
func Compile(filter []linux.SockFilter) (*Program, error) {
	n := len(filter)
	if n == 0 || n > linux.BPF_MAXINSNS {
		return nil, fmt.Errorf("%w: length %d out of 1..%d", ErrInvalid, n, linux.BPF_MAXINSNS)
	}
	p := &Program{insns: make([]insn, n)}
	for pc, f := range filter {
		o, ok := opcodes[f.Code]
		if !ok {
			return nil, invalid(pc, "opcode %#x not permitted in seccomp filters", f.Code)
		}
		in := insn{op: o, jt: f.JT, jf: f.JF, k: f.K}
		rest := n - pc - 1
		switch o {
		case opLdAbs:
			if f.K%4 != 0 || f.K >= linux.SizeofSeccompData {
				return nil, invalid(pc, "load at %d is outside seccomp_data or unaligned", f.K)
			}
		case opLdImm, opLdxImm:
			if f.Code&0xe0 == linux.BPF_LEN {
				in.k = linux.SizeofSeccompData
			}
		case opLdMem, opLdxMem, opSt, opStx:
			if f.K >= linux.BPF_MEMWORDS {
				return nil, invalid(pc, "scratch word %d out of range", f.K)
			}
		case opDivK:
			if f.K == 0 {
				return nil, invalid(pc, "division by constant zero")
			}
		case opLshK, opRshK:
			if f.K >= 32 {
				return nil, invalid(pc, "shift by %d", f.K)
			}
		case opJa:
			if uint64(f.K) >= uint64(rest) {
				return nil, invalid(pc, "jump past the end")
			}
		case opJeqK, opJeqX, opJgtK, opJgtX, opJgeK, opJgeX, opJsetK, opJsetX:
			if int(f.JT) >= rest || int(f.JF) >= rest {
				return nil, invalid(pc, "jump past the end")
			}
		}
		p.insns[pc] = in
	}
	if last := p.insns[n-1].op; last != opRetK && last != opRetA {
		return nil, fmt.Errorf("%w: the last instruction is not a return", ErrInvalid)
	}
	if err := p.checkScratch(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkScratch rejects a program that may read a scratch word no store
// has written on some path to the read, as Linux's loader does: it
// tracks, per instruction, the words written on every path reaching it.
func (p *Program) checkScratch() error {
	const all = 1<<linux.BPF_MEMWORDS - 1
	valid := make([]uint16, len(p.insns))
	for i := range valid {
		valid[i] = all
	}
	var cur uint16
	for pc, in := range p.insns {
		cur &= valid[pc]
		switch in.op {
		case opSt, opStx:
			cur |= 1 << in.k
		case opLdMem, opLdxMem:
			if cur&(1<<in.k) == 0 {
				return invalid(pc, "scratch word %d may be read before it is written", in.k)
			}
		case opJa:
			valid[pc+1+int(in.k)] &= cur
			cur = all
		case opJeqK, opJeqX, opJgtK, opJgtX, opJgeK, opJgeX, opJsetK, opJsetX:
			valid[pc+1+int(in.jt)] &= cur
			valid[pc+1+int(in.jf)] &= cur
			cur = all
		case opRetK, opRetA:
			cur = all
		}
	}
	return nil
}

// load returns the 32-bit word of d at off, which Compile checked is
// aligned and inside it. Words are in the machine's byte order; both
// architectures we run on are little-endian, so the low half of a 64-bit
// field comes first.
func load(d *linux.SeccompData, off uint32) uint32 {
	switch off {
	case linux.SeccompDataOffsetNr:
		return uint32(d.Nr)
	case linux.SeccompDataOffsetArch:
		return d.Arch
	case linux.SeccompDataOffsetIPLow:
		return uint32(d.InstructionPointer)
	case linux.SeccompDataOffsetIPHigh:
		return uint32(d.InstructionPointer >> 32)
	}
	a := d.Args[(off-linux.SeccompDataOffsetArgs)/8]
	if off%8 != 0 {
		return uint32(a >> 32)
	}
	return uint32(a)
}

// Run executes p over d and returns the filter's value (a SECCOMP_RET_*
// action and its data). A division by zero at run time ends the program
// with 0, as it does in Linux.
func (p *Program) Run(d *linux.SeccompData) uint32 {
	var (
		a, x uint32
		mem  [linux.BPF_MEMWORDS]uint32
	)
	insns := p.insns
	for pc := 0; ; pc++ {
		in := &insns[pc]
		switch in.op {
		case opRetK:
			return in.k
		case opRetA:
			return a
		case opLdAbs:
			a = load(d, in.k)
		case opLdImm:
			a = in.k
		case opLdxImm:
			x = in.k
		case opLdMem:
			a = mem[in.k]
		case opLdxMem:
			x = mem[in.k]
		case opSt:
			mem[in.k] = a
		case opStx:
			mem[in.k] = x
		case opTax:
			x = a
		case opTxa:
			a = x
		case opAddK:
			a += in.k
		case opAddX:
			a += x
		case opSubK:
			a -= in.k
		case opSubX:
			a -= x
		case opMulK:
			a *= in.k
		case opMulX:
			a *= x
		case opDivK:
			a /= in.k
		case opDivX:
			if x == 0 {
				return 0
			}
			a /= x
		case opAndK:
			a &= in.k
		case opAndX:
			a &= x
		case opOrK:
			a |= in.k
		case opOrX:
			a |= x
		case opXorK:
			a ^= in.k
		case opXorX:
			a ^= x
		case opLshK:
			a <<= in.k
		case opLshX:
			a = shift(a, x, true)
		case opRshK:
			a >>= in.k
		case opRshX:
			a = shift(a, x, false)
		case opNeg:
			a = -a
		case opJa:
			pc += int(in.k)
		case opJeqK:
			pc += branch(a == in.k, in)
		case opJeqX:
			pc += branch(a == x, in)
		case opJgtK:
			pc += branch(a > in.k, in)
		case opJgtX:
			pc += branch(a > x, in)
		case opJgeK:
			pc += branch(a >= in.k, in)
		case opJgeX:
			pc += branch(a >= x, in)
		case opJsetK:
			pc += branch(a&in.k != 0, in)
		case opJsetX:
			pc += branch(a&x != 0, in)
		}
	}
}

func branch(cond bool, in *insn) int {
	if cond {
		return int(in.jt)
	}
	return int(in.jf)
}

// shift is a shift by a register. Linux runs classic filters as 32-bit
// eBPF, whose interpreter and JITs use the count modulo 32, as the
// hardware does.
func shift(a, n uint32, left bool) uint32 {
	if left {
		return a << (n & 31)
	}
	return a >> (n & 31)
}

// KernelLen returns the size Linux gives this program once loaded: it
// translates classic filters to eBPF, and limits the total size of a
// task's filters (MAX_INSNS_PER_PATH) in translated instructions, so the
// same limit needs the same count. The translation adds a 3-instruction
// prologue; a return becomes 2 instructions; a division by X 4 (a test for
// zero); a conditional jump 2 when neither branch falls through to the
// next instruction (or only the true branch does, for JSET, which has no
// inverse), plus 1 when its constant has bit 31 set (eBPF immediates are
// signed); everything else 1.
func (p *Program) KernelLen() int {
	n := 3
	for _, in := range p.insns {
		switch in.op {
		case opRetK, opRetA:
			n += 2
		case opDivX:
			n += 4
		case opJeqK, opJgtK, opJgeK, opJsetK, opJeqX, opJgtX, opJgeX, opJsetX:
			n++
			switch in.op {
			case opJeqK, opJgtK, opJgeK, opJsetK:
				if int32(in.k) < 0 {
					n++
				}
			}
			if in.jf != 0 && (in.jt != 0 || in.op == opJsetK || in.op == opJsetX) {
				n++
			}
		default:
			n++
		}
	}
	return n
}
