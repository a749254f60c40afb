package kernel

import (
	"encoding/binary"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
)

// ptraceArchRequestLocked runs the requests only some architectures have
// (GETREGS/SETREGS, GETFPREGS/SETFPREGS, ARCH_PRCTL on amd64).
func (t *Task) ptraceArchRequestLocked(target *Task, req int64, addr, data uintptr) (uintptr, error) {
	ac := target.ac
	switch req {
	case linux.PTRACE_GETREGS:
		regs := ac.PtraceRegs()
		b := make([]byte, linux.SizeofPtraceRegs)
		regs.MarshalBytes(b)
		return 0, t.copyOutAll(data, b)
	case linux.PTRACE_SETREGS:
		b := make([]byte, linux.SizeofPtraceRegs)
		if err := t.copyInAll(data, b); err != nil {
			return 0, err
		}
		var regs linux.PtraceRegs
		regs.UnmarshalBytes(b)
		return 0, ac.SetPtraceRegs(&regs)
	case linux.PTRACE_GETFPREGS:
		return 0, t.copyOutAll(data, ac.PtraceFPRegs())
	case linux.PTRACE_SETFPREGS:
		b := make([]byte, arch.SizeofFPRegs)
		if err := t.copyInAll(data, b); err != nil {
			return 0, err
		}
		return 0, ac.SetPtraceFPRegs(b)
	case linux.PTRACE_ARCH_PRCTL:
		var w [8]byte
		switch int(data) {
		case linux.ARCH_GET_FS, linux.ARCH_GET_GS:
			binary.LittleEndian.PutUint64(w[:], ac.ArchPrctlBase(int(data) == linux.ARCH_GET_FS))
			return 0, t.copyOutAll(addr, w[:])
		case linux.ARCH_SET_FS, linux.ARCH_SET_GS:
			return 0, ac.SetArchPrctlBase(int(data) == linux.ARCH_SET_FS, uint64(addr))
		}
		return 0, linux.EINVAL
	}
	return 0, linux.EIO
}
