/*
 * pipe_pingpong: two processes pass one byte back and forth over a pair of
 * pipes; one iteration is a full round trip (two writes, two reads, two
 * wake-ups), the latency floor of any request/response over local IPC.
 */
#include <sys/wait.h>

#include "bench.h"

static void child(int in, int out) {
  char c;
  for (;;) {
    ssize_t r = read(in, &c, 1);
    if (r == 0) _exit(0); /* the parent closed its end: done */
    if (r != 1) bench_die("child read");
    if (write(out, &c, 1) != 1) bench_die("child write");
  }
}

int main(int argc, char **argv) {
  long long n = bench_iterations(argc, argv, 0, "");
  int to_child[2], to_parent[2];
  if (pipe(to_child) != 0 || pipe(to_parent) != 0) bench_die("pipe");

  pid_t pid = fork();
  if (pid < 0) bench_die("fork");
  if (pid == 0) {
    close(to_child[1]);
    close(to_parent[0]);
    child(to_child[0], to_parent[1]);
  }
  close(to_child[0]);
  close(to_parent[1]);

  char c = 'p';
  /* One untimed round trip, so the child is known to be running. */
  if (write(to_child[1], &c, 1) != 1) bench_die("write");
  if (read(to_parent[0], &c, 1) != 1) bench_die("read");

  long long start = bench_now_ns();
  for (long long i = 0; i < n; i++) {
    if (write(to_child[1], &c, 1) != 1) bench_die("write");
    if (read(to_parent[0], &c, 1) != 1) bench_die("read");
  }
  long long total = bench_now_ns() - start;

  close(to_child[1]);
  int status;
  if (waitpid(pid, &status, 0) != pid) bench_die("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "child ended with status %#x\n", status);
    return 1;
  }
  bench_report("pipe_pingpong", n, total);
  return 0;
}
