package arch

import "testing"

// A 32-bit argument must ignore whatever the program left in the upper half
// of the register, as Linux does.
func TestSyscallArgumentWidths(t *testing.T) {
	a := SyscallArgument{Value: uintptr(0xdead_beef_ffff_fffe)}
	if got := a.Int(); got != -2 {
		t.Errorf("Int() = %d, want -2", got)
	}
	if got := a.Uint(); got != 0xffff_fffe {
		t.Errorf("Uint() = %#x, want 0xfffffffe", got)
	}
	if got := a.Int64(); got != -0x2152_4110_0000_0002 {
		t.Errorf("Int64() = %#x", got)
	}
	if got := a.Uint64(); got != 0xdead_beef_ffff_fffe {
		t.Errorf("Uint64() = %#x", got)
	}
	if got := a.Pointer(); got != uintptr(0xdead_beef_ffff_fffe) {
		t.Errorf("Pointer() = %#x", got)
	}
	if got := a.SizeT(); got != 0xdead_beef_ffff_fffe {
		t.Errorf("SizeT() = %#x", got)
	}
}
