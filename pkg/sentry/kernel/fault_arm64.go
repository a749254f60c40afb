package kernel

import "appkernel.dev/appkernel/pkg/sentry/platform"

// pageFaultTrap has no arm64 equivalent.
const pageFaultTrap = 0

// faultErrorCode builds an ESR_EL1 value for a data abort from EL0: the
// exception class, and WnR for a write.
func faultErrorCode(at platform.AccessType) uint64 {
	if at.Execute {
		return 0x20 << 26 // instruction abort, lower EL
	}
	esr := uint64(0x24) << 26 // data abort, lower EL
	if at.Write {
		esr |= 1 << 6
	}
	return esr
}
