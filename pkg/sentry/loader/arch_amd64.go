package loader

import "appkernel.dev/appkernel/pkg/abi/linux"

var hostArch = &amd64Params

// User segment selectors and the initial flags (IF plus the always-set
// bit 1), as Linux's start_thread leaves them.
const (
	userCS       = 0x33
	userDS       = 0x2b
	initialFlags = 0x202
)

// Apply sets regs to the state a new program starts in: every general
// register zero (rdx is the atexit function pointer the ABI defines, and
// zero means none), rip at the entry point, rsp at argc.
func (r InitialRegs) Apply(regs *linux.PtraceRegs) {
	*regs = linux.PtraceRegs{
		Rip:    r.PC,
		Rsp:    r.SP,
		Cs:     userCS,
		Ss:     userDS,
		Eflags: initialFlags,
	}
}
