package arch

import "appkernel.dev/appkernel/pkg/abi/linux"

// Context is the user-visible machine state of one application thread: what
// the platform loads before running the thread and saves when it traps.
//
// +stateify savable
type Context struct {
	// Regs are the general registers, in the layout ptrace uses
	// (struct user_regs_struct), which both platforms can load directly.
	Regs linux.PtraceRegs
	// FPState is the floating point / vector state as the host's
	// PTRACE_GETREGSET returns it (the XSAVE area on amd64, struct
	// user_fpsimd_state on arm64). Its size is fixed per host at start.
	FPState []byte
}

// Fork returns an independent copy, for clone and signal delivery.
func (c *Context) Fork() *Context {
	n := &Context{Regs: c.Regs}
	n.FPState = append([]byte(nil), c.FPState...)
	return n
}
