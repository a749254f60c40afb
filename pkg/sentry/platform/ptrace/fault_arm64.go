package ptrace

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/platform"
)

// The arm64 stub has no fault handler yet (the fault's ESR sits in an
// esr_context record of the signal frame), so faults keep an unknown
// access there; see fault_amd64.go.

const (
	scratchBase  = 0
	scratchSize  = 0
	scratchSlots = 0
)

func faultProbe() bool { return false }

func installFaultHandler(tid int32, base *linux.PtraceRegs) error { return nil }

func faultAccess(t *thread, r *linux.PtraceRegs) (platform.AccessType, error) {
	return platform.NoAccess, nil
}
