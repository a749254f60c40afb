/*
 * rseq: restartable sequences.
 * Checks that libc's registration at start succeeded, rseq(2)'s argument
 * rules (EINVAL, EBUSY, EPERM, EFAULT, unregistering), that cpu_id names
 * an allowed CPU and agrees with getcpu and sched_setaffinity, that a
 * signal delivered inside a critical section moves the thread to the abort
 * handler before the handler's frame is built, that membarrier's RSEQ
 * command aborts a running critical section, that deprecated flags, a wrong
 * signature and an unmapped area are SIGSEGV, that fork keeps the
 * registration while CLONE_VM children and exec do not, and that per-CPU
 * counters updated by rseq from more threads than CPUs lose no update.
 * The critical sections are x86-64 assembly.
 */
#include "test.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>

#ifndef __x86_64__
#error "rseq.c has x86-64 critical sections only"
#endif

#define SIG 0x53053053u /* glibc's RSEQ_SIG on x86 */

/* struct rseq and struct rseq_cs_abi as in Linux 6.3+ (headers may be older). */
struct rseq_abi {
  uint32_t cpu_id_start;
  uint32_t cpu_id;
  uint64_t rseq_cs;
  uint32_t flags;
  uint32_t node_id;
  uint32_t mm_cid;
} __attribute__((aligned(32)));

struct rseq_cs_abi {
  uint32_t version;
  uint32_t flags;
  uint64_t start_ip;
  uint64_t post_commit_offset;
  uint64_t abort_ip;
} __attribute__((aligned(32)));

#define RSEQ_CPU_UNINIT (-1)
#define UNREGISTER 1
#define CS_NO_RESTART_ALL 7

/*
 * int cs_spin(struct rseq_abi *rs, struct rseq_cs_abi *cs, int *entered, int *go):
 * enters the critical section, sets *entered and spins until *go; returns 0
 * if it got to the end of the section, 1 if it was aborted.
 */
__asm__(".text\n"
        ".globl cs_spin\n"
        ".type cs_spin,@function\n"
        "cs_spin:\n"
        "  movq %rsi, 8(%rdi)\n"
        ".globl cs_spin_start\n"
        "cs_spin_start:\n"
        "  movl $1, (%rdx)\n"
        "1:\n"
        "  cmpl $0, (%rcx)\n"
        "  je 1b\n"
        "  xorl %eax, %eax\n"
        ".globl cs_spin_post\n"
        "cs_spin_post:\n"
        "  ret\n"
        "  .long 0x53053053\n"
        ".globl cs_spin_abort\n"
        "cs_spin_abort:\n"
        "  movl $1, %eax\n"
        "  ret\n"
        "  .long 0x12345678\n"
        ".globl cs_spin_badsig\n"
        "cs_spin_badsig:\n"
        "  movl $2, %eax\n"
        "  ret\n"
        ".size cs_spin, .-cs_spin\n"
        /*
         * void cs_inc(struct rseq_abi *rs, struct rseq_cs_abi *cs, uint64_t *ctr):
         * ctr[cpu_id]++, retried until it commits.
         */
        ".globl cs_inc\n"
        ".type cs_inc,@function\n"
        "cs_inc:\n"
        "2:\n"
        "  movq %rsi, 8(%rdi)\n"
        ".globl cs_inc_start\n"
        "cs_inc_start:\n"
        "  movl 4(%rdi), %eax\n"
        "  leaq (%rdx,%rax,8), %r8\n"
        "  movq (%r8), %r9\n"
        "  addq $1, %r9\n"
        "  movq %r9, (%r8)\n"
        ".globl cs_inc_post\n"
        "cs_inc_post:\n"
        "  ret\n"
        "  .long 0x53053053\n"
        ".globl cs_inc_abort\n"
        "cs_inc_abort:\n"
        "  jmp 2b\n"
        ".size cs_inc, .-cs_inc\n");

extern int cs_spin(struct rseq_abi *rs, struct rseq_cs_abi *cs, volatile int *entered,
                   volatile int *go);
extern void cs_inc(struct rseq_abi *rs, struct rseq_cs_abi *cs, uint64_t *ctr);
extern char cs_spin_start[], cs_spin_post[], cs_spin_abort[], cs_spin_badsig[];
extern char cs_inc_start[], cs_inc_post[], cs_inc_abort[];

static long sys_rseq(void *rs, uint32_t len, int flags, uint32_t sig) {
  return syscall(SYS_rseq, rs, len, flags, sig);
}

/* libc_rseq is the calling thread's rseq area registered by glibc. */
static struct rseq_abi *libc_rseq(void) {
  return (struct rseq_abi *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

static int nr_cpus(void) { return (int)sysconf(_SC_NPROCESSORS_CONF); }

static void check_ids(volatile struct rseq_abi *rs) {
  /* The thread may move to another CPU between two reads (the kernel
   * then rewrites both fields): take a snapshot that did not straddle
   * a move. */
  int cpu;
  uint32_t start;
  for (int tries = 0;; tries++) {
    start = rs->cpu_id_start;
    cpu = (int)rs->cpu_id;
    if (rs->cpu_id_start == start && (int)rs->cpu_id == cpu) break;
    CHECK(tries < 1000);
  }
  CHECK(cpu >= 0 && cpu < nr_cpus());
  CHECK_EQ(start, (uint32_t)cpu);
  cpu_set_t set;
  CHECK_SYS(sched_getaffinity(0, sizeof(set), &set));
  CHECK(CPU_ISSET(cpu, &set));
  CHECK(rs->mm_cid < (uint32_t)nr_cpus());
}

static struct rseq_abi myrs __attribute__((aligned(32)));
static char big[128] __attribute__((aligned(32)));

static void test_libc_registered(void) {
  /* glibc registers the main thread at start; it gave up if rseq failed. */
  CHECK(__rseq_size >= 20);
  check_ids(libc_rseq());
}

/* unregister_libc drops glibc's registration of the calling thread. */
static uint32_t unregister_libc(void) {
  uint32_t len = 32;
  if (sys_rseq(libc_rseq(), len, UNREGISTER, SIG) != 0) {
    len = __rseq_size;
    CHECK_SYS(sys_rseq(libc_rseq(), len, UNREGISTER, SIG));
  }
  return len;
}

static void test_unregister_libc(void) {
  uint32_t len = unregister_libc();
  CHECK_EQ((int32_t)libc_rseq()->cpu_id, RSEQ_CPU_UNINIT);
  CHECK_EQ(libc_rseq()->cpu_id_start, 0);
  /* Not registered any more. */
  CHECK_ERR(sys_rseq(libc_rseq(), len, UNREGISTER, SIG), EINVAL);
}

static void test_register_errors(void) {
  CHECK_ERR(sys_rseq(&myrs, 32, 2, SIG), EINVAL);
  CHECK_ERR(sys_rseq((char *)&myrs + 8, 32, 0, SIG), EINVAL);
  CHECK_ERR(sys_rseq(&myrs, 16, 0, SIG), EINVAL);
  CHECK_ERR(sys_rseq(&myrs, 31, 0, SIG), EINVAL);
  CHECK_ERR(sys_rseq((void *)0xffffffffffffffe0ul, 32, 0, SIG), EFAULT);
  CHECK_ERR(sys_rseq(&myrs, 32, UNREGISTER, SIG), EINVAL);

  /* A longer area is fine if aligned. */
  CHECK_SYS(sys_rseq(big, sizeof(big), 0, SIG));
  check_ids((struct rseq_abi *)big);
  CHECK_ERR(sys_rseq(big, 32, UNREGISTER, SIG), EINVAL);
  CHECK_SYS(sys_rseq(big, sizeof(big), UNREGISTER, SIG));

  myrs.cpu_id = RSEQ_CPU_UNINIT;
  CHECK_SYS(sys_rseq(&myrs, 32, 0, SIG));
  /* Written before the syscall returned to us. */
  check_ids(&myrs);
  CHECK_ERR(sys_rseq(&myrs, 32, 0, SIG), EBUSY);
  CHECK_ERR(sys_rseq(&myrs, 32, 0, SIG + 1), EPERM);
  CHECK_ERR(sys_rseq(big, 32, 0, SIG), EINVAL);
  CHECK_ERR(sys_rseq(&myrs, 64, 0, SIG), EINVAL);
  CHECK_ERR(sys_rseq(big, 32, UNREGISTER, SIG), EINVAL);
  CHECK_ERR(sys_rseq(&myrs, 64, UNREGISTER, SIG), EINVAL);
  CHECK_ERR(sys_rseq(&myrs, 32, UNREGISTER, SIG + 1), EPERM);
  CHECK_ERR(sys_rseq(&myrs, 32, UNREGISTER | 2, SIG), EINVAL);
  CHECK_SYS(sys_rseq(&myrs, 32, UNREGISTER, SIG));
  CHECK_EQ((int32_t)myrs.cpu_id, RSEQ_CPU_UNINIT);
  CHECK_SYS(sys_rseq(&myrs, 32, 0, SIG));
}

static void test_cpu_id(void) {
  /* cpu_id and getcpu agree, barring a migration between the reads. */
  int agreed = 0;
  for (int i = 0; i < 1000 && !agreed; i++) {
    unsigned cpu = 0;
    uint32_t before = myrs.cpu_id;
    CHECK_SYS(syscall(SYS_getcpu, &cpu, NULL, NULL));
    agreed = before == cpu && myrs.cpu_id == cpu;
  }
  CHECK(agreed);
  /* Pinning the thread moves cpu_id there. */
  cpu_set_t all, one;
  CHECK_SYS(sched_getaffinity(0, sizeof(all), &all));
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, &all)) continue;
    CPU_ZERO(&one);
    CPU_SET(c, &one);
    CHECK_SYS(sched_setaffinity(0, sizeof(one), &one));
    CHECK_EQ(myrs.cpu_id, c);
    CHECK_EQ(myrs.cpu_id_start, c);
    check_ids(&myrs);
  }
  CHECK_SYS(sched_setaffinity(0, sizeof(all), &all));
}

/* A thread that spins in cs_spin on its glibc rseq area. */
struct spin {
  struct rseq_cs_abi cs __attribute__((aligned(32)));
  volatile int entered, go, result;
  pthread_t thread;
};

static void spin_init(struct spin *s, uint32_t flags, char *abort_ip) {
  memset(s, 0, sizeof(*s));
  s->cs.version = 0;
  s->cs.flags = flags;
  s->cs.start_ip = (uintptr_t)cs_spin_start;
  s->cs.post_commit_offset = cs_spin_post - cs_spin_start;
  s->cs.abort_ip = (uintptr_t)abort_ip;
}

static void *spin_thread(void *arg) {
  struct spin *s = arg;
  s->result = cs_spin(libc_rseq(), &s->cs, &s->entered, &s->go);
  return NULL;
}

static void spin_start(struct spin *s) {
  CHECK_EQ(pthread_create(&s->thread, NULL, spin_thread, s), 0);
  while (!s->entered) sched_yield();
}

static volatile uintptr_t handler_ip;
static volatile uint64_t handler_rseq_cs;
static struct spin *handler_spin;

static void on_usr1(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = ucv;
  handler_ip = uc->uc_mcontext.gregs[REG_RIP];
  handler_rseq_cs = libc_rseq()->rseq_cs;
  if (handler_spin) handler_spin->go = 1;
}

static void set_usr1(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO;
  CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
}

static void test_abort_on_signal(void) {
  static struct spin s;
  set_usr1();
  /* A preemption before the signal also aborts the section (natively
   * too), and the thread may then be gone before the signal arrives:
   * try again until the signal is what found it in the section. */
  for (int attempt = 0; attempt < 20; attempt++) {
    spin_init(&s, 0, cs_spin_abort);
    handler_spin = &s;
    handler_ip = 0;
    spin_start(&s);
    CHECK_EQ(pthread_kill(s.thread, SIGUSR1), 0);
    CHECK_EQ(pthread_join(s.thread, NULL), 0);
    if (handler_ip == (uintptr_t)cs_spin_abort) break;
  }
  /* The handler saw the abort handler as its return address and rseq_cs
   * already cleared; the section was not finished. */
  CHECK_EQ(s.result, 1);
  CHECK_EQ(handler_ip, (uintptr_t)cs_spin_abort);
  CHECK_EQ(handler_rseq_cs, 0);
  handler_spin = NULL;
}

static void test_membarrier_rseq(void) {
  long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  CHECK(cmds >= 0);
  CHECK(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ);
  CHECK(cmds & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ);
  CHECK_ERR(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0), EPERM);
  CHECK_SYS(syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0));
  CHECK_ERR(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 2, 0), EINVAL);
  CHECK_SYS(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0));
  /* A CPU with nothing of ours on it, or none at all, is fine. */
  CHECK_SYS(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
                    MEMBARRIER_CMD_FLAG_CPU, 100000));

  /* Once the barrier returns, the spinning section cannot complete. */
  static struct spin s;
  spin_init(&s, 0, cs_spin_abort);
  spin_start(&s);
  CHECK_SYS(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0));
  s.go = 1;
  CHECK_EQ(pthread_join(s.thread, NULL), 0);
  CHECK_EQ(s.result, 1);
}

/* run_dies runs fn in a child and checks it is killed by sig. */
static void run_dies(void (*fn)(void), int sig) {
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    alarm(10);
    fn();
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  if (!WIFSIGNALED(st)) {
    fprintf(stderr, "child status %#x, want killed by %d\n", st, sig);
  }
  CHECK(WIFSIGNALED(st));
  CHECK_EQ(WTERMSIG(st), sig);
}

static void signal_spin(uint32_t flags, char *abort_ip) {
  static struct spin s;
  spin_init(&s, flags, abort_ip);
  set_usr1();
  handler_spin = &s;
  spin_start(&s);
  pthread_kill(s.thread, SIGUSR1);
  pthread_join(s.thread, NULL);
}

static void deprecated_flag_child(void) {
  signal_spin(CS_NO_RESTART_ALL, cs_spin_abort);
}

static void bad_sig_child(void) { signal_spin(0, cs_spin_badsig); }

static void unmapped_area_child(void) {
  /* The area goes away while registered: the next update faults. */
  unregister_libc();
  char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  CHECK_SYS(sys_rseq(p, 32, 0, SIG));
  CHECK_SYS(munmap(p, 4096));
  set_usr1();
  kill(getpid(), SIGUSR1);
}

static void test_sigsegv(void) {
  run_dies(deprecated_flag_child, SIGSEGV);
  run_dies(bad_sig_child, SIGSEGV);
  run_dies(unmapped_area_child, SIGSEGV);
}

static int clone_vm_child(void *arg) {
  /* Not registered: registering elsewhere works, and is then ours. */
  static struct rseq_abi other __attribute__((aligned(32)));
  if (syscall(SYS_rseq, &other, 32, 0, SIG) != 0) return 1;
  if ((int32_t)other.cpu_id < 0) return 2;
  if (syscall(SYS_rseq, &other, 32, UNREGISTER, SIG) != 0) return 3;
  return 0;
}

static void test_inheritance(void) {
  /* fork: the child has the parent's registration, kept up to date. */
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    myrs.cpu_id = 12345;
    sched_yield();
    CHECK_ERR(sys_rseq(&myrs, 32, 0, SIG), EBUSY);
    CHECK_ERR(sys_rseq(&myrs, 32, 0, SIG + 1), EPERM);
    CHECK_SYS(sys_rseq(&myrs, 32, UNREGISTER, SIG));
    CHECK_SYS(sys_rseq(&myrs, 32, 0, SIG));
    check_ids(&myrs);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);

  /* clone(CLONE_VM): the child starts without one. */
  static char stack[65536] __attribute__((aligned(16)));
  pid = clone(clone_vm_child, stack + sizeof(stack), CLONE_VM | SIGCHLD, NULL);
  CHECK(pid > 0);
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  /* Ours is untouched. */
  CHECK_ERR(sys_rseq(&myrs, 32, 0, SIG), EBUSY);
}

static void test_exec_clears(void) {
  /* The re-executed program's libc registers its own area, which it could
   * not if ours were still registered. */
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    execl("/proc/self/exe", "rseq", "exec-child", (char *)NULL);
    _exit(99);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
}

static int exec_child(void) {
  if (__rseq_size < 20) return 10;
  if ((int32_t)libc_rseq()->cpu_id < 0) return 11;
  return 0;
}

#define COUNTERS 1024
static uint64_t counters[COUNTERS];
static struct rseq_cs_abi inc_cs __attribute__((aligned(32)));
enum { INC_THREADS = 6, INC_ITERS = 300000 };

static void *inc_thread(void *arg) {
  struct rseq_abi *rs = libc_rseq();
  for (int i = 0; i < INC_ITERS; i++) cs_inc(rs, &inc_cs, counters);
  return NULL;
}

static void test_percpu_counters(void) {
  CHECK(nr_cpus() <= COUNTERS);
  inc_cs.start_ip = (uintptr_t)cs_inc_start;
  inc_cs.post_commit_offset = cs_inc_post - cs_inc_start;
  inc_cs.abort_ip = (uintptr_t)cs_inc_abort;
  pthread_t th[INC_THREADS];
  for (int i = 0; i < INC_THREADS; i++)
    CHECK_EQ(pthread_create(&th[i], NULL, inc_thread, NULL), 0);
  for (int i = 0; i < INC_THREADS; i++) CHECK_EQ(pthread_join(th[i], NULL), 0);
  uint64_t sum = 0;
  for (int i = 0; i < COUNTERS; i++) sum += counters[i];
  CHECK_EQ(sum, (uint64_t)INC_THREADS * INC_ITERS);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "exec-child") == 0) return exec_child();
  test_init();
  RUN(test_libc_registered);
  RUN(test_abort_on_signal);
  RUN(test_membarrier_rseq);
  RUN(test_sigsegv);
  RUN(test_percpu_counters);
  RUN(test_unregister_libc);
  RUN(test_register_errors);
  RUN(test_cpu_id);
  RUN(test_inheritance);
  RUN(test_exec_clears);
  return 0;
}
