package arch

import "encoding/binary"

// The FP state on arm64 is struct user_fpsimd_state (what PTRACE_GETREGSET
// NT_PRFPREG returns: 32 128-bit V registers, FPSR, FPCR, 8 reserved bytes)
// followed by the thread pointer register TPIDR_EL0 (NT_ARM_TLS) and 8
// bytes of padding. TPIDR_EL0 lives here because user_pt_regs has no room
// for it and the program writes it without trapping, so the platform must
// save and load it on every switch along with the other state it fetches
// with PTRACE_GETREGSET; keeping it in FPState makes it travel (and be
// checkpointed) with the rest without changing Context's layout. The
// platform moves bytes [0, FPSIMDStateSize) as NT_PRFPREG and the next 8 as
// NT_ARM_TLS.

var le = binary.LittleEndian

const (
	// FPSIMDStateSize is sizeof(struct user_fpsimd_state).
	FPSIMDStateSize = 528
	// FPStateSize is the size of Context.FPState on arm64.
	FPStateSize = FPSIMDStateSize + 16

	fpsimdVregs = 0
	fpsimdFPSR  = 512
	fpsimdFPCR  = 516
	fpTPIDR     = FPSIMDStateSize
)

// newFPState returns a clean FP state: every register zero, which is what
// Linux gives a new program (FPCR 0: round to nearest, no traps).
func newFPState(size int) []byte {
	if size < FPStateSize {
		panic("arch: FP state smaller than user_fpsimd_state plus TPIDR_EL0")
	}
	return make([]byte, size)
}
