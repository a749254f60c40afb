/*
 * seccomp(2) and prctl(PR_SET_SECCOMP): filter loading checks, the actions
 * (ERRNO, TRAP with its siginfo, KILL_THREAD, KILL_PROCESS, TRACE and
 * USER_NOTIF without a tracer or listener, LOG, ALLOW), precedence between
 * stacked filters, inheritance over fork and execve, TSYNC, strict mode,
 * SECCOMP_GET_ACTION_AVAIL / GET_NOTIF_SIZES, no_new_privs and the
 * /proc/PID/status lines.
 *
 * Filters cannot be removed, so every sub-test that installs one does it in
 * a forked child.
 */
#include "test.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif

static const char *self_exe;

static long set_filter(unsigned flags, struct sock_filter *f, unsigned short n) {
  struct sock_fprog p = {.len = n, .filter = f};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &p);
}

/* on_nr installs "if nr == nr return ret, else allow", arch checked. */
static long on_nr(unsigned flags, int nr, unsigned ret) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, ret),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  return set_filter(flags, f, sizeof(f) / sizeof(f[0]));
}

/* child runs fn in a forked child and returns its wait status. */
static int child(void (*fn)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

static void expect_exit0(void (*fn)(void)) {
  int status = child(fn);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "child status %#x\n", status);
    CHECK(0);
  }
}

static void expect_signal(void (*fn)(void), int sig) {
  int status = child(fn);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != sig) {
    fprintf(stderr, "child status %#x, want killed by %d\n", status, sig);
    CHECK(0);
  }
}

static void nnp(void) {
  CHECK_SYS(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
}

/* ---- no_new_privs ---- */

static void nnp_child(void) {
  CHECK_ERR(prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0), EINVAL);
  CHECK_ERR(prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0), EINVAL);
  nnp();
  CHECK_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
  /* Inherited by children. */
  pid_t pid = fork();
  if (pid == 0) _exit(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1);
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK_EQ(status, 0);
}
static void no_new_privs(void) { expect_exit0(nnp_child); }

static void eacces_child(void) {
  if (geteuid() == 0) CHECK_SYS(setresuid(65534, 65534, 65534));
  CHECK_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
  CHECK_ERR(on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | 1), EACCES);
  struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog p = {.len = 1, .filter = &allow};
  CHECK_ERR(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p), EACCES);
  /* The program is read before the permission check. */
  CHECK_ERR(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL), EFAULT);
  nnp();
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | 1));
  CHECK_ERR(syscall(SYS_getppid), EPERM);
}
static void needs_nnp_or_cap(void) {
  /* Only meaningful when no_new_privs is not already set for us. */
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0) return;
  expect_exit0(eacces_child);
}

/* ---- loading checks ---- */

static void bad(struct sock_filter *f, unsigned short n) {
  CHECK_ERR(set_filter(0, f, n), EINVAL);
}

static void loading_child(void) {
  nnp();
  struct sock_filter ret_allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  bad(&ret_allow, 0);
  static struct sock_filter big[BPF_MAXINSNS + 1];
  for (int i = 0; i <= BPF_MAXINSNS; i++) big[i] = ret_allow;
  bad(big, BPF_MAXINSNS + 1);
  {
    struct sock_filter f[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0)};
    bad(f, 1); /* no return */
  }
  {
    struct sock_filter f[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), ret_allow};
    bad(f, 2); /* unaligned */
  }
  {
    struct sock_filter f[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), ret_allow};
    bad(f, 2); /* past seccomp_data */
  }
  {
    struct sock_filter f[] = {BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), ret_allow};
    bad(f, 2); /* byte loads are not for seccomp */
  }
  {
    struct sock_filter f[] = {BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3), ret_allow};
    bad(f, 2);
  }
  {
    struct sock_filter f[] = {BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), ret_allow};
    bad(f, 2);
  }
  {
    struct sock_filter f[] = {BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32), ret_allow};
    bad(f, 2);
  }
  {
    struct sock_filter f[] = {BPF_STMT(BPF_JMP | BPF_JA, 1), ret_allow};
    bad(f, 2); /* jumps past the end */
  }
  {
    struct sock_filter f[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), ret_allow};
    bad(f, 2);
  }
  {
    struct sock_filter f[] = {BPF_STMT(BPF_LD | BPF_MEM, 2), ret_allow};
    bad(f, 2); /* scratch word read before any store */
  }
  {
    struct sock_filter f[] = {BPF_STMT(BPF_ST, 16), ret_allow};
    bad(f, 2);
  }
  {
    struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_X, 0)};
    bad(f, 1);
  }
  /* Bad pointers. */
  CHECK_ERR(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (void *)8), EFAULT);
  {
    struct sock_fprog p = {.len = 1, .filter = (void *)8};
    CHECK_ERR(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p), EFAULT);
    p.filter = NULL;
    CHECK_ERR(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p), EINVAL);
  }
  /* Bad operations and flags. */
  {
    struct sock_fprog p = {.len = 1, .filter = &ret_allow};
    CHECK_ERR(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 1U << 30, &p), EINVAL);
    CHECK_ERR(syscall(SYS_seccomp, 99, 0, &p), EINVAL);
    CHECK_ERR(syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, NULL), EINVAL);
    CHECK_ERR(syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, &p), EINVAL);
    CHECK_ERR(prctl(PR_SET_SECCOMP, 7, 0, 0, 0), EINVAL);
  }
  CHECK_EQ(prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 0);
  /* Valid programs, with flags that need nothing else. */
  CHECK_EQ(set_filter(SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW, &ret_allow, 1), 0);
  CHECK_EQ(prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 2);
  {
    struct sock_fprog p = {.len = 1, .filter = &ret_allow};
    CHECK_SYS(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p, 0, 0));
  }
  /* A task with filters cannot enter strict mode. */
  CHECK_ERR(syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL), EINVAL);
}
static void loading(void) { expect_exit0(loading_child); }

/*
 * The filters' total size is bounded (32768 instructions, each older
 * filter counted with 4 more), in the size Linux's translation to eBPF
 * gives them: a 3-instruction prologue, 2 per return, 1 per load.
 */
static void too_long_child(void) {
  nnp();
  static struct sock_filter f[BPF_MAXINSNS];
  for (int i = 0; i < BPF_MAXINSNS - 1; i++)
    f[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);
  f[BPF_MAXINSNS - 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  /* 4100 each: 7 fit (28700 + 4100 > 32768 for the 8th). */
  for (int i = 0; i < 7; i++) CHECK_SYS(set_filter(0, f, BPF_MAXINSNS));
  CHECK_ERR(set_filter(0, f, BPF_MAXINSNS), ENOMEM);
  /* 32768 - 7 * 4104 = 4040 remain: a program of 4035 loads and a return. */
  struct sock_filter *g = f + BPF_MAXINSNS - 4036;
  CHECK_ERR(set_filter(0, g - 1, 4037), ENOMEM);
  CHECK_SYS(set_filter(0, g, 4036));
  CHECK_ERR(set_filter(0, f + BPF_MAXINSNS - 1, 1), ENOMEM);
}
static void total_length(void) { expect_exit0(too_long_child); }

/* ---- actions ---- */

static void errno_child(void) {
  nnp();
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | ENOTTY));
  CHECK_SYS(on_nr(0, SYS_getpgrp, SECCOMP_RET_ERRNO | 0xffff));
  CHECK_SYS(on_nr(0, SYS_getuid, SECCOMP_RET_ERRNO | 0));
  CHECK_SYS(on_nr(0, SYS_getgid, SECCOMP_RET_TRACE | 3));
  CHECK_SYS(on_nr(0, SYS_getegid, SECCOMP_RET_USER_NOTIF));
  CHECK_SYS(on_nr(0, SYS_geteuid, SECCOMP_RET_LOG));
  CHECK_ERR(syscall(SYS_getppid), ENOTTY);
  CHECK_ERR(syscall(SYS_getpgrp), 4095); /* capped at MAX_ERRNO */
  CHECK_EQ(syscall(SYS_getuid), 0);       /* "errno 0" is success, call skipped */
  CHECK_ERR(syscall(SYS_getgid), ENOSYS); /* TRACE without a tracer */
  CHECK_ERR(syscall(SYS_getegid), ENOSYS); /* USER_NOTIF without a listener */
  CHECK_SYS(syscall(SYS_geteuid));        /* LOG runs the call */
  CHECK_SYS(syscall(SYS_getpid));
}
static void action_errno(void) { expect_exit0(errno_child); }

/* The filter sees 64-bit arguments as two 32-bit halves. */
static void args_child(void) {
  nnp();
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpgid, 0, 5),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 7, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]) + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 77),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  CHECK_SYS(set_filter(0, f, sizeof(f) / sizeof(f[0])));
  CHECK_ERR(syscall(SYS_getpgid, 0x100000007ULL), 77);
  CHECK_EQ(syscall(SYS_getpgid, 0), getpgrp());
  /* Scratch memory, X, and the shift count taken modulo 32. */
  struct sock_filter g[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getsid, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
      BPF_STMT(BPF_ST, 5),
      BPF_STMT(BPF_LDX | BPF_MEM, 5),
      BPF_STMT(BPF_LD | BPF_IMM, 1),
      BPF_STMT(BPF_ALU | BPF_LSH | BPF_X, 0),
      BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
      BPF_STMT(BPF_RET | BPF_A, 0),
  };
  CHECK_SYS(set_filter(0, g, sizeof(g) / sizeof(g[0])));
  CHECK_ERR(syscall(SYS_getsid, 0, 3), 8);
  CHECK_ERR(syscall(SYS_getsid, 0, 33), 2);
}
static void action_args(void) { expect_exit0(args_child); }

static volatile int trap_count;
static void sigsys_handler(int sig, siginfo_t *info, void *ucv) {
  ucontext_t *uc = ucv;
  CHECK_EQ(sig, SIGSYS);
  CHECK_EQ(info->si_code, SYS_SECCOMP);
  CHECK_EQ(info->si_errno, 0x42);
  CHECK_EQ(info->si_syscall, SYS_getppid);
  CHECK_EQ(info->si_arch, NATIVE_ARCH);
#if defined(__x86_64__)
  CHECK_EQ((uintptr_t)info->si_call_addr, uc->uc_mcontext.gregs[REG_RIP]);
  /* The return register is as at entry: the syscall number. */
  CHECK_EQ(uc->uc_mcontext.gregs[REG_RAX], SYS_getppid);
  CHECK_EQ(uc->uc_mcontext.gregs[REG_RDI], 0x1234);
  uc->uc_mcontext.gregs[REG_RAX] = 4242; /* emulate the call */
#elif defined(__aarch64__)
  CHECK_EQ((uintptr_t)info->si_call_addr, uc->uc_mcontext.pc);
  CHECK_EQ(uc->uc_mcontext.regs[0], 0x1234);
  uc->uc_mcontext.regs[0] = 4242;
#endif
  trap_count++;
}

static void trap_child(void) {
  struct sigaction sa = {0};
  sa.sa_sigaction = sigsys_handler;
  sa.sa_flags = SA_SIGINFO;
  CHECK_SYS(sigaction(SIGSYS, &sa, NULL));
  nnp();
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_TRAP | 0x42));
  CHECK_EQ(syscall(SYS_getppid, 0x1234), 4242);
  CHECK_EQ(syscall(SYS_getppid, 0x1234), 4242);
  CHECK_EQ(trap_count, 2);
}
static void action_trap(void) { expect_exit0(trap_child); }

/* Without a handler SIGSYS's default action kills the process. */
static void trap_default_child(void) {
  nnp();
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_TRAP));
  syscall(SYS_getppid);
  _exit(1);
}
static void action_trap_default(void) { expect_signal(trap_default_child, SIGSYS); }

static void kill_process_child(void) {
  nnp();
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_KILL_PROCESS));
  syscall(SYS_getppid);
  _exit(1);
}
static void action_kill_process(void) { expect_signal(kill_process_child, SIGSYS); }

static void *kill_thread_fn(void *arg) {
  syscall(SYS_getppid);
  return (void *)1; /* not reached */
}
static void kill_thread_child(void) {
  nnp();
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_KILL_THREAD));
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, kill_thread_fn, NULL), 0);
  /* Only the thread dies; joining it works as for any exited thread. */
  void *ret = NULL;
  CHECK_EQ(pthread_join(th, &ret), 0);
  CHECK_EQ((long)ret, 0);
  /* The last thread dying this way takes the process with SIGSYS. */
  syscall(SYS_getppid);
  _exit(1);
}
static void action_kill_thread(void) { expect_signal(kill_thread_child, SIGSYS); }

/* A division by zero at run time returns 0: KILL_THREAD. */
static void div_zero_child(void) {
  nnp();
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LDX | BPF_IMM, 0),
      BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  CHECK_SYS(set_filter(0, f, sizeof(f) / sizeof(f[0])));
  syscall(SYS_getppid);
  _exit(1);
}
static void runtime_div_zero(void) { expect_signal(div_zero_child, SIGSYS); }

/* ---- precedence ---- */

static void precedence_child(void) {
  nnp();
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | 11));
  CHECK_ERR(syscall(SYS_getppid), 11);
  /* Equal actions: the newest filter's data. */
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | 22));
  CHECK_ERR(syscall(SYS_getppid), 22);
  /* Lower precedence actions do not override. */
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_TRACE));
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_LOG));
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_ALLOW));
  CHECK_ERR(syscall(SYS_getppid), 22);
  /* Older filters still apply to other calls. */
  CHECK_SYS(on_nr(0, SYS_getpgrp, SECCOMP_RET_ERRNO | 33));
  CHECK_ERR(syscall(SYS_getppid), 22);
  CHECK_ERR(syscall(SYS_getpgrp), 33);
  /* A higher precedence action wins whatever the order. */
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_KILL_PROCESS));
  syscall(SYS_getppid);
  _exit(1);
}
static void precedence(void) { expect_signal(precedence_child, SIGSYS); }

/* ---- inheritance ---- */

static int status_field(const char *name) {
  FILE *f = fopen("/proc/self/status", "r");
  CHECK(f != NULL);
  char line[256];
  int v = -1;
  size_t n = strlen(name);
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, name, n) == 0 && line[n] == ':') v = atoi(line + n + 1);
  }
  fclose(f);
  return v;
}

static void inherit_child(void) {
  CHECK_EQ(status_field("Seccomp"), 0);
  CHECK_EQ(status_field("Seccomp_filters"), 0);
  nnp();
  CHECK_EQ(status_field("NoNewPrivs"), 1);
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | 44));
  CHECK_SYS(on_nr(0, SYS_getpgrp, SECCOMP_RET_ERRNO | 45));
  CHECK_EQ(status_field("Seccomp"), 2);
  CHECK_EQ(status_field("Seccomp_filters"), 2);
  pid_t pid = fork();
  if (pid == 0) {
    if (syscall(SYS_getppid) != -1 || errno != 44) _exit(2);
    execl(self_exe, self_exe, "exec-check", (char *)NULL);
    _exit(3);
  }
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK_EQ(status, 0);
}
static void inheritance(void) { expect_exit0(inherit_child); }

/* exec_check runs in the program exec'd with its filters. */
static int exec_check(void) {
  if (syscall(SYS_getppid) != -1 || errno != 44) return 4;
  if (status_field("Seccomp") != 2 || status_field("Seccomp_filters") != 2) return 5;
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 6;
  return 0;
}

/* ---- threads and TSYNC ---- */

static pthread_barrier_t barrier;
static volatile int thread_errno;
static void *sync_thread(void *arg) {
  pthread_barrier_wait(&barrier); /* before the filter */
  pthread_barrier_wait(&barrier); /* after it */
  errno = 0;
  thread_errno = syscall(SYS_getppid) == -1 ? errno : 0;
  return NULL;
}

static void tsync_child(void) {
  nnp();
  pthread_t th;
  pthread_barrier_init(&barrier, NULL, 2);
  CHECK_EQ(pthread_create(&th, NULL, sync_thread, NULL), 0);
  pthread_barrier_wait(&barrier);
  CHECK_EQ(on_nr(SECCOMP_FILTER_FLAG_TSYNC, SYS_getppid, SECCOMP_RET_ERRNO | 55), 0);
  pthread_barrier_wait(&barrier);
  CHECK_EQ(pthread_join(th, NULL), 0);
  CHECK_EQ(thread_errno, 55);
  CHECK_EQ(status_field("Seccomp_filters"), 1);
}
static void tsync(void) { expect_exit0(tsync_child); }

/* Without TSYNC a filter is the calling thread's alone. */
static void thread_local_child(void) {
  nnp();
  pthread_t th;
  pthread_barrier_init(&barrier, NULL, 2);
  CHECK_EQ(pthread_create(&th, NULL, sync_thread, NULL), 0);
  pthread_barrier_wait(&barrier);
  CHECK_SYS(on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | 55));
  pthread_barrier_wait(&barrier);
  CHECK_EQ(pthread_join(th, NULL), 0);
  CHECK_EQ(thread_errno, 0);
  CHECK_ERR(syscall(SYS_getppid), 55);
}
static void thread_local(void) { expect_exit0(thread_local_child); }

static volatile pid_t other_tid;
static void *own_filter_thread(void *arg) {
  other_tid = syscall(SYS_gettid);
  CHECK_SYS(on_nr(0, SYS_getpgrp, SECCOMP_RET_ERRNO | 66));
  pthread_barrier_wait(&barrier);
  pthread_barrier_wait(&barrier);
  return NULL;
}

/* TSYNC fails, naming the thread, when another thread has a filter the
 * caller lacks. */
static void tsync_conflict_child(void) {
  nnp();
  pthread_t th;
  pthread_barrier_init(&barrier, NULL, 2);
  CHECK_EQ(pthread_create(&th, NULL, own_filter_thread, NULL), 0);
  pthread_barrier_wait(&barrier);
  CHECK_EQ(on_nr(SECCOMP_FILTER_FLAG_TSYNC, SYS_getppid, SECCOMP_RET_ERRNO | 55), other_tid);
  CHECK_ERR(on_nr(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH, SYS_getppid,
                  SECCOMP_RET_ERRNO | 55), ESRCH);
  /* Nothing was installed. */
  CHECK_SYS(syscall(SYS_getppid));
  CHECK_EQ(status_field("Seccomp"), 0);
  pthread_barrier_wait(&barrier);
  CHECK_EQ(pthread_join(th, NULL), 0);
}
static void tsync_conflict(void) { expect_exit0(tsync_conflict_child); }

/* ---- strict mode ---- */

static int strict_pipe[2];
static void strict_child(void) {
  CHECK_SYS(prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0));
  /* write, read, exit are allowed; anything else is SIGKILL. */
  syscall(SYS_write, strict_pipe[1], "ok", 2);
  syscall(SYS_getpid);
  syscall(SYS_write, strict_pipe[1], "no", 2);
  syscall(SYS_exit, 1);
}
static void strict_exit_child(void) {
  CHECK_SYS(syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL));
  syscall(SYS_exit, 7);
}
static void strict(void) {
  CHECK_SYS(pipe(strict_pipe));
  expect_signal(strict_child, SIGKILL);
  close(strict_pipe[1]);
  char buf[8];
  CHECK_EQ(read(strict_pipe[0], buf, sizeof(buf)), 2);
  CHECK(memcmp(buf, "ok", 2) == 0);
  close(strict_pipe[0]);
  int status = child(strict_exit_child);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 7);
}

/* ---- queries ---- */

static long action_avail(uint32_t action) {
  return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
}

static void queries(void) {
  CHECK_EQ(action_avail(SECCOMP_RET_KILL_PROCESS), 0);
  CHECK_EQ(action_avail(SECCOMP_RET_KILL_THREAD), 0);
  CHECK_EQ(action_avail(SECCOMP_RET_TRAP), 0);
  CHECK_EQ(action_avail(SECCOMP_RET_ERRNO), 0);
  CHECK_EQ(action_avail(SECCOMP_RET_TRACE), 0);
  CHECK_EQ(action_avail(SECCOMP_RET_LOG), 0);
  CHECK_EQ(action_avail(SECCOMP_RET_ALLOW), 0);
  CHECK_ERR(action_avail(SECCOMP_RET_ERRNO | 1), EOPNOTSUPP);
  CHECK_ERR(action_avail(0x12340000), EOPNOTSUPP);
  uint32_t a = SECCOMP_RET_ALLOW;
  CHECK_ERR(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 1, &a), EINVAL);
  CHECK_ERR(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, (void *)8), EFAULT);

  struct seccomp_notif_sizes sizes;
  memset(&sizes, 0xff, sizeof(sizes));
  CHECK_SYS(syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes));
  CHECK_EQ(sizes.seccomp_notif, 80);
  CHECK_EQ(sizes.seccomp_notif_resp, 24);
  CHECK_EQ(sizes.seccomp_data, 64);
  CHECK_ERR(syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 1, &sizes), EINVAL);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "exec-check") == 0) return exec_check();
  self_exe = argv[0];
  static char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = 0;
    self_exe = exe;
  }
  test_init();
  RUN(no_new_privs);
  RUN(needs_nnp_or_cap);
  RUN(loading);
  RUN(total_length);
  RUN(action_errno);
  RUN(action_args);
  RUN(action_trap);
  RUN(action_trap_default);
  RUN(action_kill_process);
  RUN(action_kill_thread);
  RUN(runtime_div_zero);
  RUN(precedence);
  RUN(inheritance);
  RUN(tsync);
  RUN(thread_local);
  RUN(tsync_conflict);
  RUN(strict);
  RUN(queries);
  return 0;
}
