package ptrace

import (
	"encoding/binary"
	"unsafe"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"golang.org/x/sys/unix"
)

// arch.Context.FPState is, on arm64, the NT_PRFPREG regset (struct
// user_fpsimd_state) followed by TPIDR_EL0 (NT_ARM_TLS, 8 bytes) and 8
// bytes of padding; see package arch.
const tlsPad = 16

func fpSize(tid int32) (int, error) {
	buf := make([]byte, 4096)
	n, err := getRegset(tid, linux.NT_PRFPREG, buf)
	return n + tlsPad, err
}

func getFP(tid int32, fp []byte) error {
	simd := len(fp) - tlsPad
	n, err := getRegset(tid, linux.NT_PRFPREG, fp[:simd])
	if err == nil && n != simd {
		err = unix.EIO
	}
	if err != nil {
		return err
	}
	_, err = getRegset(tid, linux.NT_ARM_TLS, fp[simd:simd+8])
	return err
}

func setFP(tid int32, fp []byte) error {
	simd := len(fp) - tlsPad
	if err := setRegset(tid, linux.NT_PRFPREG, fp[:simd]); err != nil {
		return err
	}
	return setRegset(tid, linux.NT_ARM_TLS, fp[simd:simd+8])
}

func getRegs(tid int32, r *linux.PtraceRegs) error {
	buf := (*[linux.SizeofPtraceRegs]byte)(unsafe.Pointer(r))
	_, err := getRegset(tid, linux.NT_PRSTATUS, buf[:])
	return err
}

// setRegs writes r, then sets the thread's syscallno to -1 (NT_ARM_SYSTEM_CALL)
// so that the host never treats the resumed thread as returning from a
// system call it should restart.
func setRegs(tid int32, r *linux.PtraceRegs) error {
	buf := (*[linux.SizeofPtraceRegs]byte)(unsafe.Pointer(r))
	if err := setRegset(tid, linux.NT_PRSTATUS, buf[:]); err != nil {
		return err
	}
	var nr [4]byte
	binary.LittleEndian.PutUint32(nr[:], ^uint32(0))
	return setRegset(tid, linux.NT_ARM_SYSTEM_CALL, nr[:])
}

// appRegs makes the registers to load into a stub thread from an
// application's. The kernel validates pstate itself.
func appRegs(dst, app, stub *linux.PtraceRegs) { *dst = *app }

// syscallRegs prepares r to execute system call nr at pc.
func syscallRegs(r *linux.PtraceRegs, pc uintptr, nr uintptr, args ...uintptr) {
	r.Pc = uint64(pc)
	r.Regs[8] = uint64(nr)
	for i := 0; i < 6; i++ {
		r.Regs[i] = 0
	}
	for i, v := range args {
		r.Regs[i] = uint64(v)
	}
}

// parkRegs prepares r to resume at pc outside any system call.
func parkRegs(r *linux.PtraceRegs, pc uintptr) { r.Pc = uint64(pc) }

func regsPC(r *linux.PtraceRegs) uintptr { return uintptr(r.Pc) }

func syscallResult(r *linux.PtraceRegs) uint64 { return r.Regs[0] }

// atSyscallStop: on arm64 the number is in x8 and x0 still holds the first
// argument at a PTRACE_SYSEMU stop. x7, though, reads as 0 there (the
// kernel uses it to tell entry from exit stops) and is restored from a
// kernel-saved copy when the thread resumes, whatever the tracer wrote.
// So x7 survives a system call only when the same stub thread resumes the
// context; arch.Context loses it otherwise. Untested: qemu-user has no
// ptrace.
func atSyscallStop(r *linux.PtraceRegs) {}
