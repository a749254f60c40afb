// Package platform is the boundary between the Sentry and the host
// mechanism that runs application code: address spaces into which the
// Sentry maps its memory file, and contexts that run an application thread
// until it traps back (a system call, a page fault, a signal).
//
// The implementations (systrap, ptrace) never interpret a trap: they report
// it, and the kernel decides what it means.
package platform

import (
	"errors"
	"fmt"

	"appkernel.dev/appkernel/pkg/abi/linux"
	"appkernel.dev/appkernel/pkg/sentry/arch"
)

// AccessType is a set of memory access permissions.
type AccessType struct {
	Read, Write, Execute bool
}

// Convenience permission sets.
var (
	NoAccess  = AccessType{}
	Read      = AccessType{Read: true}
	ReadWrite = AccessType{Read: true, Write: true}
	AnyAccess = AccessType{Read: true, Write: true, Execute: true}
)

// Prot returns the PROT_* bits for at.
func (at AccessType) Prot() int {
	var p int
	if at.Read {
		p |= linux.PROT_READ
	}
	if at.Write {
		p |= linux.PROT_WRITE
	}
	if at.Execute {
		p |= linux.PROT_EXEC
	}
	return p
}

// SupersetOf reports whether at allows every access o allows.
func (at AccessType) SupersetOf(o AccessType) bool {
	return (at.Read || !o.Read) && (at.Write || !o.Write) && (at.Execute || !o.Execute)
}

func (at AccessType) String() string {
	b := []byte("---")
	if at.Read {
		b[0] = 'r'
	}
	if at.Write {
		b[1] = 'w'
	}
	if at.Execute {
		b[2] = 'x'
	}
	return string(b)
}

// Platform creates address spaces and execution contexts. One Platform
// serves a whole sandbox; it is created once, before any application code
// runs, with the memory file that backs all application memory.
type Platform interface {
	// Name is the --platform value that selects this platform.
	Name() string

	// NewAddressSpace returns an empty application address space.
	NewAddressSpace() (AddressSpace, error)

	// NewContext returns a context that can run one application thread.
	NewContext() (Context, error)

	// MaxUserAddress is one past the highest address the application may
	// map. Addresses at and above it are used by the platform itself.
	MaxUserAddress() uintptr

	// FPStateSize is the size of arch.Context.FPState on this host.
	FPStateSize() int

	// Release frees everything the platform holds (stub processes, fds).
	Release()
}

// AddressSpace is one application address space. The memory manager keeps
// it in step with its own view of the mappings; the platform only mirrors.
// Methods may be called from any goroutine, but not concurrently with each
// other for one address space (the memory manager serializes them).
type AddressSpace interface {
	// MapFile maps [offset, offset+length) of the memory file at addr with
	// access at, replacing whatever was mapped in that range. addr, offset
	// and length are page-aligned.
	MapFile(addr uintptr, offset uint64, length uintptr, at AccessType) error

	// Unmap removes any mapping in [addr, addr+length). Unmapping a range
	// that is not mapped is not an error.
	Unmap(addr, length uintptr)

	// Release destroys the address space. Contexts must not run in it
	// afterwards.
	Release()
}

// Context runs application threads. The kernel keeps one per task.
type Context interface {
	// Switch runs the thread whose state is ac in address space as until
	// the thread traps, then stores its state back into ac and returns
	// why. cpu is a hint: the host CPU the task's goroutine last ran on.
	//
	// If Interrupt was called since the last Switch returned, or is called
	// while it runs, Switch returns ErrInterrupted promptly, with ac
	// holding the thread's state at that point.
	Switch(as AddressSpace, ac *arch.Context) (Trap, error)

	// Interrupt makes the current or next Switch return ErrInterrupted. It
	// may be called from any goroutine.
	Interrupt()

	// Release frees the context.
	Release()
}

// SyscallPatcher is implemented by a platform on which application code
// enters the Sentry faster through a rewritten system call instruction
// than through a trap (see mm.PatchSyscall).
type SyscallPatcher interface {
	// SyscallPatchEntry is the address, in every address space, that a
	// rewritten call site jumps to, with the system call number in eax
	// and the return address in rcx; 0 if the host cannot support it.
	SyscallPatchEntry() uintptr
}

// CoreSyncer is implemented by an AddressSpace that can make every one of
// its threads discard code bytes it fetched before a write to them: the
// cross-modifying-code synchronization x86 asks for when an instruction
// other threads may be running changes in more than one store.
type CoreSyncer interface {
	SyncCore() error
}

// A MappingBatcher is an AddressSpace that can apply several mapping
// changes in one exchange with the host process holding it, which costs
// about what one change costs.
type MappingBatcher interface {
	// ApplyMappings does what MapFile and Unmap would do for each change,
	// in order. It tries every change and returns the first error.
	ApplyMappings(changes []MappingChange) error
}

// MappingChange is one MapFile (Access is not NoAccess) or Unmap.
type MappingChange struct {
	Addr   uintptr
	Offset uint64 // in the memory file; ignored for an unmap
	Length uintptr
	Access AccessType
}

// TrapKind says why the application stopped running.
type TrapKind int

// Trap kinds.
const (
	// TrapSyscall: the thread executed a system call instruction. ac holds
	// the registers at the call; the syscall number and arguments are in
	// the ABI registers and the instruction pointer is past the
	// instruction.
	TrapSyscall TrapKind = iota + 1
	// TrapFault: a memory access at Addr needing Access faulted because
	// the address space has no suitable mapping. The kernel handles it
	// (populate, copy on write) or turns it into SIGSEGV/SIGBUS.
	TrapFault
	// TrapSignal: the thread raised a synchronous signal of its own
	// (SIGILL, SIGFPE, SIGTRAP, SIGBUS from an instruction...), described
	// by Info, which the kernel should deliver to the task.
	TrapSignal
)

func (k TrapKind) String() string {
	switch k {
	case TrapSyscall:
		return "syscall"
	case TrapFault:
		return "fault"
	case TrapSignal:
		return "signal"
	}
	return fmt.Sprintf("TrapKind(%d)", int(k))
}

// Trap is what Switch reports.
type Trap struct {
	Kind TrapKind
	// Addr and Access describe a TrapFault. Access is the access that
	// failed, as precisely as the host reports it; a fault on an
	// instruction fetch has Execute set.
	Addr   uintptr
	Access AccessType
	// Info describes a TrapSignal, and for a TrapFault carries the host's
	// siginfo (for si_code).
	Info linux.SignalInfo
	// Patched marks a TrapSyscall that came through a rewritten call
	// site (SyscallPatcher).
	Patched bool
}

// ErrInterrupted is returned by Switch after Interrupt.
var ErrInterrupted = errors.New("platform: interrupted")

// ErrContextDead is returned by Switch when the host thread running the
// application is gone (for example killed from outside); the kernel treats
// the task as killed by SIGKILL.
var ErrContextDead = errors.New("platform: application thread died")
