package arch

import "appkernel.dev/appkernel/pkg/abi/linux"

// Alternate signal stack rules, as Linux applies them at delivery and in
// sigaltstack(2). They are arch-neutral: both targets have a stack that
// grows down.

// signalStackEnabled reports whether alt describes a usable stack. Linux
// zeroes the size when the stack is disabled and tests the size alone; the
// flag is tested too so a SignalStack built without that convention still
// reads as disabled.
func signalStackEnabled(alt linux.SignalStack) bool {
	return alt.Size != 0 && alt.Flags&linux.SS_DISABLE == 0
}

// OnSignalStack reports whether a thread whose stack pointer is sp counts as
// running on its alternate stack. A stack armed with SS_AUTODISARM never
// counts: Linux disarms it on delivery, so a thread still on it must have
// re-armed it deliberately, and treating it as "not on it" lets a signal be
// handled even if the stack pointer is corrupt.
func OnSignalStack(alt linux.SignalStack, sp uint64) bool {
	if uint32(alt.Flags)&linux.SS_AUTODISARM != 0 {
		return false
	}
	return signalStackEnabled(alt) && alt.Contains(sp)
}

// SignalStackState is ss_flags as sigaltstack(2) reports it for a thread at
// sp, without the SS_FLAG_BITS the program set: SS_DISABLE, SS_ONSTACK or 0.
func SignalStackState(alt linux.SignalStack, sp uint64) int32 {
	if !signalStackEnabled(alt) {
		return linux.SS_DISABLE
	}
	if OnSignalStack(alt, sp) {
		return linux.SS_ONSTACK
	}
	return 0
}

// signalFrameStack returns the stack pointer a signal frame is built below,
// starting from sp (already past any red zone), and whether delivery
// switches onto the alternate stack. A handler with SA_ONSTACK moves to the
// top of the alternate stack unless the thread is already on it, in which
// case nested frames continue below the current stack pointer.
func signalFrameStack(alt linux.SignalStack, flags uint64, sp uint64) (uint64, bool) {
	if flags&linux.SA_ONSTACK != 0 && SignalStackState(alt, sp) == 0 {
		return alt.Addr + alt.Size, true
	}
	return sp, false
}
