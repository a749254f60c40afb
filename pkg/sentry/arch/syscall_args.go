package arch

// SyscallArgument is one raw system call argument register.
//
// The kernel passes every argument in a full-width register and each syscall
// decides how to read it. The accessors below make that decision explicit at
// the call site, because Linux truncates an "int" argument to 32 bits even
// when the program left garbage in the upper half of the register; reading
// it as a 64-bit value would disagree with the host kernel.
type SyscallArgument struct {
	Value uintptr
}

// SyscallArguments holds the six argument registers of a system call, in the
// order the Linux ABI assigns them (rdi rsi rdx r10 r8 r9 on amd64, x0-x5 on
// arm64).
type SyscallArguments [6]SyscallArgument

// Int reads the argument as a C int: only the low 32 bits count.
func (a SyscallArgument) Int() int32 {
	return int32(a.Value)
}

// Uint reads the argument as a C unsigned int: the low 32 bits.
func (a SyscallArgument) Uint() uint32 {
	return uint32(a.Value)
}

// Int64 reads the full register as a signed 64-bit value (off_t, loff_t,
// long).
func (a SyscallArgument) Int64() int64 {
	return int64(a.Value)
}

// Uint64 reads the full register as an unsigned 64-bit value (flags words,
// u64 fields).
func (a SyscallArgument) Uint64() uint64 {
	return uint64(a.Value)
}

// Pointer reads the argument as an address in the application's address
// space. It is never dereferenced directly: user memory is reached only
// through the task's memory manager, which checks the mapping.
func (a SyscallArgument) Pointer() uintptr {
	return a.Value
}

// SizeT reads the argument as a C size_t.
func (a SyscallArgument) SizeT() uint {
	return uint(a.Value)
}
