/*
 * futex: FUTEX_WAIT/WAKE (private and shared), WAIT_BITSET/WAKE_BITSET,
 * timeouts and CMP_REQUEUE.
 * Checks EAGAIN when the value does not match, relative and absolute
 * timeouts (ETIMEDOUT, never early), wake counts between threads, bitset
 * filtering, waking a waiter in another process through shared memory,
 * requeueing waiters, and argument errors.
 *
 * A waker cannot know that a waiter has reached the kernel, so wakes are
 * retried until the expected number of waiters have reported back.
 */
#include "test.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long futex(atomic_int *uaddr, int op, int val, const struct timespec *ts,
                  atomic_int *uaddr2, int val3) {
  return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static void value_mismatch(void) {
  atomic_int f = 1;
  CHECK_ERR(futex(&f, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EAGAIN);
  CHECK_ERR(futex(&f, FUTEX_WAIT, 0, NULL, NULL, 0), EAGAIN);
  /* Nobody waits: wake reports 0. */
  CHECK_EQ(futex(&f, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 0);
}

static void timeouts(void) {
  atomic_int f = 0;
  struct timespec rel = {0, 30 * 1000 * 1000};
  long long t0 = test_now_ns();
  CHECK_ERR(futex(&f, FUTEX_WAIT_PRIVATE, 0, &rel, NULL, 0), ETIMEDOUT);
  CHECK(test_now_ns() - t0 >= 30 * 1000 * 1000);
  /* WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
  struct timespec abs;
  clock_gettime(CLOCK_MONOTONIC, &abs);
  abs.tv_nsec += 30 * 1000 * 1000;
  if (abs.tv_nsec >= 1000000000) {
    abs.tv_sec++;
    abs.tv_nsec -= 1000000000;
  }
  t0 = test_now_ns();
  CHECK_ERR(futex(&f, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, NULL,
                  FUTEX_BITSET_MATCH_ANY),
            ETIMEDOUT);
  CHECK(test_now_ns() - t0 >= 20 * 1000 * 1000);
  /* A deadline already in the past times out at once. */
  abs.tv_sec -= 10;
  CHECK_ERR(futex(&f, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, NULL,
                  FUTEX_BITSET_MATCH_ANY),
            ETIMEDOUT);
  struct timespec bad = {0, 1000000000};
  CHECK_ERR(futex(&f, FUTEX_WAIT_PRIVATE, 0, &bad, NULL, 0), EINVAL);
  struct timespec neg = {-1, 0};
  CHECK_ERR(futex(&f, FUTEX_WAIT_PRIVATE, 0, &neg, NULL, 0), EINVAL);
}

struct waiter {
  atomic_int *word;
  int op;
  int bitset;
  atomic_int *started;
  atomic_int *woken;
  long result;
};

static void *wait_thread(void *arg) {
  struct waiter *w = arg;
  atomic_fetch_add(w->started, 1);
  /* The word stays 0, so only a wake (never EAGAIN) can end this. */
  w->result = futex(w->word, w->op, 0, NULL, NULL, w->bitset);
  atomic_fetch_add(w->woken, 1);
  return NULL;
}

/* wake_until retries wakes of at most n until `want` waiters returned. */
static void wake_until(atomic_int *word, int op, int n, int bitset,
                       atomic_int *woken, int want) {
  long long deadline = test_now_ns() + 5LL * 1000 * 1000 * 1000;
  while (atomic_load(woken) < want) {
    long r = futex(word, op, n, NULL, NULL, bitset);
    CHECK(r >= 0 && r <= n);
    CHECK(test_now_ns() < deadline);
    usleep(1000);
  }
}

static void wake_counts(void) {
  enum { N = 3 };
  atomic_int word = 0, started = 0, woken = 0;
  pthread_t t[N];
  struct waiter w[N];
  for (int i = 0; i < N; i++) {
    w[i] = (struct waiter){&word, FUTEX_WAIT_PRIVATE, 0, &started, &woken, -1};
    CHECK_EQ(pthread_create(&t[i], NULL, wait_thread, &w[i]), 0);
  }
  while (atomic_load(&started) < N) usleep(1000);
  /* Wake one at a time: a wake of 1 never reports more than 1. */
  wake_until(&word, FUTEX_WAKE_PRIVATE, 1, 0, &woken, N);
  for (int i = 0; i < N; i++) {
    CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(w[i].result, 0);
  }
}

static void bitsets(void) {
  atomic_int word = 0, started = 0, woken = 0;
  pthread_t t;
  struct waiter w = {&word, FUTEX_WAIT_BITSET_PRIVATE, 0x1, &started, &woken, -1};
  CHECK_EQ(pthread_create(&t, NULL, wait_thread, &w), 0);
  while (atomic_load(&started) < 1) usleep(1000);
  /* A disjoint bitset must never wake the waiter. */
  for (int i = 0; i < 20; i++) {
    CHECK_EQ(futex(&word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x2),
             0);
    usleep(500);
  }
  CHECK_EQ(atomic_load(&woken), 0);
  wake_until(&word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, 0x3, &woken, 1);
  CHECK_EQ(pthread_join(t, NULL), 0);
  CHECK_EQ(w.result, 0);
  CHECK_ERR(futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0), EINVAL);
}

static void cross_process(void) {
  atomic_int *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(shm != MAP_FAILED);
  atomic_int *word = &shm[0], *ready = &shm[1];
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    atomic_store(ready, 1);
    /* Shared (non-private) futexes key on the page, not the address space. */
    while (atomic_load(word) == 0) {
      long r = futex(word, FUTEX_WAIT, 0, NULL, NULL, 0);
      if (r != 0 && errno != EAGAIN && errno != EINTR) _exit(1);
    }
    _exit(atomic_load(word) == 7 ? 0 : 2);
  }
  while (atomic_load(ready) == 0) usleep(1000);
  atomic_store(word, 7);
  CHECK(futex(word, FUTEX_WAKE, 1, NULL, NULL, 0) >= 0);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  munmap(shm, 4096);
}

static void requeue(void) {
  enum { N = 2 };
  atomic_int a = 0, b = 0, started = 0, woken = 0;
  pthread_t t[N];
  struct waiter w[N];
  for (int i = 0; i < N; i++) {
    w[i] = (struct waiter){&a, FUTEX_WAIT_PRIVATE, 0, &started, &woken, -1};
    CHECK_EQ(pthread_create(&t[i], NULL, wait_thread, &w[i]), 0);
  }
  while (atomic_load(&started) < N) usleep(1000);
  /* Wait until both are queued on a: then wake 0 and move both to b. */
  long moved = 0;
  long long deadline = test_now_ns() + 5LL * 1000 * 1000 * 1000;
  while (moved < N) {
    long r = syscall(SYS_futex, &a, FUTEX_CMP_REQUEUE_PRIVATE, 0,
                     (void *)(uintptr_t)INT_MAX, &b, 0);
    CHECK(r >= 0);
    moved += r;
    CHECK(test_now_ns() < deadline);
    usleep(1000);
  }
  CHECK_EQ(moved, N);
  /* Nobody is left on a; wakes on b reach them. */
  CHECK_EQ(futex(&a, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 0);
  CHECK_EQ(atomic_load(&woken), 0);
  wake_until(&b, FUTEX_WAKE_PRIVATE, INT_MAX, 0, &woken, N);
  for (int i = 0; i < N; i++) CHECK_EQ(pthread_join(t[i], NULL), 0);
  /* CMP_REQUEUE checks the expected value first. */
  CHECK_ERR(syscall(SYS_futex, &a, FUTEX_CMP_REQUEUE_PRIVATE, 0,
                    (void *)(uintptr_t)1, &b, 5),
            EAGAIN);
}

static void errors(void) {
  atomic_int f = 0;
  CHECK_ERR(futex(&f, 0x7f, 0, NULL, NULL, 0), ENOSYS);
  /* Futex words must be 4-byte aligned. */
  CHECK_ERR(futex((atomic_int *)((char *)&f + 1), FUTEX_WAKE_PRIVATE, 1, NULL,
                  NULL, 0),
            EINVAL);
  CHECK_ERR(futex((atomic_int *)8, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0),
            EFAULT);
}

int main(void) {
  test_init();
  RUN(value_mismatch);
  RUN(timeouts);
  RUN(wake_counts);
  RUN(bitsets);
  RUN(cross_process);
  RUN(requeue);
  RUN(errors);
  return 0;
}
