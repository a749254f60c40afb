package loader

import "testing"

// TestETDynBaseMatchesLinux checks that a PIE loads where Linux loads
// it with ASLR off (gdb's default), although the platform reserves the
// top of the address space, and that a much smaller address space still
// gets its own two thirds.
func TestETDynBaseMatchesLinux(t *testing.T) {
	for _, tc := range []struct {
		arch     *archParams
		taskSize uint64
		want     uint64
	}{
		{&amd64Params, 0x7ffb_0000_0000, 0x5555_5555_4000},
		{&amd64Params, amd64Params.taskSize, 0x5555_5555_4000},
		{&arm64Params, 0xfffb_0000_0000, 0xaaaa_aaaa_a000},
		{&amd64Params, 0x1_0000_0000, 0xaaaa_a000},
	} {
		if got := tc.arch.etDynBase(tc.taskSize); got != tc.want {
			t.Errorf("%s: etDynBase(%#x) = %#x, want %#x", tc.arch.platform, tc.taskSize, got, tc.want)
		}
	}
}
