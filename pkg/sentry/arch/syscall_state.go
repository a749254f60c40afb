package arch

// SyscallState is what restarting a system call needs: its number and
// arguments as they were when the thread trapped.
//
// Linux keeps them in pt_regs (orig_ax on amd64, orig_x0 and syscallno on
// arm64). arm64's user_pt_regs, the layout Context.Regs uses, has no
// orig_x0, and the return value overwrites x0, so the first argument is
// lost once a syscall has returned. Rather than hide a copy inside Context
// (whose layout is what the platform loads), the kernel captures this value
// with Context.SyscallState when the syscall trap arrives, keeps it with the
// task for the duration of the syscall, and hands it to RestartSyscall.
// That is the same lifetime Linux gives orig_x0, and it works the same on
// both architectures.
type SyscallState struct {
	// Nr is the system call number. The kernel may replace it before
	// RestartSyscall, e.g. with restart_syscall's number for
	// ERESTART_RESTARTBLOCK.
	Nr uintptr
	// Args are the six argument registers at entry.
	Args SyscallArguments
}
