// sigframe_amd64 prints the signal frames the host Linux kernel builds, so
// the arch package's tests can check that SignalSetup lays frames out the
// same way. Usage: sigframe_amd64 normal|onstack|nested
//
// Each delivery prints one block of "key value" lines between BEGIN and END;
// byte ranges are printed as hex.
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

// Registers at handler entry, captured before any C code can change them.
uint64_t entry_rsp, entry_rax, entry_eflags;
uint32_t entry_mxcsr;
uint16_t entry_fcw;

void handler_entry(int, siginfo_t *, void *);
void handler_c(int, siginfo_t *, void *);
__asm__(".text\n"
        ".globl handler_entry\n"
        "handler_entry:\n"
        "\tmovq %rsp, entry_rsp(%rip)\n"
        "\tmovq %rax, entry_rax(%rip)\n"
        "\tpushfq\n"
        "\tpopq entry_eflags(%rip)\n"
        "\tstmxcsr entry_mxcsr(%rip)\n"
        "\tfnstcw entry_fcw(%rip)\n"
        "\tjmp handler_c\n");

struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

static const char *mode;

static void hex(const char *key, const void *p, size_t n) {
	const unsigned char *b = p;
	printf("%s ", key);
	for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
	printf("\n");
}

// raise_sig sends sig to this thread with recognizable values in registers
// the kernel saves, so the frame shows where each one goes.
static void raise_sig(int sig) {
	long ret;
	register long r8 __asm__("r8") = 0x0808080808080808;
	register long r9 __asm__("r9") = 0x0909090909090909;
	register long r10 __asm__("r10") = 0x1010101010101010;
	register long r12 __asm__("r12") = 0x1212121212121212;
	register long r13 __asm__("r13") = 0x1313131313131313;
	register long r14 __asm__("r14") = 0x1414141414141414;
	register long r15 __asm__("r15") = 0x1515151515151515;
	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "0"((long)SYS_tgkill), "D"((long)getpid()), "S"((long)gettid()), "d"((long)sig),
	                   "r"(r8), "r"(r9), "r"(r10), "r"(r12), "r"(r13), "r"(r14), "r"(r15)
	                 : "rcx", "r11", "memory");
	if (ret != 0) abort();
}

void handler_c(int sig, siginfo_t *info, void *ucv) {
	uint64_t rsp = entry_rsp, rax = entry_rax, eflags = entry_eflags;
	uint32_t mxcsr = entry_mxcsr;
	uint16_t fcw = entry_fcw;
	if (sig == SIGUSR1 && strcmp(mode, "nested") == 0) raise_sig(SIGUSR2);

	ucontext_t *uc = ucv;
	unsigned char *fp = (unsigned char *)uc->uc_mcontext.fpregs;
	struct ksigaction ka;
	if (syscall(SYS_rt_sigaction, sig, NULL, &ka, 8) != 0) abort();
	uint32_t xstate_size = *(uint32_t *)(fp + 480);

	printf("BEGIN\n");
	printf("sig %d\n", sig);
	printf("entry_rsp %lu\nentry_rax %lu\nentry_eflags %lu\nentry_mxcsr %u\nentry_fcw %u\n",
	       rsp, rax, eflags, mxcsr, fcw);
	printf("arg_info %lu\narg_uc %lu\n", (uint64_t)info, (uint64_t)uc);
	printf("sa_handler %lu\nsa_flags %lu\nsa_restorer %lu\nsa_mask %lu\n", ka.handler, ka.flags, ka.restorer,
	       ka.mask);
	printf("fpstate %lu\n", (uint64_t)fp);
	hex("frame", (void *)rsp, 440);
	hex("fpframe", fp, xstate_size + 4);
	printf("END\n");
	fflush(stdout);
}

int main(int argc, char **argv) {
	mode = argc > 1 ? argv[1] : "normal";

	// The C library's view of the layout, for the offset checks.
	printf("off_uc_flags %zu\noff_uc_link %zu\noff_uc_stack %zu\noff_uc_mcontext %zu\noff_uc_sigmask %zu\n",
	       offsetof(ucontext_t, uc_flags), offsetof(ucontext_t, uc_link), offsetof(ucontext_t, uc_stack),
	       offsetof(ucontext_t, uc_mcontext), offsetof(ucontext_t, uc_sigmask));
	printf("off_gregs %zu\noff_fpregs %zu\nsizeof_mcontext %zu\n", offsetof(mcontext_t, gregs),
	       offsetof(mcontext_t, fpregs), sizeof(mcontext_t));
	printf("REG_R8 %d\nREG_R9 %d\nREG_R10 %d\nREG_R11 %d\nREG_R12 %d\nREG_R13 %d\nREG_R14 %d\nREG_R15 %d\n",
	       REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15);
	printf("REG_RDI %d\nREG_RSI %d\nREG_RBP %d\nREG_RBX %d\nREG_RDX %d\nREG_RAX %d\nREG_RCX %d\nREG_RSP %d\n",
	       REG_RDI, REG_RSI, REG_RBP, REG_RBX, REG_RDX, REG_RAX, REG_RCX, REG_RSP);
	printf("REG_RIP %d\nREG_EFL %d\nREG_CSGSFS %d\nREG_ERR %d\nREG_TRAPNO %d\nREG_OLDMASK %d\nREG_CR2 %d\n",
	       REG_RIP, REG_EFL, REG_CSGSFS, REG_ERR, REG_TRAPNO, REG_OLDMASK, REG_CR2);
	printf("off_fp_mxcsr %zu\noff_fp_st %zu\noff_fp_xmm %zu\n", offsetof(struct _libc_fpstate, mxcsr),
	       offsetof(struct _libc_fpstate, _st), offsetof(struct _libc_fpstate, _xmm));

	static char altstack[1 << 16] __attribute__((aligned(16)));
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0) abort();

	int onstack = strcmp(mode, "normal") != 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler_entry;
	sa.sa_flags = SA_SIGINFO | (onstack ? SA_ONSTACK : 0);
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGHUP);
	if (sigaction(SIGUSR1, &sa, NULL) != 0 || sigaction(SIGUSR2, &sa, NULL) != 0) abort();

	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, NULL);

	// Non-default FP control state, so the frame shows the interrupted
	// values and the handler's entry shows the reset ones.
	uint32_t mxcsr = 0x9fc0;
	uint16_t fcw = 0x27f;
	__asm__ volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(mxcsr), "m"(fcw));
	__asm__ volatile("movq %0, %%xmm3" : : "r"(0x3333333333333333L) : "xmm3");

	raise_sig(SIGUSR1);
	printf("DONE\n");
	return 0;
}
