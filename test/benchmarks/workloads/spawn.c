/*
 * spawn: runs a command as a child, waits for it with wait4, and writes one
 * line to file descriptor 3:
 *
 *   SPAWN wall_ns=T maxrss_kb=K status=S
 *
 * then exits with the child's exit status (128+N for death by signal N).
 *
 * The harness starts every measured command through spawn rather than
 * directly, because of how Linux accounts ru_maxrss: exec carries the high-
 * water RSS of the address space being replaced into the new program's
 * ru_maxrss. Go starts children with vfork semantics, so that address space
 * is the harness's whole Go heap, and every child would seem to be at least
 * as large as the harness. spawn is a small static C program and uses a
 * real fork, which copies only its few anonymous pages, so what it reports
 * is the command's own peak.
 *
 * The rusage wait4 returns for the child covers the child and every
 * descendant it reaped before exiting, and ru_maxrss there is the largest
 * single process among them, not a sum. For `runsc do` that is the
 * largest process of the sandbox's tree, provided runsc reaps it.
 */
#include <fcntl.h>
#include <sys/wait.h>

#include "bench.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CMD [ARG...] (report on fd 3)\n", argv[0]);
    return 2;
  }
  /* The command must not inherit the report descriptor. */
  if (fcntl(3, F_SETFD, FD_CLOEXEC) != 0) bench_die("spawn: fd 3");

  long long start = bench_now_ns();
  pid_t pid = fork();
  if (pid < 0) bench_die("spawn: fork");
  if (pid == 0) {
    execv(argv[1], argv + 1);
    fprintf(stderr, "spawn: exec %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) != pid) {
    if (errno != EINTR) bench_die("spawn: wait4");
  }
  long long wall = bench_now_ns() - start;

  if (dprintf(3, "SPAWN wall_ns=%lld maxrss_kb=%ld status=%d\n", wall,
              ru.ru_maxrss, status) < 0) {
    bench_die("spawn: report");
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}
