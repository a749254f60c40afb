package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
)

// Rseq implements rseq(2): register or (RSEQ_FLAG_UNREGISTER) unregister
// the calling thread's struct rseq (see kernel/task_rseq.go).
func Rseq(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	addr, length, flags, sig := args[0].Pointer(), args[1].Uint(), args[2].Int(), args[3].Uint()
	if flags&abilinux.RSEQ_FLAG_UNREGISTER != 0 {
		if flags&^abilinux.RSEQ_FLAG_UNREGISTER != 0 {
			return 0, abilinux.EINVAL
		}
		return 0, t.RseqUnregister(addr, length, sig)
	}
	if flags != 0 {
		return 0, abilinux.EINVAL
	}
	return 0, t.RseqRegister(addr, length, sig)
}
