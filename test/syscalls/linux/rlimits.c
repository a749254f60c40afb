/*
 * rlimits: getrlimit, setrlimit and prlimit64.
 * Checks that limits read back as set, that a soft limit above the hard
 * one is EINVAL, that raising a hard limit needs CAP_SYS_RESOURCE, that
 * RLIMIT_NOFILE's hard limit is bounded by nr_open, that limits are
 * inherited across fork, that prlimit64 reads and writes another
 * process, and that RLIMIT_NOFILE bounds new descriptors.
 */
#include "test.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long prlimit_raw(pid_t pid, int res, const struct rlimit *n, struct rlimit *o) {
  return syscall(SYS_prlimit64, pid, res, n, o);
}

static void wait_ok(pid_t pid) {
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
}

static void basics(void) {
  struct rlimit r;
  CHECK_SYS(getrlimit(RLIMIT_STACK, &r));
  CHECK(r.rlim_cur <= r.rlim_max);
  CHECK_SYS(getrlimit(RLIMIT_NOFILE, &r));
  CHECK(r.rlim_cur > 0 && r.rlim_cur <= r.rlim_max);
  CHECK_ERR(syscall(SYS_getrlimit, RLIM_NLIMITS, &r), EINVAL);
  CHECK_ERR(syscall(SYS_getrlimit, RLIMIT_CORE, (void *)8), EFAULT);
  CHECK_ERR(prlimit_raw(0, 99, NULL, &r), EINVAL);
  /* Both pointers NULL is a valid no-op. */
  CHECK_SYS(prlimit_raw(0, RLIMIT_CORE, NULL, NULL));
}

static void set_and_inherit_child(void) {
  struct rlimit r = {1000, 2000}, g;
  CHECK_SYS(setrlimit(RLIMIT_CORE, &r));
  CHECK_SYS(getrlimit(RLIMIT_CORE, &g));
  CHECK(g.rlim_cur == 1000 && g.rlim_max == 2000);
  /* Soft above hard. */
  struct rlimit bad = {3000, 2000};
  CHECK_ERR(setrlimit(RLIMIT_CORE, &bad), EINVAL);
  /* prlimit64 returns the old value while setting the new one. */
  struct rlimit n = {500, 1500}, o;
  CHECK_SYS(prlimit_raw(0, RLIMIT_CORE, &n, &o));
  CHECK(o.rlim_cur == 1000 && o.rlim_max == 2000);
  /* A forked child inherits the limits. */
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    struct rlimit c;
    _exit(getrlimit(RLIMIT_CORE, &c) == 0 && c.rlim_cur == 500 && c.rlim_max == 1500 ? 0 : 1);
  }
  wait_ok(pid);
  /* nr_open bounds RLIMIT_NOFILE even for root. */
  struct rlimit huge = {1024, 1ULL << 40};
  CHECK_ERR(setrlimit(RLIMIT_NOFILE, &huge), EPERM);
  /* Without CAP_SYS_RESOURCE a hard limit can be lowered, not raised. */
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  CHECK_SYS(syscall(SYS_capget, &h, d));
  d[0].effective &= ~(1u << CAP_SYS_RESOURCE);
  CHECK_SYS(syscall(SYS_capset, &h, d));
  struct rlimit lower = {100, 1000};
  CHECK_SYS(setrlimit(RLIMIT_CORE, &lower));
  struct rlimit raise = {100, 1001};
  CHECK_ERR(setrlimit(RLIMIT_CORE, &raise), EPERM);
  /* The soft limit may move freely below the hard one. */
  struct rlimit soft = {1000, 1000};
  CHECK_SYS(setrlimit(RLIMIT_CORE, &soft));
}

static void set_and_inherit(void) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    set_and_inherit_child();
    _exit(0);
  }
  wait_ok(pid);
}

static void other_process(void) {
  int p[2], q[2];
  CHECK_SYS(pipe(p));
  CHECK_SYS(pipe(q));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    char c;
    /* Wait for the parent to change our limit, then report it. */
    if (read(p[0], &c, 1) != 1) _exit(2);
    struct rlimit r;
    getrlimit(RLIMIT_CORE, &r);
    _exit(r.rlim_cur == 4096 && r.rlim_max == 8192 ? 0 : 1);
  }
  struct rlimit n = {4096, 8192}, o;
  CHECK_SYS(prlimit_raw(pid, RLIMIT_CORE, &n, &o));
  CHECK_SYS(prlimit_raw(pid, RLIMIT_CORE, NULL, &o));
  CHECK(o.rlim_cur == 4096 && o.rlim_max == 8192);
  CHECK_EQ(write(p[1], "x", 1), 1);
  wait_ok(pid);
  CHECK_ERR(prlimit_raw(0x3fffffff, RLIMIT_CORE, NULL, &o), ESRCH);
  close(p[0]);
  close(p[1]);
  close(q[0]);
  close(q[1]);
}

static void nofile_enforced(void) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    struct rlimit r = {16, 16};
    if (setrlimit(RLIMIT_NOFILE, &r) != 0) _exit(2);
    /* dup2 to a descriptor at or above the limit is EBADF; plain dup
     * runs out with EMFILE. */
    if (dup2(0, 16) != -1 || errno != EBADF) _exit(3);
    for (int i = 0; i < 20; i++) {
      int fd = dup(0);
      if (fd < 0) _exit(errno == EMFILE ? 0 : 4);
      if (fd >= 16) _exit(5);
    }
    _exit(6);
  }
  wait_ok(pid);
}

int main(void) {
  test_init();
  if (geteuid() != 0) {
    printf("SKIP: needs root\n");
    return 1;
  }
  RUN(basics);
  RUN(set_and_inherit);
  RUN(other_process);
  RUN(nofile_enforced);
  return 0;
}
