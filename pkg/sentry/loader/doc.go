// Package loader implements execve(2)'s work inside a fresh address space:
// it recognises the file to run (an ELF64 executable for the host machine
// or a "#!" script), maps the executable and its ELF interpreter, places the
// initial program break, builds the initial stack (argument and environment
// strings, AT_RANDOM bytes, the platform string, the auxiliary vector,
// envp, argv and argc) exactly as Linux lays it out, and returns the
// register values the new program starts with.
//
// The loader does not know the memory manager or the VFS. It talks to them
// through three small interfaces defined here, which the kernel adapts:
//
//   - File: an opened executable, readable at offsets, with its size and
//     mode. The caller has already done execve's access checks on it
//     (regular file, exec permission, noexec mounts, ETXTBSY).
//   - Opener: opens the ELF interpreter named by PT_INTERP and the
//     interpreter named on a "#!" line, by path, in the new program's root,
//     with the same checks as execve does for the executable itself.
//   - Mapper: the target address space: private file mappings, anonymous
//     mappings, unmapping, copying bytes out as the kernel would, and
//     recording where the program break starts.
//
// Errors are linux.Errno values (wrapped with context; errors.As recovers
// the number): ENOEXEC for a file that is neither ELF nor script or is
// malformed or for another machine, ELIBBAD for a malformed interpreter,
// EINVAL for segments Linux rejects numerically, E2BIG for oversized
// arguments, ELOOP for too many nested script interpreters, and whatever
// the Opener or Mapper return.
//
// Where this loader is stricter than Linux, on purpose:
//   - a PT_LOAD segment whose file range runs past the end of the file is
//     ENOEXEC (Linux maps it and the program takes SIGBUS later);
//   - PT_LOAD segments out of p_vaddr order or overlapping byte-wise are
//     ENOEXEC (the ELF specification requires ascending order; Linux does
//     not check);
//   - an interpreter that itself names a PT_INTERP is ELIBBAD (Linux
//     ignores the nested PT_INTERP).
//
// vDSO: LoadArgs.VDSO is the hook for a prebuilt vDSO image. When it is
// set, the loader maps the image read+exec below the mmap base and reports
// it with AT_SYSINFO_EHDR. Nothing builds an image yet (the vdso package is
// future work), so the kernel passes nil and programs fall back to real
// system calls, which glibc and musl do when AT_SYSINFO_EHDR is absent.
package loader
