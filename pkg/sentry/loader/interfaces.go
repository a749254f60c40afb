package loader

import "io"

// File is an opened executable, interpreter or script.
type File interface {
	io.ReaderAt
	// Size is the file's length in bytes.
	Size() int64
	// Mode is st_mode. The loader requires a regular file (EACCES otherwise,
	// as Linux's open_exec); every other permission check is the opener's.
	Mode() uint32
}

// Opener opens interpreters by path: the PT_INTERP of an ELF executable and
// the program named on a script's "#!" line. Paths are resolved like
// execve's, in the new program's root and working directory, and the
// returned file must have passed the same checks as an execve target
// (EACCES for no exec permission or a noexec mount, ENOENT, ...).
type Opener interface {
	Open(path string) (File, error)
}

// Mapper is the address space being built. Addresses and lengths passed to
// the mapping calls are page aligned. A fixed mapping replaces whatever was
// at its range (MAP_FIXED); a non-fixed one takes addr as a hint and is
// placed like mmap(2) would place it, top-down below the mmap base.
//
// The loader runs before the new program's first instruction, with no other
// user of the address space, so a range it unmaps stays free until it maps
// it again.
type Mapper interface {
	// MapFile maps length bytes of f from offset (page aligned) privately,
	// copy-on-write, with prot (linux.PROT_*). Bytes of the last page past
	// the end of f read as zero.
	MapFile(addr, length uintptr, f File, offset int64, prot int, fixed bool) (uintptr, error)
	// MapAnon maps zero-filled private memory. growsDown marks the stack
	// (MAP_GROWSDOWN): it may be extended downwards by faults up to the
	// stack rlimit.
	MapAnon(addr, length uintptr, prot int, fixed, growsDown bool) (uintptr, error)
	// Unmap removes mappings in the range.
	Unmap(addr, length uintptr) error
	// CopyOut writes src at addr as the kernel writes to user memory: the
	// range must be mapped writable (EFAULT otherwise).
	CopyOut(addr uintptr, src []byte) error
	// ZeroOut writes length zero bytes at addr, like CopyOut.
	ZeroOut(addr, length uintptr) error
	// SetBrkStart records the initial program break (start_brk == brk).
	SetBrkStart(addr uintptr)
}
