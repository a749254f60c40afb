package seccomp

import (
	"fmt"
	"slices"

	"appkernel.dev/appkernel/pkg/abi/linux"
)

// x32SyscallBit marks x32 syscall numbers on x86-64 (__X32_SYSCALL_BIT).
// x32 calls carry AUDIT_ARCH_X86_64 too, so only the number tells them
// apart.
const x32SyscallBit = 0x40000000

// linearMax is the largest number of syscalls the dispatch tests one by
// one instead of splitting further: a few compares in a row are cheaper
// than the jumps of another level.
const linearMax = 4

// Compile builds the program for rs on the architecture we run on.
func Compile(rs RuleSet) (Program, error) { return CompileArch(rs, NativeArch) }

// CompileArch builds the program for rs on the architecture whose audit
// token is arch (linux.AUDIT_ARCH_X86_64 or linux.AUDIT_ARCH_AARCH64).
//
// Layout: the arch check (and on x86-64 the x32 check), then each hot
// syscall's test followed by its rules, then a binary search over the
// other syscall numbers whose leaves hold their rules. Every rule block
// ends in its own return, so a decision never takes a further jump.
func CompileArch(rs RuleSet, arch uint32) (Program, error) {
	if arch != linux.AUDIT_ARCH_X86_64 && arch != linux.AUDIT_ARCH_AARCH64 {
		return nil, fmt.Errorf("seccomp: unsupported architecture %#x", arch)
	}
	nrs := make(map[uintptr]bool)
	for _, s := range rs.Sections {
		for nr := range s.Syscalls {
			if nr >= 1<<31 {
				return nil, fmt.Errorf("seccomp: syscall number %#x out of range", nr)
			}
			nrs[nr] = true
		}
	}
	var a assembler
	badArch := a.newLabel()
	a.load(linux.SeccompDataOffsetArch)
	a.jump(linux.BPF_JEQ, arch, next, badArch)
	a.load(linux.SeccompDataOffsetNr)
	if arch == linux.AUDIT_ARCH_X86_64 {
		a.jump(linux.BPF_JGE, x32SyscallBit, badArch, next)
	}

	seen := make(map[uintptr]bool)
	for _, nr := range rs.Hot {
		if seen[nr] {
			continue
		}
		seen[nr] = true
		skip := a.newLabel()
		a.jump(linux.BPF_JEQ, uint32(nr), next, skip)
		if err := a.syscallBlock(rs, nr); err != nil {
			return nil, err
		}
		a.bind(skip)
	}
	var rest []uintptr
	for nr := range nrs {
		if !seen[nr] {
			rest = append(rest, nr)
		}
	}
	slices.Sort(rest)
	if err := a.search(rs, rest); err != nil {
		return nil, err
	}
	a.bind(badArch)
	a.ret(KillProcess)
	return a.assemble()
}

// search emits a binary search for the syscall in A among nrs (sorted),
// each found one followed by its rules, and the default for the others.
// A holds the syscall number on entry.
func (a *assembler) search(rs RuleSet, nrs []uintptr) error {
	if len(nrs) <= linearMax {
		for _, nr := range nrs {
			miss := a.newLabel()
			a.jump(linux.BPF_JEQ, uint32(nr), next, miss)
			if err := a.syscallBlock(rs, nr); err != nil {
				return err
			}
			a.bind(miss)
		}
		a.ret(rs.Default)
		return nil
	}
	mid := len(nrs) / 2
	upper := a.newLabel()
	a.jump(linux.BPF_JGE, uint32(nrs[mid]), upper, next)
	if err := a.search(rs, nrs[:mid]); err != nil {
		return err
	}
	a.bind(upper)
	return a.search(rs, nrs[mid:])
}

// syscallBlock emits the decision for syscall nr, which is in A: each
// section's rules for nr in order, then the default. It always ends in a
// return.
func (a *assembler) syscallBlock(rs RuleSet, nr uintptr) error {
	for _, s := range rs.Sections {
		rules, ok := s.Syscalls[nr]
		if !ok {
			continue
		}
		if len(rules) == 0 {
			a.ret(s.Action)
			return nil
		}
		for _, r := range rules {
			if r.Unconditional() {
				a.ret(s.Action)
				return nil
			}
			fail := a.newLabel()
			for i, m := range r.Args {
				a.match(m, linux.SeccompDataOffsetArgLow(i), fail)
			}
			a.match(r.IP, linux.SeccompDataOffsetIPLow, fail)
			a.ret(s.Action)
			a.bind(fail)
		}
	}
	a.ret(rs.Default)
	return nil
}

// match emits a test of the 64-bit value at off (low word; the high word
// is at off+4) that falls through when m matches and goes to fail when it
// does not. It clobbers A.
func (a *assembler) match(m Match, off uint32, fail label) {
	lo, hi := off, off+4
	vlo, vhi := uint32(m.value), uint32(m.value>>32)
	switch m.op {
	case opAny:
	case opEq:
		a.load(hi)
		a.jump(linux.BPF_JEQ, vhi, next, fail)
		a.load(lo)
		a.jump(linux.BPF_JEQ, vlo, next, fail)
	case opNe:
		pass := a.newLabel()
		a.load(hi)
		a.jump(linux.BPF_JEQ, vhi, next, pass)
		a.load(lo)
		a.jump(linux.BPF_JEQ, vlo, fail, pass)
		a.bind(pass)
	case opMaskedEq:
		if m.value&^m.mask != 0 {
			a.ja(fail) // asks for bits the mask clears: never true
			return
		}
		a.maskedEq(hi, uint32(m.mask>>32), vhi, fail)
		a.maskedEq(lo, uint32(m.mask), vlo, fail)
	case opGt, opGe:
		// x > v (x >= v) iff x.hi > v.hi, or x.hi == v.hi and
		// x.lo > v.lo (x.lo >= v.lo).
		pass := a.newLabel()
		op := uint16(linux.BPF_JGT)
		if m.op == opGe {
			op = linux.BPF_JGE
		}
		a.load(hi)
		switch vhi {
		case 0xffffffff:
			a.jump(linux.BPF_JEQ, vhi, next, fail) // nothing is above
		case 0:
			a.jump(linux.BPF_JGT, 0, pass, next) // then it is 0: equal
		default:
			a.jump(linux.BPF_JGT, vhi, pass, next)
			a.jump(linux.BPF_JEQ, vhi, next, fail)
		}
		a.load(lo)
		a.jump(op, vlo, pass, fail)
		a.bind(pass)
	case opLt, opLe:
		// x < v is !(x >= v); x <= v is !(x > v).
		pass := a.newLabel()
		op := uint16(linux.BPF_JGE)
		if m.op == opLe {
			op = linux.BPF_JGT
		}
		a.load(hi)
		switch vhi {
		case 0:
			a.jump(linux.BPF_JEQ, 0, next, fail) // nothing is below
		case 0xffffffff:
			a.jump(linux.BPF_JEQ, vhi, next, pass) // nothing is above
		default:
			a.jump(linux.BPF_JGT, vhi, fail, next)
			a.jump(linux.BPF_JEQ, vhi, next, pass)
		}
		a.load(lo)
		a.jump(op, vlo, fail, pass)
		a.bind(pass)
	case opRange:
		if uint32(m.value>>32) != uint32(m.mask>>32) || m.value > m.mask {
			a.match(Ge(m.value), off, fail)
			a.match(Le(m.mask), off, fail)
			return
		}
		// Both bounds in one high word (a pid, a small number): one
		// high compare, then the low word against both bounds.
		a.load(hi)
		a.jump(linux.BPF_JEQ, vhi, next, fail)
		a.load(lo)
		a.jump(linux.BPF_JGE, vlo, next, fail)
		a.jump(linux.BPF_JGT, uint32(m.mask), fail, next)
	case opIn:
		// Values grouped by high word: one high compare per group, then
		// the low words of that group. Groups have distinct high words,
		// so a miss in a group whose high word matched fails outright.
		pass := a.newLabel()
		var his []uint32
		groups := map[uint32][]uint32{}
		for _, v := range m.set {
			h := uint32(v >> 32)
			if _, ok := groups[h]; !ok {
				his = append(his, h)
			}
			groups[h] = append(groups[h], uint32(v))
		}
		for _, h := range his {
			other := a.newLabel()
			a.load(hi)
			a.jump(linux.BPF_JEQ, h, next, other)
			a.load(lo)
			for _, l := range groups[h] {
				a.jump(linux.BPF_JEQ, l, pass, next)
			}
			a.ja(fail)
			a.bind(other)
		}
		a.ja(fail)
		a.bind(pass)
	default:
		panic("seccomp: bad match op")
	}
}

// maskedEq emits a test of word&mask == v (v has no bit outside mask).
func (a *assembler) maskedEq(off, mask, v uint32, fail label) {
	switch {
	case mask == 0:
		// Nothing to test: v is 0 too.
	case v == 0:
		a.load(off)
		a.jump(linux.BPF_JSET, mask, fail, next)
	default:
		a.load(off)
		if mask != 0xffffffff {
			a.and(mask)
		}
		a.jump(linux.BPF_JEQ, v, next, fail)
	}
}
