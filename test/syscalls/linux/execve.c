/*
 * execve: execve and execveat, by re-executing this binary.
 * Checks argv/envp passing, that O_CLOEXEC fds close and others survive,
 * that the pid is kept (also when a non-leader thread execs), that caught
 * signals reset to default while ignored ones and the mask survive, and
 * ENOENT/EACCES/ENOEXEC for things that cannot be executed.
 *
 * The binary finds itself through argv[0], which the runner passes as an
 * absolute path; child roles are selected by argv[1].
 */
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;
static const char *self;
static char *dir;

/* run_child forks, execs self with argv, and returns the exit status. */
static int run_child(char *const argv[], char *const envp[]) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    execve(self, argv, envp);
    _exit(100 + errno);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  return WEXITSTATUS(st);
}

static char *num(long v) {
  static char bufs[8][24];
  static int i;
  i = (i + 1) % 8;
  snprintf(bufs[i], sizeof(bufs[i]), "%ld", v);
  return bufs[i];
}

/* ---- roles run in the new image; they exit with 0 on success ---- */

static int child_args(int argc, char **argv) {
  if (argc != 5) return 1;
  if (strcmp(argv[2], "one") || strcmp(argv[3], "") || strcmp(argv[4], "two words"))
    return 2;
  if (environ[0] == NULL || strcmp(environ[0], "FOO=bar")) return 3;
  if (environ[1] == NULL || strcmp(environ[1], "EMPTY=")) return 4;
  if (environ[2] != NULL) return 5;
  if (strcmp(getenv("FOO"), "bar")) return 6;
  /* The kernel records the exec'd path for the loader. */
  const char *fn = (const char *)getauxval(AT_EXECFN);
  if (fn == NULL || strcmp(fn, self)) return 7;
  return 0;
}

static int child_fds(char **argv) {
  int keep = atoi(argv[2]), gone = atoi(argv[3]);
  if (fcntl(keep, F_GETFD) != 0) return 1;
  if (fcntl(gone, F_GETFD) != -1 || errno != EBADF) return 2;
  char c;
  if (read(keep, &c, 1) != 1 || c != 'k') return 3;
  return 0;
}

static int child_pid(char **argv) {
  pid_t want = atoi(argv[2]);
  if (getpid() != want) return 1;
  if (syscall(SYS_gettid) != want) return 2;
  if (getppid() != atoi(argv[3])) return 3;
  return 0;
}

static int child_signals(void) {
  struct sigaction sa;
  sigaction(SIGUSR1, NULL, &sa);
  if (sa.sa_handler != SIG_DFL) return 1;
  sigaction(SIGUSR2, NULL, &sa);
  if (sa.sa_handler != SIG_IGN) return 2;
  sigset_t mask;
  sigprocmask(SIG_BLOCK, NULL, &mask);
  if (!sigismember(&mask, SIGHUP)) return 3;
  if (sigismember(&mask, SIGUSR1)) return 4;
  return 0;
}

/* ---- tests run in the original image ---- */

static void args_and_env(void) {
  char *argv[] = {(char *)self, "args", "one", "", "two words", NULL};
  char *envp[] = {"FOO=bar", "EMPTY=", NULL};
  CHECK_EQ(run_child(argv, envp), 0);
}

static void cloexec_fds(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_EQ(write(p[1], "k", 1), 1);
  int gone = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK(gone >= 0);
  char *argv[] = {(char *)self, "fds", num(p[0]), num(gone), NULL};
  CHECK_EQ(run_child(argv, environ), 0);
  close(gone);
  close(p[0]);
  close(p[1]);
}

static void keeps_pid(void) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    char *argv[] = {(char *)self, "pid", num(getpid()), num(getppid()), NULL};
    execve(self, argv, environ);
    _exit(100 + errno);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
}

static void *exec_from_thread(void *arg) {
  char **argv = arg;
  execve(self, argv, environ);
  _exit(100 + errno);
}

static void thread_exec(void) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* A non-leader thread execs: the process keeps the leader's pid. */
    char *argv[] = {(char *)self, "pid", num(getpid()), num(getppid()), NULL};
    pthread_t t;
    if (pthread_create(&t, NULL, exec_from_thread, argv) != 0) _exit(99);
    for (;;) pause();
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
}

static void on_usr1(int sig) { (void)sig; }

static void signal_state(void) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    char *argv[] = {(char *)self, "signals", NULL};
    execve(self, argv, environ);
    _exit(100 + errno);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
}

static void execveat_fd(void) {
  int fd = open(self, O_PATH | O_CLOEXEC);
  CHECK(fd >= 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    char *argv[] = {(char *)self, "pid", num(getpid()), num(getppid()), NULL};
    syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
    _exit(100 + errno);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  close(fd);
}

static void errors(void) {
  char *argv[] = {"x", NULL};
  char p[256];
  snprintf(p, sizeof(p), "%s/missing", dir);
  CHECK_ERR(execve(p, argv, environ), ENOENT);
  CHECK_ERR(execve(dir, argv, environ), EACCES);
  snprintf(p, sizeof(p), "%s/noexec", dir);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, "\x01\x02garbage", 9), 9);
  close(fd);
  CHECK_ERR(execve(p, argv, environ), EACCES);
  /* Executable but no known format: the kernel says ENOEXEC. */
  CHECK_SYS(chmod(p, 0755));
  CHECK_ERR(execve(p, argv, environ), ENOEXEC);
}

int main(int argc, char **argv) {
  self = argv[0];
  if (argc >= 2) {
    if (!strcmp(argv[1], "args")) return child_args(argc, argv);
    if (!strcmp(argv[1], "fds") && argc == 4) return child_fds(argv);
    if (!strcmp(argv[1], "pid") && argc == 4) return child_pid(argv);
    if (!strcmp(argv[1], "signals")) return child_signals();
    return 90;
  }
  test_init();
  CHECK(strchr(self, '/') != NULL);
  dir = test_tmpdir();
  RUN(args_and_env);
  RUN(cloexec_fds);
  RUN(keeps_pid);
  RUN(thread_exec);
  RUN(signal_state);
  RUN(execveat_fd);
  RUN(errors);
  test_rmdir(dir);
  return 0;
}
