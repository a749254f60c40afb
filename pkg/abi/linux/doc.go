// Package linux describes the Linux system call ABI that the Sentry
// implements: error and signal numbers, flag values, and the C structs that
// cross the user/kernel boundary, for amd64 and arm64.
//
// The package holds data only. Each struct type has hand-written
// SizeBytes/MarshalBytes/UnmarshalBytes methods (see package
// appkernel.dev/appkernel/pkg/abi/marshal) that place each field at the
// offset the C ABI gives it, so syscall handlers can copy structs in and out
// of application memory without reflection. Values are encoded
// little-endian, which both supported architectures are.
//
// Where amd64 and arm64 disagree (struct stat, a few O_* flags, the epoll
// event packing, ptrace registers, arch_prctl) the definitions live in
// files with _amd64.go and _arm64.go suffixes; everything else is shared,
// which for most numbers means it comes from the asm-generic headers that
// both architectures use.
//
// Names follow the C names where Go allows it (ENOENT, O_CLOEXEC,
// CLONE_VM), and Go style for types (Stat, Timespec, SigAction).
package linux
