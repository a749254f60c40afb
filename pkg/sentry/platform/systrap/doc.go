// Package systrap is the default platform: application threads run in stub
// threads (package stub's processes) under a seccomp filter that turns
// every application system call into SIGSYS, and the stub's own signal
// handler hands each trap to the Sentry through shared memory.
//
// # How a trap travels
//
// Each stub thread owns a slot (slot_amd64.go): a 64 KiB region of a memfd
// that the stub maps above stub.MaxUserAddress and the Sentry maps
// anywhere. It holds the thread's signal stack and a mailbox. On SIGSYS,
// SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP or the kick signal, the
// handler (hand-assembled machine code on a page above the stub page,
// page_amd64.go) copies the signal frame's registers, FP state and siginfo
// into the mailbox, flips the mailbox's state word to the Sentry and waits
// for a command: it spins for a while, then sleeps in FUTEX_WAIT. The
// Sentry's Switch waits the same way. The command "run" makes the handler
// copy the (new) registers into the frame and rt_sigreturn into them; the
// other commands (a system call, cloning a thread or a process) run in the
// handler and report back without leaving it. So after New, the platform
// needs neither ptrace nor fork: see RuntimeSyscalls.
//
// The seccomp filter allows a small fixed set of system calls made from
// the handler's page and kills the stub for any other from there; every
// system call from anywhere else (including 32-bit ones) traps.
//
// # Patched system calls
//
// The signal is most of a trap's cost. So the kernel rewrites the call
// sites that trap (mm.PatchSyscall) into jumps to fastEntry on the
// handler page. That code runs in application context: it saves the
// registers itself (XSAVE for the vector state), finds its slot through
// gs (each stub thread's gs base is its slot while the application's is
// 0), and hands over like the handler does. fastRun returns without a
// frame. When the application has set its own gs base, the entry falls
// back to a trap, and so does the return when the trap flag is set. See
// page_amd64.go for how a kick that lands inside this code is handled.
//
// # Processes and threads
//
// New execs the stub package's pristine stub, and, while it still traces
// it, injects the calls that map the handler page, create the slot file,
// install the handlers, the signal stack and the filter; then it detaches
// for good. NewAddressSpace has the pristine stub clone a process (a
// child of the Sentry's parent thread, with PR_SET_PDEATHSIG); the first
// thread of that process (its leader) runs the Sentry's thread-clone
// commands. Application contexts run on a pool of further threads of the
// process, cloned on demand, so a context can run on any of them and the
// pool grows to the number of contexts that ran at once. Mapping changes
// go to whichever idle thread trapped last, which is likely still spinning
// for a command, and only to the leader when none is idle; several go in
// one command (cmdBatch), since the exchange, not the mmap, is the cost.
//
// # Limits
//
// The application can read and write its own threads' slots (they are in
// its address space); the Sentry takes nothing from them but register
// values. It can also jump into the handler page and make the few system
// calls the filter lets through from there (notably mmap of the memory
// file and of the slot file at any offset, and clone): that breaks the
// isolation between application processes of one sandbox, though not the
// sandbox itself. amd64 only for now.
package systrap
