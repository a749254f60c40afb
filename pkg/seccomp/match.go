package seccomp

import "fmt"

// matchOp is what a Match tests.
type matchOp uint8

const (
	opAny matchOp = iota
	opEq
	opNe
	opMaskedEq
	opGt
	opGe
	opLt
	opLe
	opIn
	opRange
)

// Match tests one 64-bit value of seccomp_data (an argument or the
// instruction pointer). Comparisons are unsigned over all 64 bits, as the
// kernel stores arguments zero- or sign-extended to 64 bits: a negative
// int argument passed from Go (AT_FDCWD) is 0xffffffffffffff9c; to test
// only the low 32 bits of an int argument use MaskedEq(0xffffffff, v).
//
// The zero Match matches anything.
type Match struct {
	op    matchOp
	value uint64
	mask  uint64
	// set holds In's values, in the order they are tested.
	set []uint64
}

// Any matches every value.
func Any() Match { return Match{} }

// Eq matches v.
func Eq(v uint64) Match { return Match{op: opEq, value: v} }

// Ne matches every value but v.
func Ne(v uint64) Match { return Match{op: opNe, value: v} }

// MaskedEq matches x with x&mask == v. Bits of v outside mask make it
// match nothing.
func MaskedEq(mask, v uint64) Match { return Match{op: opMaskedEq, value: v, mask: mask} }

// NoneOf matches x with no bit of bits set (x&bits == 0).
func NoneOf(bits uint64) Match { return MaskedEq(bits, 0) }

// Gt matches x > v.
func Gt(v uint64) Match { return Match{op: opGt, value: v} }

// Ge matches x >= v.
func Ge(v uint64) Match { return Match{op: opGe, value: v} }

// Lt matches x < v.
func Lt(v uint64) Match { return Match{op: opLt, value: v} }

// Le matches x <= v.
func Le(v uint64) Match { return Match{op: opLe, value: v} }

// Range matches lo <= x <= hi.
func Range(lo, hi uint64) Match { return Match{op: opRange, value: lo, mask: hi} }

// In matches any of values. They are tested in the order given, so put
// the most frequent first: a hot syscall whose argument is one of a few
// values is decided in a compare or two.
func In(values ...uint64) Match {
	if len(values) == 0 {
		panic("seccomp: In with no values matches nothing; say so with a rule that is not there")
	}
	return Match{op: opIn, set: append([]uint64(nil), values...)}
}

// IsAny reports whether m matches every value.
func (m Match) IsAny() bool { return m.op == opAny }

// Matches reports whether x passes m; it is the specification the
// compiled code is tested against.
func (m Match) Matches(x uint64) bool {
	switch m.op {
	case opAny:
		return true
	case opEq:
		return x == m.value
	case opNe:
		return x != m.value
	case opMaskedEq:
		return x&m.mask == m.value
	case opGt:
		return x > m.value
	case opGe:
		return x >= m.value
	case opLt:
		return x < m.value
	case opLe:
		return x <= m.value
	case opRange:
		return m.value <= x && x <= m.mask
	case opIn:
		for _, v := range m.set {
			if x == v {
				return true
			}
		}
		return false
	}
	panic("seccomp: bad match op")
}

// describe renders m applied to the value called name.
func (m Match) describe(name string) string {
	switch m.op {
	case opAny:
		return name + " any"
	case opEq:
		return fmt.Sprintf("%s == %#x", name, m.value)
	case opNe:
		return fmt.Sprintf("%s != %#x", name, m.value)
	case opMaskedEq:
		return fmt.Sprintf("%s & %#x == %#x", name, m.mask, m.value)
	case opGt:
		return fmt.Sprintf("%s > %#x", name, m.value)
	case opGe:
		return fmt.Sprintf("%s >= %#x", name, m.value)
	case opLt:
		return fmt.Sprintf("%s < %#x", name, m.value)
	case opLe:
		return fmt.Sprintf("%s <= %#x", name, m.value)
	case opRange:
		return fmt.Sprintf("%#x <= %s <= %#x", m.value, name, m.mask)
	case opIn:
		s := name + " in {"
		for i, v := range m.set {
			if i > 0 {
				s += ", "
			}
			s += fmt.Sprintf("%#x", v)
		}
		return s + "}"
	}
	return name + " ?"
}

// String implements fmt.Stringer.
func (m Match) String() string { return m.describe("x") }
