package linux

// Options for wait4(2) and waitid(2).
const (
	WNOHANG    = 0x00000001
	WUNTRACED  = 0x00000002
	WSTOPPED   = WUNTRACED
	WEXITED    = 0x00000004
	WCONTINUED = 0x00000008
	WNOWAIT    = 0x01000000
	WNOTHREAD  = 0x20000000
	WALL       = 0x40000000
	WCLONE     = 0x80000000
)

// idtype values for waitid(2).
const (
	P_ALL   = 0
	P_PID   = 1
	P_PGID  = 2
	P_PIDFD = 3
)

// WaitStatus is the int that wait4(2) stores through its status pointer.
// The encoding is the kernel's: exit code in bits 8..15 with a zero low
// byte, the terminating signal in the low 7 bits with bit 7 for a core
// dump, 0x7f in the low byte for a stop, 0xffff for a continue.
type WaitStatus uint32

// WaitStatusExit encodes a normal exit.
func WaitStatusExit(code int) WaitStatus { return WaitStatus((code & 0xff) << 8) }

// WaitStatusSignaled encodes death by sig.
func WaitStatusSignaled(sig Signal, core bool) WaitStatus {
	ws := WaitStatus(sig & 0x7f)
	if core {
		ws |= 0x80
	}
	return ws
}

// WaitStatusStopped encodes a stop by sig; ptrace event stops put the
// event number in bits 16..23.
func WaitStatusStopped(sig Signal, ptraceEvent int) WaitStatus {
	return WaitStatus(0x7f | int(sig&0xff)<<8 | (ptraceEvent&0xff)<<16)
}

// WaitStatusContinued is the status of a continued child (WCONTINUED).
const WaitStatusContinued WaitStatus = 0xffff

// Exited is WIFEXITED.
func (w WaitStatus) Exited() bool { return w&0x7f == 0 }

// ExitStatus is WEXITSTATUS.
func (w WaitStatus) ExitStatus() int { return int(w>>8) & 0xff }

// Signaled is WIFSIGNALED.
func (w WaitStatus) Signaled() bool { return w&0x7f != 0x7f && w&0x7f != 0 }

// Signal is WTERMSIG.
func (w WaitStatus) Signal() Signal { return Signal(w & 0x7f) }

// CoreDump is WCOREDUMP.
func (w WaitStatus) CoreDump() bool { return w.Signaled() && w&0x80 != 0 }

// Stopped is WIFSTOPPED.
func (w WaitStatus) Stopped() bool { return w&0xff == 0x7f }

// StopSignal is WSTOPSIG.
func (w WaitStatus) StopSignal() Signal { return Signal(w>>8) & 0xff }

// Continued is WIFCONTINUED.
func (w WaitStatus) Continued() bool { return w == WaitStatusContinued }
