/*
 * process: clone3's argument checks, waitid's siginfo and wait4's rusage
 * and option checks, sessions and process groups, prctl and arch_prctl,
 * the robust-list and set_tid_address calls, and execve/execveat argument
 * rules.
 */
#include "test.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#if defined(__x86_64__)
#include <asm/prctl.h>
#endif

#ifndef CLONE_ARGS_SIZE_VER0
#define CLONE_ARGS_SIZE_VER0 64
#endif

static long raw_clone3(void *args, size_t size) {
  return syscall(SYS_clone3, args, size);
}

static void clone3_checks(void) {
  /* Room for a struct larger than the kernel's, to test trailing bytes. */
  uint64_t buf[64];
  memset(buf, 0, sizeof(buf));
  struct clone_args *ca = (struct clone_args *)buf;
  ca->exit_signal = SIGCHLD;
  CHECK_ERR(raw_clone3(ca, CLONE_ARGS_SIZE_VER0 - 8), EINVAL);
  CHECK_ERR(raw_clone3(ca, 0), EINVAL);
  CHECK_ERR(raw_clone3(ca, 4097), E2BIG);
  /* Unknown trailing bytes must be zero... */
  buf[20] = 1;
  CHECK_ERR(raw_clone3(ca, 21 * 8), E2BIG);
  buf[20] = 0;
  CHECK_ERR(raw_clone3((void *)8, CLONE_ARGS_SIZE_VER0), EFAULT);
  /* ...and argument combinations are checked. */
  ca->exit_signal = 1ULL << 32;
  CHECK_ERR(raw_clone3(ca, CLONE_ARGS_SIZE_VER0), EINVAL);
  ca->exit_signal = 65;
  CHECK_ERR(raw_clone3(ca, CLONE_ARGS_SIZE_VER0), EINVAL);
  ca->exit_signal = SIGCHLD;
  ca->flags = SIGCHLD; /* CSIGNAL bits belong in exit_signal */
  CHECK_ERR(raw_clone3(ca, CLONE_ARGS_SIZE_VER0), EINVAL);
  ca->flags = 0;
  ca->stack = 0x10000;
  CHECK_ERR(raw_clone3(ca, CLONE_ARGS_SIZE_VER0), EINVAL);
  ca->stack = 0;
  ca->stack_size = 0x1000;
  CHECK_ERR(raw_clone3(ca, CLONE_ARGS_SIZE_VER0), EINVAL);
  ca->stack_size = 0;
  ca->flags = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
  CHECK_ERR(raw_clone3(ca, CLONE_ARGS_SIZE_VER0), EINVAL);
  ca->flags = 0;

  /* A valid call behaves like fork, with exit_signal reported to wait. A
   * larger struct with zero trailing bytes is accepted. */
  long pid = raw_clone3(ca, sizeof(buf) / 2);
  CHECK_SYS(pid);
  if (pid == 0) _exit(9);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 9);

  /* exit_signal 0: the child is a "clone" child, found only with
   * __WCLONE or __WALL. */
  ca->exit_signal = 0;
  pid = raw_clone3(ca, CLONE_ARGS_SIZE_VER0);
  CHECK_SYS(pid);
  if (pid == 0) _exit(3);
  CHECK_ERR(waitpid(pid, &st, 0), ECHILD);
  CHECK_EQ(waitpid(pid, &st, __WALL), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
}

static void waitid_fields(void) {
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    pause();
    _exit(0);
  }
  siginfo_t si;
  /* WNOHANG with nothing ready zeroes signo, code, pid, uid and status. */
  memset(&si, 0x55, sizeof(si));
  CHECK_SYS(waitid(P_PID, pid, &si, WEXITED | WNOHANG));
  CHECK_EQ(si.si_signo, 0);
  CHECK_EQ(si.si_code, 0);
  CHECK_EQ(si.si_pid, 0);
  CHECK_EQ(si.si_uid, 0);
  CHECK_EQ(si.si_status, 0);
  CHECK_SYS(kill(pid, SIGTERM));
  memset(&si, 0, sizeof(si));
  CHECK_SYS(waitid(P_ALL, 0, &si, WEXITED));
  CHECK_EQ(si.si_signo, SIGCHLD);
  CHECK_EQ(si.si_code, CLD_KILLED);
  CHECK_EQ(si.si_pid, pid);
  CHECK_EQ(si.si_uid, getuid());
  CHECK_EQ(si.si_status, SIGTERM);

  /* Selection by process group. */
  pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    setpgid(0, 0);
    _exit(5);
  }
  /* Make sure the child's setpgid happened: set it from here too. */
  setpgid(pid, pid);
  struct rusage ru;
  memset(&ru, 0xff, sizeof(ru));
  memset(&si, 0, sizeof(si));
  CHECK_SYS(syscall(SYS_waitid, P_PGID, pid, &si, WEXITED, &ru));
  CHECK_EQ(si.si_pid, pid);
  CHECK_EQ(si.si_code, CLD_EXITED);
  CHECK_EQ(si.si_status, 5);
  CHECK(ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000);
  CHECK(ru.ru_stime.tv_sec >= 0);

  /* Argument errors. */
  CHECK_ERR(waitid(P_PID, 0, &si, WEXITED), EINVAL);
  CHECK_ERR(waitid(P_PGID, -1, &si, WEXITED), EINVAL);
  CHECK_ERR(waitid(7, 0, &si, WEXITED), EINVAL);
  CHECK_ERR(waitid(P_ALL, 0, &si, WEXITED | 0x100), EINVAL);
  CHECK_ERR(waitid(P_ALL, 0, &si, WNOHANG), EINVAL);
  CHECK_ERR(waitid(P_ALL, 0, &si, WEXITED), ECHILD);
}

static void wait4_rusage_and_options(void) {
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    /* Burn a little CPU so there is something to account. */
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 20000000UL; i++) x += i;
    _exit(0);
  }
  struct rusage ru;
  memset(&ru, 0xff, sizeof(ru));
  int st;
  CHECK_EQ(wait4(pid, &st, 0, &ru), pid);
  CHECK(WIFEXITED(st));
  CHECK(ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 &&
        ru.ru_utime.tv_usec < 1000000);
  CHECK(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
            ru.ru_utime.tv_usec + ru.ru_stime.tv_usec > 0);
  CHECK_ERR(wait4(-1, &st, 0x100, NULL), EINVAL);
  CHECK_ERR(wait4(-1, &st, WEXITED, NULL), EINVAL); /* waitid-only option */
  CHECK_ERR(wait4(-1, &st, 0, NULL), ECHILD);
  CHECK_ERR(wait4(-2147483647 - 1, &st, 0, NULL), ESRCH);
  /* A process group with no children of ours. */
  CHECK_ERR(wait4(-getpgrp(), &st, WNOHANG, NULL), ECHILD);
}

static void sessions(void) {
  /* The test may or may not lead a session; a fresh child never does. */
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    pid_t me = getpid();
    if (getsid(0) == me) _exit(10);
    if (setsid() != me) _exit(11);
    if (getsid(0) != me || getpgrp() != me || getpgid(0) != me) _exit(12);
    /* A session leader can start neither a session nor a new group. */
    if (setsid() != -1 || errno != EPERM) _exit(13);
    if (setpgid(0, 0) != -1 || errno != EPERM) _exit(14);
    /* Its child is in its session and group, and may move groups, but
     * not into a group of another session. */
    pid_t c = fork();
    if (c == 0) {
      char r;
      read(p[0], &r, 1);
      _exit(0);
    }
    if (getsid(c) != me || getpgid(c) != me) _exit(15);
    if (setpgid(c, c) != 0 || getpgid(c) != c) _exit(16);
    if (setpgid(c, getppid()) != -1 || errno != EPERM) _exit(17);
    if (setpgid(c, -1) != -1 || errno != EINVAL) _exit(18);
    if (setpgid(getppid(), 0) != -1 || errno != ESRCH) _exit(19);
    /* A process group that does not exist cannot be joined. */
    if (setpgid(c, 0x3ffffff) != -1 || errno != EPERM) _exit(20);
    write(p[1], "x", 1);
    waitpid(c, NULL, 0);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  CHECK_ERR(getsid(0x3ffffff), ESRCH);
  CHECK_ERR(getpgid(0x3ffffff), ESRCH);
  CHECK_ERR(setpgid(0x3ffffff, 0), ESRCH);
  CHECK_EQ(getpgid(0), getpgrp());
  /* getpgid and getsid accept a thread's ID as well. */
  CHECK_EQ(getpgid(syscall(SYS_gettid)), getpgrp());
  close(p[0]);
  close(p[1]);
}

static void prctl_options(void) {
  char name[32];
  CHECK_SYS(prctl(PR_SET_NAME, "a-rather-long-name-here"));
  memset(name, 'x', sizeof(name));
  CHECK_SYS(prctl(PR_GET_NAME, name));
  CHECK(strcmp(name, "a-rather-long-n") == 0);
  CHECK_ERR(prctl(PR_SET_NAME, (void *)8), EFAULT);
  /* A child inherits the name. */
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    char n[16];
    prctl(PR_GET_NAME, n);
    _exit(strcmp(n, "a-rather-long-n") == 0 ? 0 : 1);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_SYS(prctl(PR_SET_NAME, "process"));

  int sig = -1;
  CHECK_SYS(prctl(PR_SET_PDEATHSIG, SIGUSR2));
  CHECK_SYS(prctl(PR_GET_PDEATHSIG, &sig));
  CHECK_EQ(sig, SIGUSR2);
  CHECK_ERR(prctl(PR_SET_PDEATHSIG, 65), EINVAL);
  CHECK_SYS(prctl(PR_SET_PDEATHSIG, 0));

  CHECK_EQ(prctl(PR_GET_DUMPABLE), 1);
  CHECK_SYS(prctl(PR_SET_DUMPABLE, 0));
  CHECK_EQ(prctl(PR_GET_DUMPABLE), 0);
  CHECK_ERR(prctl(PR_SET_DUMPABLE, 2), EINVAL);
  CHECK_SYS(prctl(PR_SET_DUMPABLE, 1));

  int sub = -1;
  CHECK_SYS(prctl(PR_GET_CHILD_SUBREAPER, &sub));
  CHECK_EQ(sub, 0);
  CHECK_SYS(prctl(PR_SET_CHILD_SUBREAPER, 1));
  CHECK_SYS(prctl(PR_GET_CHILD_SUBREAPER, &sub));
  CHECK_EQ(sub, 1);
  CHECK_SYS(prctl(PR_SET_CHILD_SUBREAPER, 0));

  CHECK_ERR(prctl(PR_CAPBSET_READ, 1000), EINVAL);
  CHECK(prctl(PR_CAPBSET_READ, 0) >= 0);
  CHECK(prctl(PR_GET_SECUREBITS) >= 0);
  CHECK_ERR(prctl(0x7fff0000), EINVAL);

  /* no_new_privs is one-way and inherited; try it in a child. */
  pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0) _exit(1);
    if (prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0) != -1 || errno != EINVAL) _exit(2);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0) != -1 || errno != EINVAL) _exit(3);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(4);
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) _exit(5);
    if (prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0) != -1 || errno != EINVAL) _exit(6);
    pid_t g = fork();
    if (g == 0) _exit(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 7);
    int gst;
    waitpid(g, &gst, 0);
    _exit(WIFEXITED(gst) ? WEXITSTATUS(gst) : 8);
  }
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
}

static void arch_prctl_codes(void) {
#if defined(__x86_64__)
  unsigned long fs = 0, gs = 1;
  CHECK_SYS(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs));
  /* glibc keeps the thread pointer at the TCB, which points to itself. */
  CHECK(fs != 0);
  CHECK_EQ(*(unsigned long *)fs, fs);
  CHECK_SYS(syscall(SYS_arch_prctl, ARCH_GET_GS, &gs));
  CHECK_EQ(gs, 0);
  static unsigned long gsdata[4] = {0x1234};
  CHECK_SYS(syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)gsdata));
  CHECK_SYS(syscall(SYS_arch_prctl, ARCH_GET_GS, &gs));
  CHECK_EQ(gs, (unsigned long)gsdata);
  unsigned long v;
  __asm__ volatile("mov %%gs:0, %0" : "=r"(v));
  CHECK_EQ(v, 0x1234);
  CHECK_SYS(syscall(SYS_arch_prctl, ARCH_SET_GS, 0));
  CHECK_ERR(syscall(SYS_arch_prctl, ARCH_SET_FS, 1UL << 60), EPERM);
  CHECK_ERR(syscall(SYS_arch_prctl, ARCH_SET_GS, 1UL << 60), EPERM);
  CHECK_ERR(syscall(SYS_arch_prctl, ARCH_GET_FS, (void *)8), EFAULT);
  CHECK_ERR(syscall(SYS_arch_prctl, 0x9999, 0), EINVAL);
  CHECK_EQ(syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0), 1);
#endif
}

static void tid_address_and_robust_list(void) {
  pid_t tid = syscall(SYS_gettid);
  static int word;
  CHECK_EQ(syscall(SYS_set_tid_address, &word), tid);
  struct {
    void *next;
    long offset;
    void *pending;
  } head = {&head, 0, NULL};
  CHECK_ERR(syscall(SYS_set_robust_list, &head, sizeof(head) - 1), EINVAL);
  CHECK_SYS(syscall(SYS_set_robust_list, &head, sizeof(head)));
  void *got = NULL;
  size_t len = 0;
  CHECK_SYS(syscall(SYS_get_robust_list, 0, &got, &len));
  CHECK(got == &head);
  CHECK_EQ(len, sizeof(head));
  CHECK_ERR(syscall(SYS_get_robust_list, 0x3ffffff, &got, &len), ESRCH);
  CHECK_ERR(syscall(SYS_get_robust_list, 0, (void *)8, &len), EFAULT);
  /* The registration is not inherited: a child made by a raw clone (glibc's
   * fork wrapper would register its own list again) has none. */
  long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  CHECK_SYS(pid);
  if (pid == 0) {
    void *g = (void *)1;
    size_t l = 0;
    if (syscall(SYS_get_robust_list, 0, &g, &l) != 0) _exit(1);
    _exit(g == NULL && l == sizeof(head) ? 0 : 2);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
}

static void exec_args(void) {
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    char *env[] = {NULL};
    /* A string longer than MAX_ARG_STRLEN (32 pages) is E2BIG. */
    size_t n = 32 * 4096 + 1;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = 0;
    char *argv[] = {"true", big, NULL};
    if (execve("/bin/true", argv, env) != -1 || errno != E2BIG) _exit(1);
    big[n - 1] = 0; /* exactly MAX_ARG_STRLEN with its NUL: allowed */
    char *bad[] = {"true", (char *)8, NULL};
    if (execve("/bin/true", bad, env) != -1 || errno != EFAULT) _exit(2);
    if (syscall(SYS_execve, "/bin/true", (char **)8, env) != -1 || errno != EFAULT) _exit(3);
    if (execve("", argv, env) != -1 || errno != ENOENT) _exit(4);
    if (syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, env, 0x4) != -1 ||
        errno != EINVAL)
      _exit(5);
    if (syscall(SYS_execveat, AT_FDCWD, "", argv, env, 0) != -1 ||
        errno != ENOENT)
      _exit(6);
    if (syscall(SYS_execveat, 12345, "", argv, env, AT_EMPTY_PATH) != -1 ||
        errno != EBADF)
      _exit(7);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);

  /* execveat on an fd with AT_EMPTY_PATH, and relative to a dirfd; a
   * symlink with AT_SYMLINK_NOFOLLOW is ELOOP. */
  char *dir = test_tmpdir();
  char link[128];
  snprintf(link, sizeof(link), "%s/t", dir);
  CHECK_SYS(symlink("/bin/true", link));
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK_SYS(dfd);
  int bfd = open("/bin", O_RDONLY | O_DIRECTORY);
  CHECK_SYS(bfd);
  int tfd = open("/bin/true", O_RDONLY);
  CHECK_SYS(tfd);
  for (int mode = 0; mode < 3; mode++) {
    pid = fork();
    CHECK_SYS(pid);
    if (pid == 0) {
      char *argv[] = {"true", NULL};
      char *env[] = {NULL};
      if (mode == 0) syscall(SYS_execveat, tfd, "", argv, env, AT_EMPTY_PATH);
      if (mode == 1) syscall(SYS_execveat, bfd, "true", argv, env, 0);
      if (mode == 2) {
        if (syscall(SYS_execveat, dfd, "t", argv, env, AT_SYMLINK_NOFOLLOW) !=
                -1 ||
            errno != ELOOP)
          _exit(20);
        syscall(SYS_execveat, dfd, "t", argv, env, 0);
      }
      _exit(30 + mode);
    }
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
  }
  close(dfd);
  close(bfd);
  close(tfd);
  test_rmdir(dir);
}

int main(void) {
  test_init();
  RUN(clone3_checks);
  RUN(waitid_fields);
  RUN(wait4_rusage_and_options);
  RUN(sessions);
  RUN(prctl_options);
  RUN(arch_prctl_codes);
  RUN(tid_address_and_robust_list);
  RUN(exec_args);
  return 0;
}
