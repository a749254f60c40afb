package bpf

import (
	"errors"
	"math/rand/v2"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/seccomp"
)

func stmt(code uint16, k uint32) linux.SockFilter { return linux.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf uint8) linux.SockFilter {
	return linux.SockFilter{Code: code, JT: jt, JF: jf, K: k}
}

const (
	ldAbs = linux.BPF_LD | linux.BPF_W | linux.BPF_ABS
	retK  = linux.BPF_RET | linux.BPF_K
	jeqK  = linux.BPF_JMP | linux.BPF_JEQ | linux.BPF_K
)

func TestCompileRejects(t *testing.T) {
	long := make([]linux.SockFilter, linux.BPF_MAXINSNS+1)
	for i := range long {
		long[i] = stmt(retK, 0)
	}
	for _, c := range []struct {
		name string
		prog []linux.SockFilter
	}{
		{"empty", nil},
		{"too long", long},
		{"no return", []linux.SockFilter{stmt(ldAbs, 0)}},
		{"unaligned load", []linux.SockFilter{stmt(ldAbs, 2), stmt(retK, 0)}},
		{"load past seccomp_data", []linux.SockFilter{stmt(ldAbs, 64), stmt(retK, 0)}},
		{"byte load", []linux.SockFilter{stmt(linux.BPF_LD|linux.BPF_B|linux.BPF_ABS, 0), stmt(retK, 0)}},
		{"indirect load", []linux.SockFilter{stmt(linux.BPF_LD|linux.BPF_W|linux.BPF_IND, 0), stmt(retK, 0)}},
		{"mod", []linux.SockFilter{stmt(linux.BPF_ALU|linux.BPF_MOD|linux.BPF_K, 3), stmt(retK, 0)}},
		{"div by zero", []linux.SockFilter{stmt(linux.BPF_ALU|linux.BPF_DIV|linux.BPF_K, 0), stmt(retK, 0)}},
		{"shift by 32", []linux.SockFilter{stmt(linux.BPF_ALU|linux.BPF_LSH|linux.BPF_K, 32), stmt(retK, 0)}},
		{"ja out", []linux.SockFilter{stmt(linux.BPF_JMP|linux.BPF_JA, 1), stmt(retK, 0)}},
		{"jt out", []linux.SockFilter{jump(jeqK, 0, 1, 0), stmt(retK, 0)}},
		{"jf out", []linux.SockFilter{jump(jeqK, 0, 0, 1), stmt(retK, 0)}},
		{"scratch out of range", []linux.SockFilter{stmt(linux.BPF_ST, 16), stmt(retK, 0)}},
		{"scratch never written", []linux.SockFilter{stmt(linux.BPF_LD|linux.BPF_MEM, 3), stmt(retK, 0)}},
		{"scratch written on one path only", []linux.SockFilter{
			jump(jeqK, 0, 0, 1),
			stmt(linux.BPF_ST, 3),
			stmt(linux.BPF_LD|linux.BPF_MEM, 3),
			stmt(retK, 0),
		}},
		{"ret X", []linux.SockFilter{stmt(linux.BPF_RET|linux.BPF_X, 0)}},
	} {
		if _, err := Compile(c.prog); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Compile = %v, want ErrInvalid", c.name, err)
		}
	}
}

func TestScratchWrittenOnEveryPath(t *testing.T) {
	p, err := Compile([]linux.SockFilter{
		stmt(linux.BPF_LD|linux.BPF_IMM, 7),
		stmt(linux.BPF_ST, 3),
		jump(jeqK, 0, 0, 1),
		stmt(linux.BPF_LD|linux.BPF_IMM, 1),
		stmt(linux.BPF_LD|linux.BPF_MEM, 3),
		stmt(linux.BPF_RET|linux.BPF_A, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Run(&linux.SeccompData{}); got != 7 {
		t.Errorf("Run = %d, want 7", got)
	}
}

func TestArithmetic(t *testing.T) {
	alu := func(o uint16, k uint32) linux.SockFilter { return stmt(linux.BPF_ALU|o|linux.BPF_K, k) }
	aluX := func(o uint16) linux.SockFilter { return stmt(linux.BPF_ALU|o|linux.BPF_X, 0) }
	for _, c := range []struct {
		name string
		prog []linux.SockFilter
		want uint32
	}{
		{"add sub mul div", []linux.SockFilter{stmt(ldAbs, 16), alu(linux.BPF_ADD, 5), alu(linux.BPF_MUL, 3), alu(linux.BPF_SUB, 1), alu(linux.BPF_DIV, 2)}, (10+5)*3/2 - 0},
		{"and or xor", []linux.SockFilter{stmt(ldAbs, 16), alu(linux.BPF_OR, 0xf0), alu(linux.BPF_AND, 0x3c), alu(linux.BPF_XOR, 0xff)}, ((10 | 0xf0) & 0x3c) ^ 0xff},
		{"neg", []linux.SockFilter{stmt(ldAbs, 16), stmt(linux.BPF_ALU|linux.BPF_NEG, 0)}, 0xfffffff6},
		{"shift by X masks", []linux.SockFilter{stmt(linux.BPF_LDX|linux.BPF_IMM, 33), stmt(linux.BPF_LD|linux.BPF_IMM, 1), aluX(linux.BPF_LSH)}, 2},
		{"div by X zero", []linux.SockFilter{stmt(linux.BPF_LDX|linux.BPF_IMM, 0), stmt(linux.BPF_LD|linux.BPF_IMM, 9), aluX(linux.BPF_DIV), stmt(retK, 5)}, 0},
		{"len", []linux.SockFilter{stmt(linux.BPF_LD|linux.BPF_W|linux.BPF_LEN, 0)}, 64},
		{"high half", []linux.SockFilter{stmt(ldAbs, 20)}, 0xdead},
		{"ip", []linux.SockFilter{stmt(ldAbs, 12), stmt(linux.BPF_MISC|linux.BPF_TAX, 0), stmt(ldAbs, 8), aluX(linux.BPF_ADD)}, 0x1000 + 0x7f},
	} {
		prog := c.prog
		if prog[len(prog)-1].Code&0x07 != linux.BPF_RET {
			prog = append(prog, stmt(linux.BPF_RET|linux.BPF_A, 0))
		}
		p, err := Compile(prog)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		d := linux.SeccompData{InstructionPointer: 0x7f<<32 | 0x1000, Args: [6]uint64{0xdead<<32 | 10}}
		if got := p.Run(&d); got != c.want {
			t.Errorf("%s: Run = %#x, want %#x", c.name, got, c.want)
		}
	}
}

// TestAgreesWithSeccompEvaluate runs the programs pkg/seccomp compiles
// for random rule sets through both interpreters.
func TestAgreesWithSeccompEvaluate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []uint64{0, 1, 0xffffffff, 1 << 32, 0xffffffffffffffff, 0x80000000, 42}
	for iter := 0; iter < 50; iter++ {
		rules := seccomp.SyscallRules{}
		for i := 0; i < 20; i++ {
			nr := uintptr(r.IntN(40))
			var rule seccomp.Rule
			switch r.IntN(4) {
			case 0:
				rule.Args[r.IntN(6)] = seccomp.Eq(values[r.IntN(len(values))])
			case 1:
				rule.Args[r.IntN(6)] = seccomp.Gt(values[r.IntN(len(values))])
			case 2:
				rule.Args[r.IntN(6)] = seccomp.MaskedEq(0xff00, 0x100)
			}
			rules.Add(nr, rule)
		}
		rs := seccomp.RuleSet{
			Sections: []seccomp.Section{{Action: seccomp.Errno(linux.EPERM), Syscalls: rules}},
			Default:  seccomp.Allow,
		}
		prog, err := seccomp.CompileArch(rs, linux.AUDIT_ARCH_X86_64)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(prog)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 200; j++ {
			d := linux.SeccompData{Nr: int32(r.IntN(45)), Arch: linux.AUDIT_ARCH_X86_64, InstructionPointer: r.Uint64()}
			for i := range d.Args {
				d.Args[i] = values[r.IntN(len(values))]
			}
			if r.IntN(20) == 0 {
				d.Arch = linux.AUDIT_ARCH_I386
			}
			want, err := seccomp.Evaluate(prog, d)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Run(&d); got != uint32(want) {
				t.Fatalf("program %d, data %+v: Run = %#x, seccomp.Evaluate = %#x", iter, d, got, uint32(want))
			}
		}
	}
}

func BenchmarkRunAllow(b *testing.B) {
	p, err := Compile([]linux.SockFilter{stmt(retK, linux.SECCOMP_RET_ALLOW)})
	if err != nil {
		b.Fatal(err)
	}
	d := linux.SeccompData{}
	for b.Loop() {
		p.Run(&d)
	}
}

// TestKernelLen checks the translated sizes measured on Linux 6.1 by
// loading filters until the total-size limit refused one.
func TestKernelLen(t *testing.T) {
	prog := func(n int, mk func(i int) linux.SockFilter) []linux.SockFilter {
		f := make([]linux.SockFilter, n)
		for i := range f[:n-2] {
			f[i] = mk(i)
		}
		f[n-2], f[n-1] = stmt(retK, 0), stmt(retK, 0)
		return f
	}
	for _, c := range []struct {
		name string
		prog []linux.SockFilter
		want int
	}{
		{"loads", prog(4096, func(int) linux.SockFilter { return stmt(ldAbs, 0) }), 3 + 4094 + 4},
		{"jeq fallthrough", prog(4096, func(int) linux.SockFilter { return jump(jeqK, 5, 0, 1) }), 3 + 4094 + 4},
		{"jeq both", prog(4096, func(int) linux.SockFilter { return jump(jeqK, 5, 1, 1) }), 3 + 2*4094 + 4},
		{"jset false", prog(4096, func(int) linux.SockFilter { return jump(linux.BPF_JMP|linux.BPF_JSET|linux.BPF_K, 5, 0, 1) }), 3 + 2*4094 + 4},
		{"signed constant", prog(4096, func(int) linux.SockFilter { return jump(jeqK, 0x80000000, 1, 1) }), 3 + 3*4094 + 4},
	} {
		p, err := Compile(c.prog)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := p.KernelLen(); got != c.want {
			t.Errorf("%s: KernelLen = %d, want %d", c.name, got, c.want)
		}
	}
}
