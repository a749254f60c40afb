/*
 * credentials: set*id transitions, setfsuid/setfsgid, setgroups/getgroups,
 * capget/capset, getpriority/setpriority.
 * Runs as root; every change happens in a forked child so the parent keeps
 * its identity. Checks the POSIX rules for unprivileged changes, and the
 * capability changes Linux applies when user IDs leave or return to 0.
 */
#include "test.h"

#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* in_child runs fn in a forked child and checks that it exited 0. */
static void in_child(void (*fn)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
}

struct caps {
  unsigned long long eff, prm, inh;
};

static struct caps get_caps(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof(d));
  CHECK_SYS(syscall(SYS_capget, &h, d));
  struct caps c;
  c.eff = d[0].effective | (unsigned long long)d[1].effective << 32;
  c.prm = d[0].permitted | (unsigned long long)d[1].permitted << 32;
  c.inh = d[0].inheritable | (unsigned long long)d[1].inheritable << 32;
  return c;
}

static long set_caps(struct caps c) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  d[0].effective = (unsigned)c.eff;
  d[1].effective = (unsigned)(c.eff >> 32);
  d[0].permitted = (unsigned)c.prm;
  d[1].permitted = (unsigned)(c.prm >> 32);
  d[0].inheritable = (unsigned)c.inh;
  d[1].inheritable = (unsigned)(c.inh >> 32);
  return syscall(SYS_capset, &h, d);
}

#define BIT(c) (1ULL << (c))

static void check_resuid(uid_t r, uid_t e, uid_t s) {
  uid_t gr, ge, gs;
  CHECK_SYS(getresuid(&gr, &ge, &gs));
  CHECK_EQ(gr, r);
  CHECK_EQ(ge, e);
  CHECK_EQ(gs, s);
}

static void resuid_child(void) {
  check_resuid(0, 0, 0);
  /* Root may set anything; dropping only the effective UID keeps the
   * permitted set but empties the effective one. */
  CHECK_SYS(setresuid(-1, 1000, -1));
  check_resuid(0, 1000, 0);
  struct caps c = get_caps();
  CHECK_EQ(c.eff, 0);
  CHECK(c.prm & BIT(CAP_SETUID));
  /* Returning to euid 0 restores the effective set from the permitted. */
  CHECK_SYS(setresuid(-1, 0, -1));
  c = get_caps();
  CHECK_EQ(c.eff, c.prm);
  /* Now all three non-zero: permitted and effective are cleared. */
  CHECK_SYS(setresuid(1000, 1001, 1002));
  check_resuid(1000, 1001, 1002);
  c = get_caps();
  CHECK_EQ(c.eff, 0);
  CHECK_EQ(c.prm, 0);
  /* Unprivileged: any permutation of the current IDs is fine... */
  CHECK_SYS(setresuid(1002, 1000, 1001));
  check_resuid(1002, 1000, 1001);
  CHECK_SYS(setresuid(-1, -1, -1));
  check_resuid(1002, 1000, 1001);
  /* ...but nothing else. */
  CHECK_ERR(setresuid(-1, 5, -1), EPERM);
  CHECK_ERR(setresuid(0, -1, -1), EPERM);
  check_resuid(1002, 1000, 1001);
  /* setuid without CAP_SETUID sets only the effective UID, to the real
   * or saved one. */
  CHECK_SYS(setuid(1001));
  check_resuid(1002, 1001, 1001);
  CHECK_ERR(setuid(0), EPERM);
  CHECK_ERR(setuid(7), EPERM);
  CHECK_EQ(getuid(), 1002);
  CHECK_EQ(geteuid(), 1001);
  CHECK_EQ(syscall(SYS_getuid), 1002);
}

static void setuid_root_child(void) {
  /* setuid as root changes all three IDs and drops every capability. */
  CHECK_SYS(setuid(2000));
  check_resuid(2000, 2000, 2000);
  struct caps c = get_caps();
  CHECK_EQ(c.prm, 0);
  CHECK_EQ(c.eff, 0);
  CHECK_ERR(setuid(0), EPERM);
  /* (uid_t)-1 is never a valid target. */
  CHECK_ERR(setuid(-1), EINVAL);
}

static void reuid_child(void) {
  CHECK_SYS(setresuid(100, 200, 300));
  /* setreuid: the saved UID follows the new effective one when the real
   * UID is set. */
  CHECK_SYS(setreuid(200, 100));
  check_resuid(200, 100, 100);
  /* Swapping back. */
  CHECK_SYS(setreuid(100, 200));
  check_resuid(100, 200, 200);
  /* Effective to the real UID with the real one unchanged: saved stays. */
  CHECK_SYS(setreuid(-1, 100));
  check_resuid(100, 100, 200);
  CHECK_ERR(setreuid(-1, 999), EPERM);
  CHECK_ERR(setreuid(300, -1), EPERM);
}

static void keepcaps_child(void) {
  /* With PR_SET_KEEPCAPS the permitted set survives leaving uid 0; the
   * effective set is still cleared. */
  CHECK_SYS(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
  CHECK_SYS(setresuid(1000, 1000, 1000));
  struct caps c = get_caps();
  CHECK(c.prm & BIT(CAP_SETUID));
  CHECK_EQ(c.eff, 0);
  /* Raising it back into the effective set is allowed... */
  c.eff = BIT(CAP_SETUID);
  CHECK_SYS(set_caps(c));
  CHECK_SYS(setresuid(0, 0, 0));
  check_resuid(0, 0, 0);
}

static void gid_child(void) {
  gid_t r, e, s;
  CHECK_SYS(setresgid(10, 20, 30));
  CHECK_SYS(getresgid(&r, &e, &s));
  CHECK_EQ(r, 10);
  CHECK_EQ(e, 20);
  CHECK_EQ(s, 30);
  CHECK_EQ(getgid(), 10);
  CHECK_EQ(getegid(), 20);
  /* Root keeps CAP_SETGID, so setgid sets all three. */
  CHECK_SYS(setgid(40));
  CHECK_SYS(getresgid(&r, &e, &s));
  CHECK(r == 40 && e == 40 && s == 40);
  CHECK_SYS(setregid(41, 42));
  CHECK_SYS(getresgid(&r, &e, &s));
  CHECK(r == 41 && e == 42 && s == 42);
  /* Without CAP_SETGID only the current IDs are allowed. */
  CHECK_SYS(setresuid(1000, 1000, 1000));
  CHECK_ERR(setgid(7), EPERM);
  CHECK_ERR(setresgid(-1, 7, -1), EPERM);
  CHECK_SYS(setresgid(42, 41, -1));
  /* setgid needs the real or saved GID; the effective one is not enough. */
  CHECK_ERR(setgid(41), EPERM);
  CHECK_SYS(setgid(42));
  CHECK_SYS(getresgid(&r, &e, &s));
  CHECK(r == 42 && e == 42 && s == 42);
  gid_t g[1] = {5};
  CHECK_ERR(setgroups(1, g), EPERM);
}

static void fsuid_child(void) {
  /* setfsuid returns the previous value, and never fails. */
  CHECK_EQ(setfsuid(500), 0);
  CHECK_EQ(setfsuid(-1), 500);
  /* The filesystem capabilities leave with fsuid 0... */
  struct caps c = get_caps();
  CHECK(!(c.eff & BIT(CAP_DAC_OVERRIDE)));
  CHECK(!(c.eff & BIT(CAP_CHOWN)));
  CHECK(c.eff & BIT(CAP_SETUID));
  /* ...and come back with it. */
  CHECK_EQ(setfsuid(0), 500);
  c = get_caps();
  CHECK(c.eff & BIT(CAP_DAC_OVERRIDE));
  CHECK_EQ(setfsgid(77), 0);
  CHECK_EQ(setfsgid(-1), 77);
  /* Setting the effective UID resets the filesystem UID. */
  CHECK_SYS(setresuid(-1, 300, -1));
  CHECK_EQ(setfsuid(-1), 300);
  /* Unprivileged: a refused change still returns the old value. */
  CHECK_SYS(setresuid(300, 300, 300));
  CHECK_EQ(setfsuid(12345), 300);
  CHECK_EQ(setfsuid(-1), 300);
}

static void groups_child(void) {
  gid_t in[3] = {30, 10, 20};
  CHECK_SYS(setgroups(3, in));
  gid_t out[8];
  CHECK_EQ(getgroups(0, NULL), 3);
  CHECK_EQ(getgroups(8, out), 3);
  /* Linux keeps them sorted. */
  CHECK(out[0] == 10 && out[1] == 20 && out[2] == 30);
  CHECK_ERR(getgroups(2, out), EINVAL);
  CHECK_ERR(syscall(SYS_getgroups, -1, out), EINVAL);
  CHECK_ERR(syscall(SYS_setgroups, 65537, in), EINVAL);
  CHECK_ERR(syscall(SYS_setgroups, 2, (void *)8), EFAULT);
  CHECK_SYS(setgroups(0, NULL));
  CHECK_EQ(getgroups(0, NULL), 0);
}

static void capset_child(void) {
  struct caps c = get_caps();
  CHECK(c.prm & BIT(CAP_SYS_ADMIN));
  /* Drop CAP_SYS_ADMIN from effective only: allowed, and reversible. */
  struct caps n = c;
  n.eff &= ~BIT(CAP_SYS_ADMIN);
  CHECK_SYS(set_caps(n));
  CHECK_EQ(get_caps().eff, n.eff);
  CHECK_SYS(set_caps(c));
  /* Effective must stay within permitted. */
  n = c;
  n.prm &= ~BIT(CAP_NET_RAW);
  CHECK_ERR(set_caps(n), EPERM);
  n.eff &= ~BIT(CAP_NET_RAW);
  CHECK_SYS(set_caps(n));
  /* Permitted can never grow back. */
  CHECK_ERR(set_caps(c), EPERM);
  /* Only the calling thread may be changed. */
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, getppid()};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof(d));
  CHECK_ERR(syscall(SYS_capset, &h, d), EPERM);
}

static void capget_versions(void) {
  struct __user_cap_header_struct h = {0x12345678, 0};
  struct __user_cap_data_struct d[2];
  /* An unknown version is EINVAL, and the preferred one is written. */
  CHECK_ERR(syscall(SYS_capget, &h, d), EINVAL);
  CHECK_EQ(h.version, _LINUX_CAPABILITY_VERSION_3);
  /* With a NULL data pointer the probe succeeds. */
  h.version = 0;
  CHECK_EQ(syscall(SYS_capget, &h, NULL), 0);
  CHECK_EQ(h.version, _LINUX_CAPABILITY_VERSION_3);
  h.version = 0x12345678;
  CHECK_ERR(syscall(SYS_capset, &h, d), EINVAL);
  CHECK_EQ(h.version, _LINUX_CAPABILITY_VERSION_3);
  /* Version 1 fills one word. */
  struct __user_cap_header_struct h1 = {_LINUX_CAPABILITY_VERSION_1, 0};
  memset(d, 0xa5, sizeof(d));
  CHECK_SYS(syscall(SYS_capget, &h1, d));
  CHECK_EQ(d[0].effective & 1, 1);
  CHECK_EQ(d[1].effective, 0xa5a5a5a5);
  /* Another process's capabilities can be read. */
  struct __user_cap_header_struct hp = {_LINUX_CAPABILITY_VERSION_3, getpid()};
  CHECK_SYS(syscall(SYS_capget, &hp, d));
  hp.pid = -1;
  CHECK_ERR(syscall(SYS_capget, &hp, d), EINVAL);
  CHECK_ERR(syscall(SYS_capget, (void *)8, d), EFAULT);
}

static void priority_child(void) {
  CHECK_EQ(getpriority(PRIO_PROCESS, 0), 0);
  /* The raw syscall reports 20 - nice. */
  CHECK_EQ(syscall(SYS_getpriority, PRIO_PROCESS, 0), 20);
  CHECK_SYS(setpriority(PRIO_PROCESS, 0, 5));
  CHECK_EQ(getpriority(PRIO_PROCESS, 0), 5);
  CHECK_EQ(syscall(SYS_getpriority, PRIO_PROCESS, getpid()), 15);
  /* Out-of-range values are clamped. */
  CHECK_SYS(setpriority(PRIO_PROCESS, 0, 100));
  CHECK_EQ(getpriority(PRIO_PROCESS, 0), 19);
  CHECK_SYS(setpriority(PRIO_PROCESS, 0, -100));
  CHECK_EQ(getpriority(PRIO_PROCESS, 0), -20);
  CHECK_ERR(setpriority(42, 0, 0), EINVAL);
  CHECK_ERR(setpriority(PRIO_PROCESS, 0x3fffffff, 0), ESRCH);
  errno = 0;
  CHECK_EQ(getpriority(PRIO_PGRP, 0), -20);
  CHECK_EQ(errno, 0);
  /* Without CAP_SYS_NICE the nice value may only go up. */
  CHECK_SYS(setpriority(PRIO_PROCESS, 0, 3));
  CHECK_SYS(setresuid(1000, 1000, 1000));
  CHECK_SYS(setpriority(PRIO_PROCESS, 0, 4));
  CHECK_ERR(setpriority(PRIO_PROCESS, 0, 2), EACCES);
  CHECK_EQ(getpriority(PRIO_PROCESS, 0), 4);
  /* Another user's process is off limits. */
  CHECK_ERR(setpriority(PRIO_PROCESS, getppid(), 10), EPERM);
}

static void resuid(void) { in_child(resuid_child); }
static void setuid_root(void) { in_child(setuid_root_child); }
static void reuid(void) { in_child(reuid_child); }
static void keepcaps(void) { in_child(keepcaps_child); }
static void gids(void) { in_child(gid_child); }
static void fsuid(void) { in_child(fsuid_child); }
static void groups(void) { in_child(groups_child); }
static void capset_rules(void) { in_child(capset_child); }
static void priority(void) { in_child(priority_child); }

int main(void) {
  test_init();
  if (geteuid() != 0) {
    printf("SKIP: needs root\n");
    return 1;
  }
  RUN(resuid);
  RUN(setuid_root);
  RUN(reuid);
  RUN(keepcaps);
  RUN(gids);
  RUN(fsuid);
  RUN(groups);
  RUN(capset_rules);
  RUN(capget_versions);
  RUN(priority);
  return 0;
}
