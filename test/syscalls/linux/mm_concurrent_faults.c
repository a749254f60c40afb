/*
 * mm_concurrent_faults: page faults that several threads take at once.
 *
 * Threads that touch the same fresh page together all fault on it; the
 * kernel resolves the first and the others must simply find the page there
 * and retry, never get SIGSEGV. Meanwhile other threads change the mapping
 * (munmap, mprotect, madvise(MADV_DONTNEED)) and signals interrupt the
 * touching threads at arbitrary instructions. A fault the mapping really
 * forbids must still be reported (SIGSEGV, SEGV_ACCERR), to every thread
 * that makes it.
 */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>

#define NTHREADS 4
#define ROUNDS 1500
#define REGION (4L << 20)

static long pagesz;

/*
 * Any SIGSEGV outside expect_fault() is a failure. volatile: the handler
 * reads and writes these between the compiler's view of two statements.
 */
static __thread sigjmp_buf *volatile fault_jb;
static __thread volatile long fault_err; /* REG_ERR of the last expected fault */
static __thread volatile int fault_code;
static atomic_long stray_faults;
static _Atomic(void *) stray_addr;

static void on_segv(int sig, siginfo_t *si, void *ucv) {
  (void)sig;
  ucontext_t *uc = ucv;
  if (fault_jb == NULL) {
    atomic_fetch_add(&stray_faults, 1);
    atomic_store(&stray_addr, si->si_addr);
    /* Leave the thread; the round's check reports it. */
    pthread_exit(NULL);
  }
  fault_code = si->si_code;
#ifdef __x86_64__
  fault_err = uc->uc_mcontext.gregs[REG_ERR];
#else
  (void)uc;
  fault_err = -1;
#endif
  siglongjmp(*fault_jb, 1);
}

static atomic_long signals_seen;
static void on_usr1(int sig) {
  (void)sig;
  /* Touch the FP registers: a clobbered FP state would show below. */
  volatile double d = 1.5;
  d = d * 3.0;
  atomic_fetch_add(&signals_seen, d == 4.5);
}

static void install_handlers(void) {
  struct sigaction sa = {0};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  CHECK_SYS(sigaction(SIGSEGV, &sa, NULL));
  struct sigaction su = {0};
  su.sa_handler = on_usr1;
  su.sa_flags = SA_RESTART;
  CHECK_SYS(sigaction(SIGUSR1, &su, NULL));
}

/*
 * Every round maps a fresh region; all workers then touch the same,
 * never-touched page of it at once (half read, half write), and the main
 * thread unmaps it again.
 */
static _Atomic(char *) round_region;
static atomic_int round_no, round_done;
static atomic_long bad_values;

static void *first_touch_worker(void *arg) {
  long id = (long)arg;
  for (int r = 1; r <= ROUNDS; r++) {
    while (atomic_load(&round_no) < r) {
      /* Yield: more threads than CPUs spin here. */
      sched_yield();
    }
    char *p = atomic_load(&round_region) + ((r * 7919L) % (REGION / pagesz)) * pagesz;
    volatile char *v = p + id * 64;
    if (id % 2) {
      *v = (char)id;
      if (*v != (char)id) atomic_fetch_add(&bad_values, 1);
    } else if (*v != 0) {
      atomic_fetch_add(&bad_values, 1);
    }
    atomic_fetch_add(&round_done, 1);
  }
  return NULL;
}

static void concurrent_first_touch(void) {
  pthread_t t[NTHREADS];
  atomic_store(&round_no, 0);
  for (long i = 0; i < NTHREADS; i++)
    CHECK_EQ(pthread_create(&t[i], NULL, first_touch_worker, (void *)i), 0);
  long stray = 0;
  long deadline = test_now_ns() + 2000000000LL;
  int r;
  for (r = 1; r <= ROUNDS && stray == 0 && test_now_ns() < deadline; r++) {
    char *p = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    atomic_store(&round_region, p);
    atomic_store(&round_done, 0);
    atomic_store(&round_no, r);
    /* A worker that died of a stray fault never reports. */
    while (atomic_load(&round_done) < NTHREADS - atomic_load(&stray_faults)) {
      sched_yield();
    }
    stray = atomic_load(&stray_faults);
    CHECK_SYS(munmap(p, REGION));
  }
  /* Let the workers finish: the remaining rounds touch a live region. */
  char *last = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(last != MAP_FAILED);
  atomic_store(&round_region, last);
  atomic_store(&round_no, ROUNDS);
  if (stray) {
    fprintf(stderr, "spurious SIGSEGV at %p\n", atomic_load(&stray_addr));
  }
  CHECK_EQ(stray, 0);
  for (int i = 0; i < NTHREADS; i++) CHECK_EQ(pthread_join(t[i], NULL), 0);
  CHECK_SYS(munmap(last, REGION));
  CHECK_EQ(atomic_load(&bad_values), 0);
  CHECK(r > 50);
}

/*
 * Readers read a region that stays readable while the main thread flips
 * it between read-only and read-write, zaps it with MADV_DONTNEED and
 * signals the readers. Reads must never fault and must see 0 or the
 * value last written.
 */
static atomic_int churn_stop;
static char *churn;

static void *reader(void *arg) {
  (void)arg;
  long n = 0;
  while (!atomic_load(&churn_stop)) {
    for (long off = 0; off < 64 * pagesz; off += pagesz) {
      char c = ((volatile char *)churn)[off + (n % 64)];
      if (c != 0 && c != 0x5a) atomic_fetch_add(&bad_values, 1);
    }
    n++;
  }
  return NULL;
}

static void mapping_churn(void) {
  churn = mmap(NULL, 64 * pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(churn != MAP_FAILED);
  atomic_store(&stray_faults, 0);
  atomic_store(&churn_stop, 0);
  pthread_t t[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) CHECK_EQ(pthread_create(&t[i], NULL, reader, NULL), 0);
  long deadline = test_now_ns() + 1500000000LL;
  for (int i = 0; i < 3000 && test_now_ns() < deadline; i++) {
    CHECK_SYS(mprotect(churn, 64 * pagesz, PROT_READ | PROT_WRITE));
    memset(churn + (i % 64) * pagesz, 0x5a, pagesz);
    CHECK_SYS(mprotect(churn, 64 * pagesz, PROT_READ));
    if (i % 3 == 0) CHECK_SYS(madvise(churn, 64 * pagesz, MADV_DONTNEED));
    if (i % 5 == 0) pthread_kill(t[i % NTHREADS], SIGUSR1);
    if (atomic_load(&stray_faults)) break;
  }
  atomic_store(&churn_stop, 1);
  long stray = atomic_load(&stray_faults);
  if (stray) fprintf(stderr, "spurious SIGSEGV at %p\n", atomic_load(&stray_addr));
  CHECK_EQ(stray, 0);
  for (int i = 0; i < NTHREADS; i++) CHECK_EQ(pthread_join(t[i], NULL), 0);
  CHECK_EQ(atomic_load(&bad_values), 0);
  CHECK(atomic_load(&signals_seen) > 0);
  CHECK_SYS(munmap(churn, 64 * pagesz));
}

/*
 * expect_fault runs one access that must fault; it returns the si_code and
 * stores the error code.
 */
static int expect_fault(volatile char *p, int write, long *err) {
  sigjmp_buf jb;
  fault_code = 0;
  if (sigsetjmp(jb, 1) == 0) {
    fault_jb = &jb;
    if (write)
      *p = 1;
    else
      (void)*p;
    fault_jb = NULL;
    return 0;
  }
  fault_jb = NULL;
  *err = fault_err;
  return fault_code;
}

/* Several threads at once break a read-only page's rule. */
static char *ro_page;
static atomic_int ro_go;
static atomic_long ro_ok;

static void *ro_writer(void *arg) {
  (void)arg;
  while (!atomic_load(&ro_go)) {
  }
  for (int i = 0; i < 50; i++) {
    long err = 0;
    int code = expect_fault(ro_page + 8 * i, 1, &err);
    if (code == SEGV_ACCERR) atomic_fetch_add(&ro_ok, 1);
  }
  return NULL;
}

static void real_faults_reported(void) {
  ro_page = mmap(NULL, pagesz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(ro_page != MAP_FAILED);
  pthread_t t[NTHREADS];
  atomic_store(&ro_go, 0);
  for (int i = 0; i < NTHREADS; i++) CHECK_EQ(pthread_create(&t[i], NULL, ro_writer, NULL), 0);
  atomic_store(&ro_go, 1);
  for (int i = 0; i < NTHREADS; i++) CHECK_EQ(pthread_join(t[i], NULL), 0);
  CHECK_EQ(atomic_load(&ro_ok), NTHREADS * 50);
  /* The page is readable, and still holds zeros. */
  CHECK_EQ(ro_page[8], 0);

  /* Reads and writes of an inaccessible page fault. (The page-fault
   * error code is not checked: the ptrace platform cannot tell a read
   * from a write.) */
  char *none = mmap(NULL, pagesz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(none != MAP_FAILED);
  long err = 0;
  CHECK_EQ(expect_fault(none, 0, &err), SEGV_ACCERR);
  CHECK_EQ(expect_fault(none, 1, &err), SEGV_ACCERR);
  CHECK_SYS(munmap(none, pagesz));
  CHECK_SYS(munmap(ro_page, pagesz));
}

int main(void) {
  test_init();
  pagesz = sysconf(_SC_PAGESIZE);
  install_handlers();
  RUN(concurrent_first_touch);
  RUN(mapping_churn);
  RUN(real_faults_reported);
  return 0;
}
