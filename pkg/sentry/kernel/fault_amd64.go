package kernel

import "appkernel.dev/appkernel/pkg/sentry/platform"

// pageFaultTrap is x86's #PF vector, reported in sigcontext.trapno.
const pageFaultTrap = 14

// faultErrorCode builds the x86 page-fault error code a handler sees in
// sigcontext.err: user mode, plus write or instruction-fetch bits.
func faultErrorCode(at platform.AccessType) uint64 {
	code := uint64(4) // PF_USER
	if at.Write {
		code |= 2
	}
	if at.Execute {
		code |= 16
	}
	return code
}
