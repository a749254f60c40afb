/*
 * fork_exec_wait: fork a child that execs a static do-nothing binary, and
 * wait for it: what a shell pays per command. The binary's path is given on
 * the command line (the harness builds true.c for it).
 */
#include <sys/wait.h>

#include "bench.h"

int main(int argc, char **argv) {
  long long n = bench_iterations(argc, argv, 1, "TRUE_BINARY");
  char *child_argv[] = {argv[2], NULL};
  char *child_envp[] = {NULL};

  long long start = bench_now_ns();
  for (long long i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) bench_die("fork");
    if (pid == 0) {
      execve(argv[2], child_argv, child_envp);
      _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) bench_die("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "child %s ended with status %#x\n", argv[2], status);
      return 1;
    }
  }
  bench_report("fork_exec_wait", n, bench_now_ns() - start);
  return 0;
}
