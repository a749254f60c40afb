package seccomp

import (
	"math/rand/v2"
	"testing"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// reference decides d under rs the way the RuleSet's documentation says,
// without BPF: what every compiled program must agree with.
func reference(rs RuleSet, arch uint32, d linux.SeccompData) Action {
	if d.Arch != arch || (arch == linux.AUDIT_ARCH_X86_64 && uint32(d.Nr) >= x32SyscallBit) {
		return KillProcess
	}
	nr := uintptr(uint32(d.Nr))
	for _, s := range rs.Sections {
		rules, ok := s.Syscalls[nr]
		if !ok {
			continue
		}
		if len(rules) == 0 {
			return s.Action
		}
		for _, r := range rules {
			ok := r.IP.Matches(d.InstructionPointer)
			for i, m := range r.Args {
				ok = ok && m.Matches(d.Args[i])
			}
			if ok {
				return s.Action
			}
		}
	}
	return rs.Default
}

// interesting are values around the 32-bit boundaries that a compare done
// on one half only would get wrong.
var interesting = []uint64{
	0, 1, 2, 0x7f, 0xff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	1 << 32, 1<<32 | 1, 1<<32 | 0xffffffff, 2 << 32, 0x7fffffffffffffff,
	0x8000000000000000, 0xffffffff00000000, 0xffffffff7fffffff,
	0xfffffffffffffffe, 0xffffffffffffffff, 0x123456789abcdef0,
}

func randValue(r *rand.Rand) uint64 {
	v := interesting[r.IntN(len(interesting))]
	switch r.IntN(6) {
	case 0:
		return v + 1
	case 1:
		return v - 1
	case 2:
		// Same high half, other low half: exercises the second compare.
		return v&0xffffffff00000000 | uint64(r.Uint32())
	case 3:
		return r.Uint64()
	}
	return v
}

func randMatch(r *rand.Rand) Match {
	v := randValue(r)
	switch r.IntN(11) {
	case 9:
		w := randValue(r)
		return Range(min(v, w), max(v, w))
	case 8:
		vs := []uint64{v}
		for n := r.IntN(5); n > 0; n-- {
			vs = append(vs, randValue(r))
		}
		return In(vs...)
	case 0:
		return Eq(v)
	case 1:
		return Ne(v)
	case 2:
		mask := randValue(r)
		if r.IntN(4) == 0 {
			return MaskedEq(mask, v) // usually asks for bits outside mask
		}
		return MaskedEq(mask, v&mask)
	case 3:
		return Gt(v)
	case 4:
		return Ge(v)
	case 5:
		return Lt(v)
	case 6:
		return Le(v)
	case 7:
		return NoneOf(v)
	}
	return Any()
}

func randRule(r *rand.Rand) Rule {
	var rule Rule
	for n := r.IntN(4); n > 0; n-- {
		rule.Args[r.IntN(6)] = randMatch(r)
	}
	if r.IntN(8) == 0 {
		rule.IP = randMatch(r)
	}
	return rule
}

var actions = []Action{Allow, Errno(linux.EPERM), Errno(linux.ENOSYS), Trap, Log, TraceMsg(7), KillProcess}

func randRuleSet(r *rand.Rand, nsys int) RuleSet {
	rs := RuleSet{Default: actions[r.IntN(len(actions))]}
	for s := r.IntN(3) + 1; s > 0; s-- {
		sec := Section{Action: actions[r.IntN(len(actions))], Syscalls: SyscallRules{}}
		for i := 0; i < nsys; i++ {
			nr := uintptr(r.IntN(nsys * 3))
			var rules []Rule
			for n := r.IntN(4); n > 0; n-- {
				rules = append(rules, randRule(r))
			}
			sec.Syscalls.Add(nr, rules...)
		}
		rs.Sections = append(rs.Sections, sec)
	}
	for n := r.IntN(4); n > 0; n-- {
		rs.Hot = append(rs.Hot, uintptr(r.IntN(nsys*3+2)))
	}
	return rs
}

// randData draws a call that often hits rs's syscalls and values.
func randData(r *rand.Rand, rs RuleSet, arch uint32) linux.SeccompData {
	d := linux.SeccompData{Arch: arch, InstructionPointer: randValue(r)}
	var rules []Rule
	if s := rs.Sections[r.IntN(len(rs.Sections))]; len(s.Syscalls) > 0 && r.IntN(5) != 0 {
		for nr, rr := range s.Syscalls {
			d.Nr, rules = int32(nr), rr
			break
		}
	} else {
		d.Nr = int32(r.IntN(1000))
	}
	for i := range d.Args {
		d.Args[i] = randValue(r)
	}
	// Often copy a rule's values so that equality rules match.
	if len(rules) > 0 && r.IntN(2) == 0 {
		rule := rules[r.IntN(len(rules))]
		for i, m := range rule.Args {
			if m.op != opAny && r.IntN(4) != 0 {
				d.Args[i] = m.value
				if m.op == opIn {
					d.Args[i] = m.set[r.IntN(len(m.set))]
				}
			}
		}
	}
	switch r.IntN(30) {
	case 0:
		d.Arch = linux.AUDIT_ARCH_I386
	case 1:
		d.Nr = int32(x32SyscallBit | r.IntN(512))
	case 2:
		d.Nr = -1
	}
	return d
}

func TestCompileAgreesWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sawFar := false
	for iter := 0; iter < 400; iter++ {
		arch := uint32(linux.AUDIT_ARCH_X86_64)
		if iter%3 == 0 {
			arch = linux.AUDIT_ARCH_AARCH64
		}
		nsys := 1 + r.IntN(10)
		if iter%10 == 0 {
			nsys = 100 // long enough for far jumps
		}
		rs := randRuleSet(r, nsys)
		p, err := CompileArch(rs, arch)
		if err != nil {
			t.Fatalf("compile: %v", err)
		}
		if err := Validate(p); err != nil {
			t.Fatalf("compiled program invalid: %v", err)
		}
		for _, in := range p {
			if in.Code == linux.BPF_JMP|linux.BPF_JA && in.K > 255 {
				sawFar = true
			}
		}
		for j := 0; j < 300; j++ {
			d := randData(r, rs, arch)
			got, err := Evaluate(p, d)
			if err != nil {
				t.Fatalf("evaluate: %v", err)
			}
			if want := reference(rs, arch, d); got != want {
				t.Fatalf("iteration %d: %+v: got %v, want %v (rules %+v)", iter, d, got, want, rs)
			}
		}
	}
	if !sawFar {
		t.Error("no program needed a long jump; the test does not cover widening")
	}
}

func TestMatchBoundaries(t *testing.T) {
	ms := func(v uint64) []Match {
		return []Match{Range(v, v), Range(v, v+1<<32), Range(v/2, v), In(v), In(v+1, v, 1<<32|v&0xffffffff), Eq(v), Ne(v), Gt(v), Ge(v), Lt(v), Le(v), MaskedEq(v, v), NoneOf(v), MaskedEq(0xffffffff, v&0xffffffff)}
	}
	for _, v := range interesting {
		for _, m := range ms(v) {
			for argi := 0; argi < 6; argi += 5 {
				rule := Rule{}
				rule.Args[argi] = m
				rs := RuleSet{Sections: []Section{{Action: Allow, Syscalls: SyscallRules{1: {rule}}}}, Default: Errno(linux.EPERM)}
				p, err := Compile(rs)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range interesting {
					for _, x := range []uint64{x, x + 1, x - 1} {
						d := linux.SeccompData{Nr: 1, Arch: NativeArch}
						d.Args[argi] = x
						got, err := Evaluate(p, d)
						if err != nil {
							t.Fatal(err)
						}
						if want := m.Matches(x); (got == Allow) != want {
							t.Errorf("%v on arg%d = %#x: got %v, want match=%v", m, argi, x, got, want)
						}
					}
				}
			}
		}
	}
}

func TestArchitectureChecks(t *testing.T) {
	rs := RuleSet{Sections: []Section{{Action: Allow, Syscalls: SyscallRules{0: nil, 1: nil}}}, Default: Allow}
	amd, err := CompileArch(rs, linux.AUDIT_ARCH_X86_64)
	if err != nil {
		t.Fatal(err)
	}
	arm, err := CompileArch(rs, linux.AUDIT_ARCH_AARCH64)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    Program
		d    linux.SeccompData
		want Action
	}{
		{amd, linux.SeccompData{Nr: 1, Arch: linux.AUDIT_ARCH_X86_64}, Allow},
		{amd, linux.SeccompData{Nr: 1, Arch: linux.AUDIT_ARCH_I386}, KillProcess},
		{amd, linux.SeccompData{Nr: 1, Arch: linux.AUDIT_ARCH_AARCH64}, KillProcess},
		{amd, linux.SeccompData{Nr: x32SyscallBit | 1, Arch: linux.AUDIT_ARCH_X86_64}, KillProcess},
		{amd, linux.SeccompData{Nr: 77, Arch: linux.AUDIT_ARCH_X86_64}, Allow}, // default
		{arm, linux.SeccompData{Nr: 1, Arch: linux.AUDIT_ARCH_AARCH64}, Allow},
		{arm, linux.SeccompData{Nr: 1, Arch: linux.AUDIT_ARCH_X86_64}, KillProcess},
		// No x32 on arm64: a large number is just an unknown syscall.
		{arm, linux.SeccompData{Nr: x32SyscallBit | 1, Arch: linux.AUDIT_ARCH_AARCH64}, Allow},
	} {
		got, err := Evaluate(c.p, c.d)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%+v: got %v, want %v", c.d, got, c.want)
		}
	}
	if _, err := CompileArch(rs, linux.AUDIT_ARCH_I386); err == nil {
		t.Error("compiled for i386")
	}
}

// TestHotPathLength checks the point of Hot: a hot unconditional syscall
// is decided in six instructions (arch load and check, nr load, x32 check,
// compare, return), however large the rule set.
func TestHotPathLength(t *testing.T) {
	rules := SyscallRules{}
	for nr := uintptr(0); nr < 300; nr++ {
		rules.Add(nr)
	}
	rules[202] = nil
	rs := AllowList(rules, 202)
	p, err := CompileArch(rs, linux.AUDIT_ARCH_X86_64)
	if err != nil {
		t.Fatal(err)
	}
	if n := executed(t, p, linux.SeccompData{Nr: 202, Arch: linux.AUDIT_ARCH_X86_64}); n != 6 {
		t.Errorf("hot syscall took %d instructions, want 6", n)
	}
	// The others take a binary search: about log2(300/linearMax) levels
	// plus a few linear compares.
	if n := executed(t, p, linux.SeccompData{Nr: 150, Arch: linux.AUDIT_ARCH_X86_64}); n > 20 {
		t.Errorf("searched syscall took %d instructions", n)
	}
}

// executed counts the instructions Evaluate executes on p for d.
func executed(t *testing.T, p Program, d linux.SeccompData) int {
	t.Helper()
	_, n, err := EvaluateSteps(p, d)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAssemblerWidensFarJumps(t *testing.T) {
	var a assembler
	far := a.newLabel()
	near := a.newLabel()
	a.load(linux.SeccompDataOffsetNr)
	a.jump(linux.BPF_JEQ, 1, far, near)
	a.bind(near)
	a.jump(linux.BPF_JEQ, 2, far, next)
	for i := 0; i < 300; i++ {
		a.ret(Errno(linux.Errno(i + 1)))
	}
	a.bind(far)
	a.ret(Allow)
	p, err := a.assemble()
	if err != nil {
		t.Fatal(err)
	}
	for nr, want := range map[int32]Action{1: Allow, 2: Allow, 3: Errno(1)} {
		got, err := Evaluate(p, linux.SeccompData{Nr: nr})
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("nr %d: got %v, want %v", nr, got, want)
		}
	}
	if len(p) != 1+2+2+300+1 {
		t.Errorf("program has %d instructions, want %d (one BPF_JA per far branch)", len(p), 306)
	}
}

func TestTooLong(t *testing.T) {
	rules := SyscallRules{}
	for nr := uintptr(0); nr < 500; nr++ {
		for i := uint64(0); i < 3; i++ {
			rules.Add(nr, Rule{Args: [6]Match{Eq(i), Ne(i + 1)}})
		}
	}
	if _, err := Compile(AllowList(rules)); err == nil {
		t.Error("compiled a program over BPF_MAXINSNS")
	}
}

func TestValidateRejects(t *testing.T) {
	ret := linux.SockFilter{Code: linux.BPF_RET | linux.BPF_K, K: uint32(Allow)}
	for name, p := range map[string]Program{
		"empty":            {},
		"no final return":  {{Code: linux.BPF_LD | linux.BPF_W | linux.BPF_ABS}},
		"unaligned load":   {{Code: linux.BPF_LD | linux.BPF_W | linux.BPF_ABS, K: 2}, ret},
		"load past data":   {{Code: linux.BPF_LD | linux.BPF_W | linux.BPF_ABS, K: 64}, ret},
		"byte load":        {{Code: linux.BPF_LD | linux.BPF_B | linux.BPF_ABS}, ret},
		"jump past end":    {{Code: linux.BPF_JMP | linux.BPF_JEQ, JT: 1}, ret},
		"ja past end":      {{Code: linux.BPF_JMP | linux.BPF_JA, K: 1}, ret},
		"divide by zero":   {{Code: linux.BPF_ALU | linux.BPF_DIV | linux.BPF_K}, ret},
		"scratch overflow": {{Code: linux.BPF_ST, K: 16}, ret},
	} {
		if err := Validate(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := Validate(Program{ret}); err != nil {
		t.Errorf("single return rejected: %v", err)
	}
}

func TestEvaluateInstructions(t *testing.T) {
	// A hand-written program using scratch memory, X and ALU: returns
	// ERRNO(((nr+3)*2) ^ 1) via RET A.
	p := Program{
		{Code: linux.BPF_LD | linux.BPF_W | linux.BPF_ABS, K: linux.SeccompDataOffsetNr},
		{Code: linux.BPF_ALU | linux.BPF_ADD | linux.BPF_K, K: 3},
		{Code: linux.BPF_ST, K: 5},
		{Code: linux.BPF_LDX | linux.BPF_IMM, K: 2},
		{Code: linux.BPF_LD | linux.BPF_MEM, K: 5},
		{Code: linux.BPF_ALU | linux.BPF_MUL | linux.BPF_X},
		{Code: linux.BPF_ALU | linux.BPF_XOR | linux.BPF_K, K: 1},
		{Code: linux.BPF_ALU | linux.BPF_OR | linux.BPF_K, K: linux.SECCOMP_RET_ERRNO},
		{Code: linux.BPF_RET | linux.BPF_A},
	}
	got, err := Evaluate(p, linux.SeccompData{Nr: 4})
	if err != nil {
		t.Fatal(err)
	}
	if want := Errno(((4 + 3) * 2) ^ 1); got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSyscallRulesAdd(t *testing.T) {
	s := SyscallRules{}
	s.Add(1, Rule{Args: [6]Match{Eq(1)}})
	s.Add(1, Rule{Args: [6]Match{Eq(2)}})
	if len(s[1]) != 2 {
		t.Errorf("rules not appended: %v", s[1])
	}
	s.Add(2)
	s.Add(2, Rule{Args: [6]Match{Eq(1)}})
	if len(s[2]) != 0 {
		t.Errorf("a rule narrowed an unconditional syscall: %v", s[2])
	}
	s.Merge(SyscallRules{1: nil})
	if len(s[1]) != 0 {
		t.Errorf("merging an unconditional entry kept rules: %v", s[1])
	}
	if got := (Rule{Args: [6]Match{1: Eq(3), 2: NoneOf(4)}}).String(); got != "arg1 == 0x3 && arg2 & 0x4 == 0x0" {
		t.Errorf("String: %q", got)
	}
}
