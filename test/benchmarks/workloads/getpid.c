/*
 * getpid: the cost of the cheapest system call, a round trip into the
 * kernel and back. syscall(SYS_getpid) bypasses any libc caching of the pid,
 * so every iteration really enters the kernel (or the Sentry).
 */
#include <sys/syscall.h>

#include "bench.h"

int main(int argc, char **argv) {
  long long n = bench_iterations(argc, argv, 0, "");
  pid_t want = (pid_t)syscall(SYS_getpid);
  long long start = bench_now_ns();
  for (long long i = 0; i < n; i++) {
    if ((pid_t)syscall(SYS_getpid) != want) {
      errno = EINVAL;
      bench_die("getpid changed");
    }
  }
  bench_report("getpid", n, bench_now_ns() - start);
  return 0;
}
