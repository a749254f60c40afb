package seccomp

import (
	"encoding/binary"
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// Validate checks p as the kernel's loader does (seccomp_check_filter on
// top of the classic BPF checker): length, only the instructions seccomp
// permits, aligned in-range loads, no constant division by zero or
// oversized shift, jumps that stay inside the program, and a return as
// the last instruction (with forward-only jumps that stay inside, every
// path then ends in a return).
func Validate(p Program) error {
	if len(p) == 0 || len(p) > linux.BPF_MAXINSNS {
		return fmt.Errorf("seccomp: program length %d out of range 1..%d", len(p), linux.BPF_MAXINSNS)
	}
	for pc, in := range p {
		if err := checkInsn(in, len(p)-pc-1); err != nil {
			return fmt.Errorf("seccomp: instruction %d (code %#x, k %#x): %w", pc, in.Code, in.K, err)
		}
	}
	if p[len(p)-1].Code&0x07 != linux.BPF_RET {
		return fmt.Errorf("seccomp: program does not end in a return")
	}
	return nil
}

// checkInsn checks one instruction followed by rest more.
func checkInsn(in linux.SockFilter, rest int) error {
	const (
		ld  = linux.BPF_LD
		ldx = linux.BPF_LDX
		alu = linux.BPF_ALU
		jmp = linux.BPF_JMP
		k   = linux.BPF_K
		x   = linux.BPF_X
	)
	switch in.Code {
	case ld | linux.BPF_W | linux.BPF_ABS:
		if in.K%4 != 0 || in.K >= linux.SizeofSeccompData {
			return fmt.Errorf("load outside seccomp_data or unaligned")
		}
	case ld | linux.BPF_W | linux.BPF_LEN, ldx | linux.BPF_W | linux.BPF_LEN,
		ld | linux.BPF_IMM, ldx | linux.BPF_IMM,
		linux.BPF_MISC | linux.BPF_TAX, linux.BPF_MISC | linux.BPF_TXA,
		linux.BPF_RET | k, linux.BPF_RET | linux.BPF_A,
		alu | linux.BPF_NEG:
	case ld | linux.BPF_MEM, ldx | linux.BPF_MEM, linux.BPF_ST, linux.BPF_STX:
		if in.K >= linux.BPF_MEMWORDS {
			return fmt.Errorf("scratch memory index out of range")
		}
	case alu | linux.BPF_ADD | k, alu | linux.BPF_SUB | k, alu | linux.BPF_MUL | k,
		alu | linux.BPF_AND | k, alu | linux.BPF_OR | k, alu | linux.BPF_XOR | k,
		alu | linux.BPF_ADD | x, alu | linux.BPF_SUB | x, alu | linux.BPF_MUL | x,
		alu | linux.BPF_AND | x, alu | linux.BPF_OR | x, alu | linux.BPF_XOR | x,
		alu | linux.BPF_DIV | x, alu | linux.BPF_LSH | x, alu | linux.BPF_RSH | x:
	case alu | linux.BPF_DIV | k:
		if in.K == 0 {
			return fmt.Errorf("division by constant zero")
		}
	case alu | linux.BPF_LSH | k, alu | linux.BPF_RSH | k:
		if in.K >= 32 {
			return fmt.Errorf("shift by %d", in.K)
		}
	case jmp | linux.BPF_JA:
		if int64(in.K) >= int64(rest) {
			return fmt.Errorf("jump out of the program")
		}
	case jmp | linux.BPF_JEQ | k, jmp | linux.BPF_JGT | k, jmp | linux.BPF_JGE | k, jmp | linux.BPF_JSET | k,
		jmp | linux.BPF_JEQ | x, jmp | linux.BPF_JGT | x, jmp | linux.BPF_JGE | x, jmp | linux.BPF_JSET | x:
		if int(in.JT) >= rest || int(in.JF) >= rest {
			return fmt.Errorf("jump out of the program")
		}
	default:
		return fmt.Errorf("instruction not permitted in seccomp filters")
	}
	return nil
}

// Evaluate runs p on data as the kernel would and returns the verdict.
// It fails, as loading would, on a program Validate rejects.
func Evaluate(p Program, data linux.SeccompData) (Action, error) {
	a, _, err := EvaluateSteps(p, data)
	return a, err
}

// EvaluateSteps is Evaluate that also counts the instructions executed:
// the cost of the decision, for keeping hot paths short.
func EvaluateSteps(p Program, data linux.SeccompData) (Action, int, error) {
	if err := Validate(p); err != nil {
		return 0, 0, err
	}
	var buf [linux.SizeofSeccompData]byte
	data.MarshalBytes(buf[:])
	var (
		A, X uint32
		mem  [linux.BPF_MEMWORDS]uint32
	)
	for pc, steps := 0, 1; ; pc, steps = pc+1, steps+1 {
		in := p[pc]
		operand := in.K
		if in.Code&linux.BPF_X != 0 && in.Code&0x07 != linux.BPF_MISC {
			operand = X
		}
		switch in.Code & 0x07 {
		case linux.BPF_LD, linux.BPF_LDX:
			var v uint32
			switch in.Code & 0xe0 {
			case linux.BPF_ABS:
				// Seccomp loads words in the host's byte order; both
				// architectures we support are little-endian.
				v = binary.LittleEndian.Uint32(buf[in.K:])
			case linux.BPF_LEN:
				v = linux.SizeofSeccompData
			case linux.BPF_IMM:
				v = in.K
			case linux.BPF_MEM:
				v = mem[in.K]
			}
			if in.Code&0x07 == linux.BPF_LD {
				A = v
			} else {
				X = v
			}
		case linux.BPF_ST:
			mem[in.K] = A
		case linux.BPF_STX:
			mem[in.K] = X
		case linux.BPF_ALU:
			switch in.Code & 0xf0 {
			case linux.BPF_ADD:
				A += operand
			case linux.BPF_SUB:
				A -= operand
			case linux.BPF_MUL:
				A *= operand
			case linux.BPF_DIV:
				if operand == 0 {
					// A run-time division by zero ends the program
					// with 0, which seccomp reads as KILL_THREAD.
					return KillThread, steps, nil
				}
				A /= operand
			case linux.BPF_OR:
				A |= operand
			case linux.BPF_AND:
				A &= operand
			case linux.BPF_XOR:
				A ^= operand
			case linux.BPF_LSH:
				A = shift(A, operand, true)
			case linux.BPF_RSH:
				A = shift(A, operand, false)
			case linux.BPF_NEG:
				A = -A
			}
		case linux.BPF_JMP:
			var cond bool
			switch in.Code & 0xf0 {
			case linux.BPF_JA:
				pc += int(in.K)
				continue
			case linux.BPF_JEQ:
				cond = A == operand
			case linux.BPF_JGT:
				cond = A > operand
			case linux.BPF_JGE:
				cond = A >= operand
			case linux.BPF_JSET:
				cond = A&operand != 0
			}
			if cond {
				pc += int(in.JT)
			} else {
				pc += int(in.JF)
			}
		case linux.BPF_RET:
			if in.Code&0x18 == linux.BPF_A {
				return Action(A), steps, nil
			}
			return Action(in.K), steps, nil
		case linux.BPF_MISC:
			if in.Code&0xf8 == linux.BPF_TAX {
				X = A
			} else {
				A = X
			}
		}
	}
}

// shift is a 32-bit shift as BPF does it: by 32 or more gives 0.
func shift(a, n uint32, left bool) uint32 {
	if n >= 32 {
		return 0
	}
	if left {
		return a << n
	}
	return a >> n
}
