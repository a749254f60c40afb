package linux

import (
	abilinux "appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
	"appkernel.dev/appkernel/pkg/sentry/kernel"
	"appkernel.dev/appkernel/pkg/sentry/kernel/futex"
)

// Futex implements futex(2).
func Futex(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, error) {
	addr := args[0].Pointer()
	op := int(args[1].Int())
	caller := &futex.Caller{
		Mem:     t.MemoryManager(),
		Blocker: t,
		TID:     int32(t.ThreadID()),
		Alive:   func(tid int32) bool { return t.LookupTask(kernel.ThreadID(tid)) != nil },
		Clock:   futex.HostClock{},
	}
	rv, err := t.Kernel().Futex.Syscall(caller, addr, op, args[2].Uint(), args[3].Pointer(), args[4].Pointer(), args[5].Uint())
	if err == kernel.ErrInterrupted {
		// A PI lock must be retaken, whatever the signal's SA_RESTART;
		// other waits follow it.
		if cmd := op &^ (abilinux.FUTEX_PRIVATE_FLAG | abilinux.FUTEX_CLOCK_REALTIME); cmd == abilinux.FUTEX_LOCK_PI {
			return 0, abilinux.ERESTARTNOINTR
		}
		return 0, abilinux.ERESTARTSYS
	}
	return rv, err
}
