/*
 * signal_calls: the argument rules of the rt_sig* calls, sigsuspend and
 * pause, rt_sigtimedwait waking on a signal from another process, kill to
 * process groups, and rt_sigqueueinfo's rule against forged siginfo.
 */
#include "test.h"

#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef SA_UNSUPPORTED
#define SA_UNSUPPORTED 0x00000400
#endif

/* The kernel's struct sigaction (not glibc's). */
struct ksigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
};

static volatile sig_atomic_t got_usr1, got_usr2;
static void on_usr1(int sig) { (void)sig; got_usr1++; }
static void on_usr2(int sig) { (void)sig; got_usr2++; }

static void set_handler(int sig, void (*fn)(int)) {
  struct sigaction sa = {0};
  sa.sa_handler = fn;
  CHECK_SYS(sigaction(sig, &sa, NULL));
}

static void block_only(int sig, sigset_t *old) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &s, old));
}

static void sigaction_args(void) {
  struct ksigaction ka = {0}, old;
  ka.handler = SIG_IGN;
  /* Only the kernel's 8-byte sigset_t is accepted. */
  CHECK_ERR(syscall(SYS_rt_sigaction, SIGUSR1, &ka, NULL, 4), EINVAL);
  CHECK_ERR(syscall(SYS_rt_sigaction, SIGUSR1, &ka, NULL, 16), EINVAL);
  CHECK_ERR(syscall(SYS_rt_sigaction, SIGKILL, &ka, NULL, 8), EINVAL);
  CHECK_ERR(syscall(SYS_rt_sigaction, SIGSTOP, &ka, NULL, 8), EINVAL);
  CHECK_ERR(syscall(SYS_rt_sigaction, 0, &ka, NULL, 8), EINVAL);
  CHECK_ERR(syscall(SYS_rt_sigaction, 65, &ka, NULL, 8), EINVAL);
  CHECK_ERR(syscall(SYS_rt_sigaction, SIGUSR1, (void *)8, NULL, 8), EFAULT);
  /* Reading SIGKILL's action is allowed. */
  CHECK_SYS(syscall(SYS_rt_sigaction, SIGKILL, NULL, &old, 8));
  CHECK(old.handler == SIG_DFL);
  /* Unknown flags, SA_UNSUPPORTED among them, read back cleared so that
   * programs can probe for flag support; known ones are kept. */
  ka.flags = SA_UNSUPPORTED | SA_RESTART | SA_NODEFER | 0x00010000;
  ka.mask = 1ULL << (SIGUSR2 - 1);
  CHECK_SYS(syscall(SYS_rt_sigaction, SIGUSR1, &ka, NULL, 8));
  CHECK_SYS(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 8));
  CHECK_EQ(old.flags, SA_RESTART | SA_NODEFER);
  CHECK(old.handler == SIG_IGN);
  CHECK_EQ(old.mask, 1ULL << (SIGUSR2 - 1));
  set_handler(SIGUSR1, SIG_DFL);
}

static void sigprocmask_args(void) {
  uint64_t set = (1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)) |
                 (1ULL << (SIGUSR1 - 1));
  uint64_t old, cur;
  CHECK_ERR(syscall(SYS_rt_sigprocmask, 3, &set, NULL, 8), EINVAL);
  CHECK_ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 4), EINVAL);
  /* An unknown how is not checked when there is no set. */
  CHECK_SYS(syscall(SYS_rt_sigprocmask, 99, NULL, &old, 8));
  CHECK_SYS(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 8));
  CHECK_SYS(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, 8));
  /* SIGKILL and SIGSTOP are silently left unblocked. */
  CHECK_EQ(cur & ~old, 1ULL << (SIGUSR1 - 1));
  CHECK_SYS(syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, NULL, 8));
  CHECK_SYS(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, 8));
  CHECK_EQ(cur, old & ~(1ULL << (SIGUSR1 - 1)));
  CHECK_SYS(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8));
}

static void sigpending_sizes(void) {
  sigset_t old;
  set_handler(SIGUSR2, on_usr2);
  block_only(SIGUSR2, &old);
  CHECK_SYS(raise(SIGUSR2));
  uint64_t pend = 0;
  CHECK_SYS(syscall(SYS_rt_sigpending, &pend, 8));
  CHECK(pend & (1ULL << (SIGUSR2 - 1)));
  /* A shorter size writes only that many bytes; a longer one is EINVAL. */
  uint8_t small[8];
  memset(small, 0xee, sizeof(small));
  CHECK_SYS(syscall(SYS_rt_sigpending, small, 1));
  CHECK_EQ(small[1], 0xee);
  CHECK_ERR(syscall(SYS_rt_sigpending, &pend, 9), EINVAL);
  got_usr2 = 0;
  CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
  CHECK_EQ(got_usr2, 1);
  /* Pending but unblocked signals are never reported: they are gone. */
  CHECK_SYS(syscall(SYS_rt_sigpending, &pend, 8));
  CHECK(!(pend & (1ULL << (SIGUSR2 - 1))));
}

static void sigsuspend_swaps_mask(void) {
  sigset_t old, during;
  set_handler(SIGUSR1, on_usr1);
  set_handler(SIGUSR2, on_usr2);
  block_only(SIGUSR1, &old);
  block_only(SIGUSR2, NULL);
  got_usr1 = got_usr2 = 0;
  pid_t parent = getpid();
  pid_t child = fork();
  CHECK_SYS(child);
  if (child == 0) {
    /* SIGUSR2 stays blocked through the suspend; SIGUSR1 wakes it. */
    kill(parent, SIGUSR2);
    usleep(50 * 1000);
    kill(parent, SIGUSR1);
    _exit(0);
  }
  sigfillset(&during);
  sigdelset(&during, SIGUSR1);
  CHECK_ERR(sigsuspend(&during), EINTR);
  CHECK_EQ(got_usr1, 1);
  CHECK_EQ(got_usr2, 0);
  /* The mask from before the call is back: SIGUSR2 still blocked and
   * pending. */
  sigset_t cur, pend;
  CHECK_SYS(sigprocmask(SIG_BLOCK, NULL, &cur));
  CHECK(sigismember(&cur, SIGUSR1));
  CHECK(sigismember(&cur, SIGUSR2));
  CHECK_SYS(sigpending(&pend));
  CHECK(sigismember(&pend, SIGUSR2));
  CHECK_ERR(syscall(SYS_rt_sigsuspend, &during, 4), EINVAL);
  CHECK_EQ(waitpid(child, NULL, 0), child);
  CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
  CHECK_EQ(got_usr2, 1);
}

static void pause_returns_eintr(void) {
  set_handler(SIGUSR1, on_usr1);
  got_usr1 = 0;
  pid_t parent = getpid();
  pid_t child = fork();
  CHECK_SYS(child);
  if (child == 0) {
    /* Repeated, in case the first one lands before the parent sleeps. */
    for (int i = 0; i < 100; i++) {
      usleep(50 * 1000);
      kill(parent, SIGUSR1);
    }
    _exit(0);
  }
  CHECK_ERR(pause(), EINTR);
  CHECK(got_usr1 >= 1);
  CHECK_SYS(kill(child, SIGKILL));
  CHECK_EQ(waitpid(child, NULL, 0), child);
}

static void timedwait_from_other_process(void) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, &old));
  pid_t parent = getpid();
  pid_t child = fork();
  CHECK_SYS(child);
  if (child == 0) {
    usleep(50 * 1000);
    kill(parent, SIGUSR1);
    _exit(0);
  }
  siginfo_t si;
  struct timespec ts = {5, 0};
  CHECK_EQ(sigtimedwait(&set, &si, &ts), SIGUSR1);
  CHECK_EQ(si.si_code, SI_USER);
  CHECK_EQ(si.si_pid, child);
  CHECK_EQ(si.si_uid, getuid());
  /* The wait did not unblock the signal for good. */
  sigset_t cur;
  CHECK_SYS(sigprocmask(SIG_BLOCK, NULL, &cur));
  CHECK(sigismember(&cur, SIGUSR1));
  uint64_t kset = 1ULL << (SIGUSR1 - 1);
  CHECK_ERR(syscall(SYS_rt_sigtimedwait, &kset, NULL, &ts, 4), EINVAL);
  struct timespec neg = {-1, 0};
  CHECK_ERR(syscall(SYS_rt_sigtimedwait, &kset, NULL, &neg, 8), EINVAL);
  CHECK_EQ(waitpid(child, NULL, 0), child);
  CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
}

/* A signal whose default action is to ignore it (SIGURG) is still
 * queued for a sigtimedwait that waits for it if it was blocked before
 * the wait (Linux's real_blocked); one that was not blocked is ignored at
 * generation and the wait times out. */
static void timedwait_default_ignored(void) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGURG);
  for (int blocked = 1; blocked >= 0; blocked--) {
    CHECK_SYS(sigprocmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, &old));
    pid_t parent = getpid();
    pid_t child = fork();
    CHECK_SYS(child);
    if (child == 0) {
      usleep(50 * 1000);
      kill(parent, SIGURG);
      _exit(0);
    }
    siginfo_t si;
    struct timespec ts = {blocked ? 5 : 0, blocked ? 0 : 300 * 1000 * 1000};
    if (blocked) {
      CHECK_EQ(sigtimedwait(&set, &si, &ts), SIGURG);
      CHECK_EQ(si.si_pid, child);
    } else {
      CHECK_ERR(sigtimedwait(&set, &si, &ts), EAGAIN);
    }
    CHECK_EQ(waitpid(child, NULL, 0), child);
    CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
  }
}

static void tkill_args(void) {
  CHECK_ERR(syscall(SYS_tgkill, 0, syscall(SYS_gettid), SIGUSR1), EINVAL);
  CHECK_ERR(syscall(SYS_tgkill, getpid(), 0, SIGUSR1), EINVAL);
  CHECK_ERR(syscall(SYS_tgkill, getpid(), -1, SIGUSR1), EINVAL);
  CHECK_ERR(syscall(SYS_tkill, 0, SIGUSR1), EINVAL);
  CHECK_ERR(syscall(SYS_tkill, -5, SIGUSR1), EINVAL);
  /* A missing target is reported before a bad signal. */
  CHECK_ERR(syscall(SYS_tgkill, getpid(), 0x3ffffff, 99), ESRCH);
  CHECK_ERR(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 99), EINVAL);
  CHECK_ERR(kill(0x3ffffff, 99), ESRCH);
  CHECK_ERR(kill(getpid(), 99), EINVAL);
  CHECK_ERR(kill(-2147483647 - 1, 0), ESRCH);
  /* Signal 0 checks existence only. */
  CHECK_SYS(syscall(SYS_tkill, syscall(SYS_gettid), 0));
}

static void sigqueueinfo_forgery(void) {
  set_handler(SIGUSR1, SIG_IGN);
  pid_t child = fork();
  CHECK_SYS(child);
  if (child == 0) {
    pause();
    _exit(0);
  }
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  si.si_code = SI_USER; /* pretending to be kill(2) */
  CHECK_ERR(syscall(SYS_rt_sigqueueinfo, child, SIGUSR1, &si), EPERM);
  si.si_code = SI_KERNEL;
  CHECK_ERR(syscall(SYS_rt_sigqueueinfo, child, SIGUSR1, &si), EPERM);
  si.si_code = SI_TKILL;
  CHECK_ERR(syscall(SYS_rt_tgsigqueueinfo, child, child, SIGUSR1, &si), EPERM);
  /* Negative codes are what sigqueue uses and are allowed. */
  si.si_code = SI_QUEUE;
  CHECK_SYS(syscall(SYS_rt_sigqueueinfo, child, SIGUSR1, &si));
  CHECK_SYS(syscall(SYS_rt_tgsigqueueinfo, child, child, SIGUSR1, &si));
  CHECK_ERR(syscall(SYS_rt_tgsigqueueinfo, 0, child, SIGUSR1, &si), EINVAL);
  CHECK_ERR(syscall(SYS_rt_sigqueueinfo, child, SIGUSR1, (void *)8), EFAULT);
  CHECK_SYS(kill(child, SIGKILL));
  CHECK_EQ(waitpid(child, NULL, 0), child);
  /* To oneself any code may be used; si_signo is taken from the argument. */
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, &old));
  memset(&si, 0, sizeof(si));
  si.si_signo = SIGUSR1;
  si.si_code = SI_KERNEL;
  CHECK_SYS(syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid),
                    SIGUSR2, &si));
  siginfo_t got;
  struct timespec ts = {1, 0};
  CHECK_EQ(sigtimedwait(&set, &got, &ts), SIGUSR2);
  CHECK_EQ(got.si_signo, SIGUSR2);
  CHECK_EQ(got.si_code, SI_KERNEL);
  CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
  set_handler(SIGUSR1, SIG_DFL);
}

/* A child that joins process group pgid, then reports each SIGUSR1 by
 * exiting with code 42. */
static pid_t spawn_in_group(pid_t pgid, int ready) {
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (setpgid(0, pgid) != 0) _exit(2);
    char c = 1;
    if (write(ready, &c, 1) != 1) _exit(3);
    int sig;
    sigwait(&set, &sig);
    _exit(sig == SIGUSR1 ? 42 : 4);
  }
  return pid;
}

static void kill_process_group(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t a = spawn_in_group(0, p[1]);
  char c;
  CHECK_EQ(read(p[0], &c, 1), 1);
  pid_t b = spawn_in_group(a, p[1]);
  CHECK_EQ(read(p[0], &c, 1), 1);
  CHECK_EQ(getpgid(a), a);
  CHECK_EQ(getpgid(b), a);
  /* kill(-pgid) reaches every member and not the sender. */
  CHECK_SYS(kill(-a, SIGUSR1));
  int st;
  CHECK_EQ(waitpid(a, &st, 0), a);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42);
  CHECK_EQ(waitpid(b, &st, 0), b);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42);
  /* The group is gone with its members. */
  CHECK_ERR(kill(-a, 0), ESRCH);

  /* kill(0) signals the caller's own group, the caller included. */
  pid_t leader = fork();
  CHECK_SYS(leader);
  if (leader == 0) {
    setpgid(0, 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pid_t m = spawn_in_group(getpid(), p[1]);
    char r;
    if (read(p[0], &r, 1) != 1) _exit(5);
    if (kill(0, SIGUSR1) != 0) _exit(7);
    int sig;
    sigwait(&set, &sig);
    int mst;
    if (waitpid(m, &mst, 0) != m || !WIFEXITED(mst) || WEXITSTATUS(mst) != 42)
      _exit(8);
    _exit(sig == SIGUSR1 ? 0 : 9);
  }
  CHECK_EQ(waitpid(leader, &st, 0), leader);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  close(p[0]);
  close(p[1]);
}

static char altstack_buf[65536];
static volatile int onstack_err;
static void on_alt(int sig) {
  (void)sig;
  stack_t ss = {.ss_sp = altstack_buf, .ss_size = sizeof(altstack_buf)};
  /* Changing the alternate stack while running on it is EPERM. */
  errno = 0;
  onstack_err = sigaltstack(&ss, NULL) == -1 ? errno : 0;
}

static void sigaltstack_rules(void) {
  stack_t ss = {0}, old;
  ss.ss_sp = altstack_buf;
  ss.ss_size = 1024; /* below MINSIGSTKSZ */
  CHECK_ERR(sigaltstack(&ss, NULL), ENOMEM);
  ss.ss_size = sizeof(altstack_buf);
  ss.ss_flags = 0x10;
  CHECK_ERR(sigaltstack(&ss, NULL), EINVAL);
  ss.ss_flags = 0;
  CHECK_SYS(sigaltstack(&ss, NULL));
  CHECK_SYS(sigaltstack(NULL, &old));
  CHECK(old.ss_sp == altstack_buf);
  CHECK_EQ(old.ss_flags, 0);
  struct sigaction sa = {0};
  sa.sa_handler = on_alt;
  sa.sa_flags = SA_ONSTACK;
  CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
  onstack_err = -1;
  CHECK_SYS(raise(SIGUSR1));
  CHECK_EQ(onstack_err, EPERM);
  ss.ss_flags = SS_DISABLE;
  CHECK_SYS(sigaltstack(&ss, NULL));
  CHECK_SYS(sigaltstack(NULL, &old));
  CHECK_EQ(old.ss_flags, SS_DISABLE);
  set_handler(SIGUSR1, SIG_DFL);
}

int main(void) {
  test_init();
  RUN(sigaction_args);
  RUN(sigprocmask_args);
  RUN(sigpending_sizes);
  RUN(sigsuspend_swaps_mask);
  RUN(pause_returns_eintr);
  RUN(timedwait_from_other_process);
  RUN(timedwait_default_ignored);
  RUN(tkill_args);
  RUN(sigqueueinfo_forgery);
  RUN(kill_process_group);
  RUN(sigaltstack_rules);
  return 0;
}
