package kernel

import "appkernel.dev/appkernel/pkg/abi/linux"

// ptraceArchRequestLocked: arm64 has only the regset interface, so every
// request not handled in common code is EIO.
func (t *Task) ptraceArchRequestLocked(target *Task, req int64, addr, data uintptr) (uintptr, error) {
	return 0, linux.EIO
}
