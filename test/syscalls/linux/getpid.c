/*
 * getpid: process and credential identity calls.
 * Checks getpid/gettid/getppid (libc and raw), that a thread has its own tid
 * but the process's pid, that getpgid/getsid/setpgid/setsid follow their
 * rules, and that getuid/geteuid/getresuid and the gid versions agree with
 * each other and with /proc/self/status.
 */
#include "test.h"

#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static void pids(void) {
  pid_t pid = getpid();
  CHECK(pid > 0);
  CHECK_EQ(syscall(SYS_getpid), pid);
  /* The main thread's tid is the pid. */
  CHECK_EQ(syscall(SYS_gettid), pid);
  CHECK_EQ(gettid(), pid);
  /* A PID namespace's init (the sandbox's first process) has no parent in
   * its namespace: getppid() is 0 there, as in any container. */
  if (pid == 1) {
    CHECK_EQ(getppid(), 0);
  } else {
    CHECK(getppid() > 0);
    CHECK(getppid() != pid);
  }
  CHECK_EQ(syscall(SYS_getppid), getppid());
}

static void *thread_ids(void *arg) {
  long *out = arg;
  out[0] = syscall(SYS_getpid);
  out[1] = syscall(SYS_gettid);
  out[2] = syscall(SYS_getppid);
  return NULL;
}

static void threads(void) {
  long ids[3];
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, thread_ids, ids), 0);
  CHECK_EQ(pthread_join(t, NULL), 0);
  CHECK_EQ(ids[0], getpid());
  CHECK(ids[1] != getpid() && ids[1] > 0);
  CHECK_EQ(ids[2], getppid());
}

static void groups_and_sessions(void) {
  CHECK_EQ(getpgid(0), getpgrp());
  CHECK_EQ(getpgid(getpid()), getpgrp());
  CHECK_EQ(getsid(0), getsid(getpid()));
  CHECK_ERR(getpgid(-1), ESRCH);
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    /* A new process group, then a new session: the child leads both. */
    int ok = setpgid(0, 0) == 0 && getpgrp() == getpid();
    /* A group leader cannot start a session. */
    ok = ok && setsid() == -1 && errno == EPERM;
    pid_t inner = fork();
    if (inner == 0) {
      pid_t sid = setsid();
      _exit(sid == getpid() && getsid(0) == getpid() && getpgrp() == getpid()
                ? 0
                : 1);
    }
    int st;
    ok = ok && waitpid(inner, &st, 0) == inner && WIFEXITED(st) &&
         WEXITSTATUS(st) == 0;
    char c = 0;
    write(p[1], &c, 1);
    _exit(ok ? 0 : 2);
  }
  close(p[1]);
  char c;
  CHECK_EQ(read(p[0], &c, 1), 1);
  /* The child made itself a group leader, still in our session. */
  CHECK_EQ(getpgid(pid), pid);
  CHECK_EQ(getsid(pid), getsid(0));
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  close(p[0]);
  CHECK_ERR(setpgid(0, -1), EINVAL);
}

/* status_ids reads the four numbers on the "Uid:" or "Gid:" line. */
static void status_ids(const char *key, long out[4]) {
  int fd = open("/proc/self/status", O_RDONLY);
  CHECK(fd >= 0);
  static char buf[8192];
  long n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  CHECK(n > 0);
  buf[n] = 0;
  char *line = strstr(buf, key);
  CHECK(line != NULL);
  CHECK_EQ(sscanf(line + strlen(key), "%ld %ld %ld %ld", &out[0], &out[1],
                  &out[2], &out[3]),
           4);
}

static void credentials(void) {
  uid_t r, e, s;
  CHECK_SYS(getresuid(&r, &e, &s));
  CHECK_EQ(r, getuid());
  CHECK_EQ(e, geteuid());
  CHECK_EQ(syscall(SYS_getuid), getuid());
  long st[4];
  status_ids("\nUid:", st);
  CHECK_EQ(st[0], r);
  CHECK_EQ(st[1], e);
  CHECK_EQ(st[2], s);
  gid_t gr, ge, gs;
  CHECK_SYS(getresgid(&gr, &ge, &gs));
  CHECK_EQ(gr, getgid());
  CHECK_EQ(ge, getegid());
  status_ids("\nGid:", st);
  CHECK_EQ(st[0], gr);
  CHECK_EQ(st[1], ge);
  CHECK_EQ(st[2], gs);
  int n = getgroups(0, NULL);
  CHECK(n >= 0);
  gid_t *g = calloc(n + 1, sizeof(gid_t));
  CHECK_EQ(getgroups(n + 1, g), n);
  /* A non-zero size that is too small is an error. */
  if (n > 1) CHECK_ERR(getgroups(n - 1, g), EINVAL);
  free(g);
}

int main(void) {
  test_init();
  RUN(pids);
  RUN(threads);
  RUN(groups_and_sessions);
  RUN(credentials);
  return 0;
}
