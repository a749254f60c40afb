/*
 * Shared helpers for the benchmark workloads.
 *
 * Every workload takes its iteration count as argv[1] (the harness chooses
 * it adaptively), times exactly that many iterations of its operation with
 * CLOCK_MONOTONIC, and prints one line on stdout:
 *
 *   RESULT name=NAME iterations=N total_ns=T ns_per_op=X maxrss_kb=K
 *
 * total_ns covers the timed loop only, not process start-up or set-up, so
 * the same number means the same thing natively and in the sandbox.
 * maxrss_kb is the workload's own getrusage(RUSAGE_SELF) peak as the kernel
 * it runs on reports it. Any failure prints to stderr and exits 1: a
 * benchmark that silently measured a failing call would be worse than none.
 */
#ifndef APPKERNEL_BENCH_H
#define APPKERNEL_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static inline void bench_die(const char *what) {
  int err = errno;
  fflush(stdout);
  fprintf(stderr, "%s: %s\n", what, strerror(err));
  _exit(1);
}

static inline void bench_usage(const char *prog, const char *args) {
  fprintf(stderr, "usage: %s ITERATIONS%s%s\n", prog, *args ? " " : "", args);
  exit(2);
}

/* bench_iterations parses argv[1] and checks the argument count; extra is
 * the number of arguments the workload takes after ITERATIONS. */
static inline long long bench_iterations(int argc, char **argv, int extra,
                                         const char *args) {
  if (argc != 2 + extra) bench_usage(argv[0], args);
  char *end;
  errno = 0;
  long long n = strtoll(argv[1], &end, 10);
  if (errno != 0 || *end != '\0' || end == argv[1] || n < 1) {
    bench_usage(argv[0], args);
  }
  return n;
}

static inline long long bench_now_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) bench_die("clock_gettime");
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void bench_report(const char *name, long long iterations,
                                long long total_ns) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) bench_die("getrusage");
  printf("RESULT name=%s iterations=%lld total_ns=%lld ns_per_op=%.3f "
         "maxrss_kb=%ld\n",
         name, iterations, total_ns, (double)total_ns / (double)iterations,
         ru.ru_maxrss);
  if (fflush(stdout) != 0) bench_die("fflush");
}

#endif /* APPKERNEL_BENCH_H */
