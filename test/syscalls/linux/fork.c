/*
 * fork: fork, vfork and clone-as-fork.
 * Checks return values in parent and child, parent/child pid relations,
 * copy-on-write memory, shared file offsets through inherited fds, that
 * vfork borrows the parent's memory and suspends it, that pending signals
 * are not inherited, and that many children can be created and reaped.
 */
#include "test.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static char *dir;

static int wait_exit(pid_t pid) {
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  return WEXITSTATUS(st);
}

static void ids(void) {
  pid_t parent = getpid();
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    pid_t me = getpid();
    int ok = getppid() == parent && me != parent && syscall(SYS_gettid) == me;
    write(p[1], &me, sizeof(me));
    _exit(ok ? 0 : 3);
  }
  CHECK(pid > 0 && pid != parent);
  pid_t reported;
  CHECK_EQ(read(p[0], &reported, sizeof(reported)), sizeof(reported));
  CHECK_EQ(reported, pid);
  CHECK_EQ(wait_exit(pid), 0);
  close(p[0]);
  close(p[1]);
}

static void cow_memory(void) {
  static int global = 1;
  int local = 2;
  int *heap = malloc(sizeof(int));
  *heap = 3;
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    int ok = global == 1 && local == 2 && *heap == 3;
    global = local = *heap = 99;
    _exit(ok ? 0 : 4);
  }
  CHECK_EQ(wait_exit(pid), 0);
  CHECK_EQ(global, 1);
  CHECK_EQ(local, 2);
  CHECK_EQ(*heap, 3);
  free(heap);
}

static void shared_offset(void) {
  char path[256];
  snprintf(path, sizeof(path), "%s/off", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, "parent", 6), 6);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* The open file description, and so its offset, is shared. */
    _exit(write(fd, "child", 5) == 5 ? 0 : 5);
  }
  CHECK_EQ(wait_exit(pid), 0);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 11);
  char buf[16] = {0};
  CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 11);
  CHECK(strcmp(buf, "parentchild") == 0);
  close(fd);
}

static void vfork_shares(void) {
  volatile int shared = 0;
  pid_t pid = vfork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* The parent is suspended until we _exit, and sees this store. */
    shared = 1;
    _exit(6);
  }
  CHECK_EQ(shared, 1);
  CHECK_EQ(wait_exit(pid), 6);
}

static void clone_as_fork(void) {
  /* clone with only an exit signal is a plain fork. */
  long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  CHECK(pid >= 0);
  if (pid == 0) _exit(getppid() > 0 ? 7 : 0);
  CHECK_EQ(wait_exit(pid), 7);
}

static void pending_not_inherited(void) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, &old));
  CHECK_SYS(raise(SIGUSR1));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    sigset_t pend, mask;
    sigpending(&pend);
    sigprocmask(SIG_BLOCK, NULL, &mask);
    /* The mask is inherited; the pending set starts empty. */
    _exit(!sigismember(&pend, SIGUSR1) && sigismember(&mask, SIGUSR1) ? 0 : 8);
  }
  CHECK_EQ(wait_exit(pid), 0);
  sigset_t pend;
  CHECK_SYS(sigpending(&pend));
  CHECK(sigismember(&pend, SIGUSR1));
  int sig;
  CHECK_EQ(sigwait(&set, &sig), 0);
  CHECK_EQ(sig, SIGUSR1);
  CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
}

static void many_children(void) {
  enum { N = 64 };
  pid_t pids[N];
  for (int i = 0; i < N; i++) {
    pids[i] = fork();
    CHECK(pids[i] >= 0);
    if (pids[i] == 0) _exit(i);
  }
  /* Reap in reverse order to avoid depending on exit order. */
  for (int i = N - 1; i >= 0; i--) CHECK_EQ(wait_exit(pids[i]), i);
  CHECK_ERR(wait(NULL), ECHILD);
}

int main(void) {
  test_init();
  dir = test_tmpdir();
  RUN(ids);
  RUN(cow_memory);
  RUN(shared_offset);
  RUN(vfork_shares);
  RUN(clone_as_fork);
  RUN(pending_not_inherited);
  RUN(many_children);
  test_rmdir(dir);
  return 0;
}
