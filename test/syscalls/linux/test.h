/*
 * Shared helpers for the differential syscall tests.
 *
 * Each test binary checks one area and must behave the same on Linux and
 * under runsc. A failed check prints "file:line: expression failed: errno=N
 * (name)" to stderr and exits 1; each finished sub-test prints "PASS name" to
 * stdout; the binary exits 0 only if every check held.
 *
 * Failure exits with _exit() after flushing stdout so that a failing forked
 * child neither flushes its copy of the parent's stdio buffer twice nor runs
 * the parent's atexit handlers.
 */
#ifndef APPKERNEL_TEST_H
#define APPKERNEL_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline void test_fail(const char *file, int line, const char *expr,
                             int err) {
  fflush(stdout);
  fprintf(stderr, "%s:%d: %s failed: errno=%d (%s)\n", file, line, expr, err,
          strerror(err));
  _exit(1);
}

static inline void test_fail_eq(const char *file, int line, const char *a,
                                const char *b, long long va, long long vb,
                                int err) {
  fflush(stdout);
  fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld (errno=%d (%s))\n",
          file, line, a, b, va, vb, err, strerror(err));
  _exit(1);
}

/* CHECK(e): e must be true. */
#define CHECK(e)                                         \
  do {                                                   \
    if (!(e)) test_fail(__FILE__, __LINE__, #e, errno);  \
  } while (0)

/* CHECK_EQ(a, b): both are compared and printed as long long. */
#define CHECK_EQ(a, b)                                                  \
  do {                                                                  \
    long long va_ = (long long)(a), vb_ = (long long)(b);               \
    if (va_ != vb_)                                                     \
      test_fail_eq(__FILE__, __LINE__, #a, #b, va_, vb_, errno);        \
  } while (0)

/* CHECK_SYS(e): a syscall-style call must not return -1. */
#define CHECK_SYS(e)                                                    \
  do {                                                                  \
    errno = 0;                                                          \
    if ((long long)(e) == -1) test_fail(__FILE__, __LINE__, #e, errno); \
  } while (0)

/* CHECK_ERR(e, err): a syscall-style call must fail with errno err. */
#define CHECK_ERR(e, err)                                               \
  do {                                                                  \
    errno = 0;                                                          \
    long long r_ = (long long)(e);                                      \
    int e_ = errno;                                                     \
    if (r_ != -1 || e_ != (err)) {                                      \
      fflush(stdout);                                                   \
      fprintf(stderr,                                                   \
              "%s:%d: %s: want -1 errno=%d (%s), got %lld errno=%d (%s)\n", \
              __FILE__, __LINE__, #e, (err), strerror(err), r_, e_,     \
              strerror(e_));                                            \
      _exit(1);                                                         \
    }                                                                   \
  } while (0)

/* RUN(fn): runs one sub-test and reports it. */
#define RUN(fn)               \
  do {                        \
    fn();                     \
    printf("PASS %s\n", #fn); \
    fflush(stdout);           \
  } while (0)

/*
 * test_init bounds the test's run time: a hang in the kernel under test must
 * turn into a failure, not a stuck suite. Tests that use SIGALRM themselves
 * re-arm or cancel it on purpose.
 */
static inline void test_init(void) {
  /* A static buffer: stdio never mallocs, which brk.c relies on. */
  static char buf[4096];
  setvbuf(stdout, buf, _IOLBF, sizeof(buf));
  alarm(20);
}

/* test_now_ns reads CLOCK_MONOTONIC in nanoseconds. */
static inline long long test_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * test_wait_sleeping waits (up to 5 s) until process pid is asleep, state
 * 'S' in /proc/PID/stat, so that a test can act on a call it blocks in
 * rather than guess how long the child takes to get there.
 */
static inline void test_wait_sleeping(pid_t pid) {
  char path[64], buf[256];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  for (int i = 0; i < 5000; i++) {
    FILE *f = fopen(path, "r");
    if (f == NULL) test_fail(__FILE__, __LINE__, path, errno);
    char *line = fgets(buf, sizeof(buf), f);
    fclose(f);
    char *paren = line ? strrchr(line, ')') : NULL;
    if (paren != NULL && paren[1] == ' ' && paren[2] == 'S') return;
    usleep(1000);
  }
  test_fail(__FILE__, __LINE__, "child never went to sleep", 0);
}

/*
 * test_tmpdir makes a private directory under /tmp so tests never collide
 * with each other or with host files; test_rmdir removes it and its files.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
static inline char *test_tmpdir(void) {
  static char path[64];
  strcpy(path, "/tmp/appkernel-test-XXXXXX");
  if (mkdtemp(path) == NULL) test_fail(__FILE__, __LINE__, "mkdtemp", errno);
  return path;
}

static inline void test_rmdir_at(int parent, const char *name) {
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (fd < 0) return;
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (unlinkat(fd, e->d_name, 0) != 0 && errno == EISDIR)
      test_rmdir_at(fd, e->d_name);
  }
  closedir(d);
  unlinkat(parent, name, AT_REMOVEDIR);
}

static inline void test_rmdir(const char *dir) { test_rmdir_at(AT_FDCWD, dir); }

/*
 * test_read_file reads path into buf (NUL-terminated) and returns the
 * length. It reads in small pieces, so that files generated on read (sysfs,
 * cgroupfs) are checked to continue where the last read stopped.
 */
static inline long test_read_file(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) test_fail(__FILE__, __LINE__, path, errno);
  long total = 0;
  for (;;) {
    long r = read(fd, buf + total, n - 1 - total < 7 ? n - 1 - total : 7);
    CHECK_SYS(r);
    if (r == 0) break;
    total += r;
    CHECK((size_t)total < n - 1);
  }
  close(fd);
  buf[total] = 0;
  return total;
}

#endif
