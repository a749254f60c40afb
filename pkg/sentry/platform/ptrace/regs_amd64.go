package ptrace

import (
	"unsafe"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"golang.org/x/sys/unix"
)

// arch.Context.FPState is the NT_X86_XSTATE regset: the XSAVE area in the
// standard (non-compacted) layout, as much of it as the host's enabled
// features use.

// fpSize returns the size of FPState, probing a stopped stub thread: the
// kernel reports how much of the buffer it filled.
func fpSize(tid int32) (int, error) {
	buf := make([]byte, 64<<10)
	return getRegset(tid, linux.NT_X86_XSTATE, buf)
}

func getFP(tid int32, fp []byte) error {
	n, err := getRegset(tid, linux.NT_X86_XSTATE, fp)
	if err == nil && n != len(fp) {
		err = unix.EIO
	}
	return err
}

func setFP(tid int32, fp []byte) error { return setRegset(tid, linux.NT_X86_XSTATE, fp) }

// linux.PtraceRegs is struct user_regs_struct field for field, so it is
// passed to the kernel as is.
var _ [linux.SizeofPtraceRegs]byte = [unsafe.Sizeof(linux.PtraceRegs{})]byte{}

func getRegs(tid int32, r *linux.PtraceRegs) error {
	return ptrace(unix.PTRACE_GETREGS, tid, 0, uintptr(unsafe.Pointer(r)))
}

func setRegs(tid int32, r *linux.PtraceRegs) error {
	return ptrace(unix.PTRACE_SETREGS, tid, 0, uintptr(unsafe.Pointer(r)))
}

// appRegs makes the registers to load into a stub thread from an
// application's. Segment selectors come from the stub (the kernel rejects
// non-user cs/ss, and a 64-bit application has no business changing them);
// orig_rax is -1 so that the host never treats the resumed thread as
// returning from a system call it should restart (which it would, were
// rax one of the -ERESTART* codes).
func appRegs(dst, app, stub *linux.PtraceRegs) {
	*dst = *app
	dst.OrigRax = ^uint64(0)
	dst.Cs, dst.Ss = stub.Cs, stub.Ss
	dst.Ds, dst.Es, dst.Fs, dst.Gs = stub.Ds, stub.Es, stub.Fs, stub.Gs
}

// syscallRegs prepares r to execute system call nr at pc.
func syscallRegs(r *linux.PtraceRegs, pc uintptr, nr uintptr, args ...uintptr) {
	r.Rip = uint64(pc)
	r.Rax = uint64(nr)
	r.OrigRax = ^uint64(0)
	var a [6]uint64
	for i, v := range args {
		a[i] = uint64(v)
	}
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = a[0], a[1], a[2], a[3], a[4], a[5]
}

// parkRegs prepares r to resume at pc outside any system call.
func parkRegs(r *linux.PtraceRegs, pc uintptr) {
	r.Rip = uint64(pc)
	r.OrigRax = ^uint64(0)
}

func regsPC(r *linux.PtraceRegs) uintptr { return uintptr(r.Rip) }

func syscallResult(r *linux.PtraceRegs) uint64 { return r.Rax }

// atSyscallStop turns the registers read at a PTRACE_SYSEMU stop back into
// the ones the application made the call with: the host has already put
// -ENOSYS in rax; the number is still in orig_rax.
//
// A 32-bit `int $0x80` (or sysenter) stops the same way, with an i386
// number in orig_rax. The kernel can tell: the `syscall` instruction sets
// rcx to the return address, so after it Rcx == Rip.
func atSyscallStop(r *linux.PtraceRegs) { r.Rax = r.OrigRax }
