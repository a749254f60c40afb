package loader

import "appkernel.dev/appkernel/pkg/abi/linux"

var hostArch = &arm64Params

// pstateEL0t is PSR_MODE_EL0t: EL0 with interrupts unmasked.
const pstateEL0t = 0

// Apply sets regs to the state a new program starts in: every general
// register zero (x0 is the atexit function pointer the ABI defines, and
// zero means none), pc at the entry point, sp at argc.
func (r InitialRegs) Apply(regs *linux.PtraceRegs) {
	*regs = linux.PtraceRegs{Pc: r.PC, Sp: r.SP, Pstate: pstateEL0t}
}
