// Package stub builds the stub process image that the ptrace platform (and
// later systrap) runs application code in, and starts the first ("pristine")
// stub process from it.
//
// A stub process has no Go runtime, no libc, no stack and no vDSO: after
// its start-up code runs, the only thing mapped below the host's TASK_SIZE is
// one read-only, executable page at Base holding the routines described by
// Addrs. Everything in [0, MaxUserAddress) is free for the application. The
// stub holds the sandbox memory file at fd MemFD, so an injected
// mmap(MAP_SHARED|MAP_FIXED, MemFD, off) maps memory-file pages.
//
// The image is a tiny static ELF generated here from hand-assembled machine
// code (code_amd64.go, code_arm64.go); it is written to a memfd and exec'd
// once, before the Sentry installs its seccomp filter. Every later stub
// process or thread is cloned from an existing stub by the platform
// (injecting clone(2) at Addrs.ProcessClone or Addrs.ThreadClone), so the
// Sentry never needs fork or exec at run time.
package stub

import (
	"appkernel.dev/appkernel/pkg/abi/linux"
)

// MemFD is the file descriptor number at which every stub process holds the
// sandbox memory file.
const MemFD = 0

// Size is the size of the region at Base reserved for the stub. It is a
// multiple of the largest page size either architecture uses (64 KiB), so
// the image loads at Base whatever the host page size.
const Size = 0x10000

// MaxUserAddress is one past the highest application address; the stub
// lives at and above it.
const MaxUserAddress = Base

// End is one past the stub region.
const End = Base + Size

// Addrs are the addresses of the stub's routines. Each "Trap" address is
// the program counter a tracer observes at the SIGTRAP stop the routine
// ends with (after int3 on amd64, at brk on arm64).
type Addrs struct {
	// Init is the ELF entry point: block all signals, close every fd but
	// MemFD, unmap everything below TASK_SIZE except the stub region, then
	// trap at InitTrap. The results of the three calls that must succeed
	// (rt_sigprocmask, the two munmaps) are left in InitResultRegs.
	Init, InitTrap uintptr

	// Idle loops forever in an interruptible sleep. Untraced stub
	// threads are always parked here, so seizing and interrupting one at
	// any moment is safe.
	Idle uintptr

	// Syscall executes the system call described by the registers, then
	// traps at SyscallTrap with the result in the return register.
	Syscall, SyscallTrap uintptr

	// ThreadClone executes clone(2); the parent traps at ThreadCloneTrap
	// with the new thread's id, the child goes to Idle.
	ThreadClone, ThreadCloneTrap uintptr

	// ProcessClone executes clone(2); the parent traps at
	// ProcessCloneTrap. The child sets PR_SET_PDEATHSIG(SIGKILL), checks
	// that getppid() equals the value the injector put in ParentReg (and
	// exits if not, since its parent then died before the prctl), and
	// traps at ProcessChildTrap.
	ProcessClone, ProcessCloneTrap, ProcessChildTrap uintptr
}

// Routine offsets within the page at Base. The first 0x80 bytes hold the
// ELF and program headers.
const (
	offSigset       = 0x80
	offInit         = 0x100
	offIdle         = 0x200
	offSyscall      = 0x240
	offThreadClone  = 0x280
	offProcessClone = 0x2c0
	imageSize       = 0x400
)

var image, addrs = build()

// Layout returns the routine addresses of the stub image.
func Layout() Addrs { return addrs }

// Image returns the stub's ELF executable.
func Image() []byte { return append([]byte(nil), image...) }

// build assembles the code page and prefixes it with ELF headers.
func build() ([]byte, Addrs) {
	page, a := assemble()
	hdr := linux.ElfHeader64{
		Type:      linux.ET_EXEC,
		Machine:   elfMachine,
		Version:   linux.EV_CURRENT,
		Entry:     uint64(a.Init),
		Phoff:     linux.SizeofElfHeader64,
		Ehsize:    linux.SizeofElfHeader64,
		Phentsize: linux.SizeofElfProg64,
		Phnum:     1,
	}
	copy(hdr.Ident[:], linux.ELFMAG)
	hdr.Ident[linux.EI_CLASS] = linux.ELFCLASS64
	hdr.Ident[linux.EI_DATA] = linux.ELFDATA2LSB
	hdr.Ident[linux.EI_VERSION] = linux.EV_CURRENT
	ph := linux.ElfProg64{
		Type:   linux.PT_LOAD,
		Flags:  linux.PF_R | linux.PF_X,
		Vaddr:  Base,
		Paddr:  Base,
		Filesz: uint64(len(page)),
		Memsz:  uint64(len(page)),
		Align:  Size,
	}
	hdr.MarshalBytes(page[0:])
	ph.MarshalBytes(page[linux.SizeofElfHeader64:])
	return page, a
}
