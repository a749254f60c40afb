/*
 * signals: sigaction, rt_sigprocmask, kill/tgkill/sigqueue, rt_sigtimedwait,
 * sigaltstack, SA_RESTART and SIGCHLD.
 * Checks that handlers run with the right signal, siginfo and mask, that
 * blocked signals stay pending until unblocked, SA_RESETHAND/SA_NODEFER,
 * that SA_RESTART decides between restarting a blocking read and EINTR,
 * handlers on an alternate stack, synchronous waiting with timeouts, SIGCHLD
 * delivery and auto-reaping with SIG_IGN, and the rules for SIGKILL/SIGSTOP.
 */
#include "test.h"

#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

static volatile sig_atomic_t hits, last_sig, last_code, last_pid, last_val;
static volatile sig_atomic_t usr2_blocked_in_handler, self_blocked_in_handler;

static void on_info(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  hits++;
  last_sig = sig;
  last_code = si->si_code;
  last_pid = si->si_pid;
  last_val = si->si_value.sival_int;
  sigset_t cur;
  sigprocmask(SIG_BLOCK, NULL, &cur);
  usr2_blocked_in_handler = sigismember(&cur, SIGUSR2);
  self_blocked_in_handler = sigismember(&cur, sig);
}

static void install(int sig, int flags, sigset_t *mask) {
  struct sigaction sa = {0};
  sa.sa_sigaction = on_info;
  sa.sa_flags = SA_SIGINFO | flags;
  if (mask) sa.sa_mask = *mask;
  CHECK_SYS(sigaction(sig, &sa, NULL));
}

static void reset(void) { hits = last_sig = last_code = last_pid = last_val = 0; }

static void handler_runs(void) {
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR2);
  install(SIGUSR1, 0, &m);
  reset();
  CHECK_SYS(kill(getpid(), SIGUSR1));
  /* A signal sent to oneself and unblocked is delivered before kill returns. */
  CHECK_EQ(hits, 1);
  CHECK_EQ(last_sig, SIGUSR1);
  CHECK_EQ(last_code, SI_USER);
  CHECK_EQ(last_pid, getpid());
  /* During the handler, sa_mask and the signal itself are blocked... */
  CHECK(usr2_blocked_in_handler);
  CHECK(self_blocked_in_handler);
  /* ...and the old mask is back afterwards. */
  sigset_t cur;
  CHECK_SYS(sigprocmask(SIG_BLOCK, NULL, &cur));
  CHECK(!sigismember(&cur, SIGUSR1));
  CHECK(!sigismember(&cur, SIGUSR2));
  reset();
  CHECK_SYS(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1));
  CHECK_EQ(hits, 1);
  CHECK_EQ(last_code, SI_TKILL);
  reset();
  union sigval v = {.sival_int = 1234};
  CHECK_SYS(sigqueue(getpid(), SIGUSR1, v));
  CHECK_EQ(hits, 1);
  CHECK_EQ(last_code, SI_QUEUE);
  CHECK_EQ(last_val, 1234);
}

static void blocked_pending(void) {
  install(SIGUSR1, 0, NULL);
  reset();
  sigset_t set, old, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, &old));
  CHECK_SYS(raise(SIGUSR1));
  CHECK_SYS(raise(SIGUSR1));
  CHECK_EQ(hits, 0);
  CHECK_SYS(sigpending(&pend));
  CHECK(sigismember(&pend, SIGUSR1));
  CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
  /* Standard signals do not queue: two raises, one delivery. */
  CHECK_EQ(hits, 1);
  CHECK_SYS(sigpending(&pend));
  CHECK(!sigismember(&pend, SIGUSR1));
  /* Real-time signals do queue. */
  install(SIGRTMIN, 0, NULL);
  reset();
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, &old));
  for (int i = 0; i < 3; i++) CHECK_SYS(raise(SIGRTMIN));
  CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
  CHECK_EQ(hits, 3);
  /* SIGKILL and SIGSTOP cannot be blocked: the mask silently drops them. */
  sigemptyset(&set);
  sigaddset(&set, SIGKILL);
  sigaddset(&set, SIGSTOP);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, &old));
  sigset_t cur;
  CHECK_SYS(sigprocmask(SIG_SETMASK, &old, &cur));
  CHECK(!sigismember(&cur, SIGKILL));
  CHECK(!sigismember(&cur, SIGSTOP));
  CHECK_ERR(sigprocmask(99, &set, NULL), EINVAL);
}

static void flags(void) {
  install(SIGUSR1, SA_RESETHAND, NULL);
  reset();
  CHECK_SYS(raise(SIGUSR1));
  CHECK_EQ(hits, 1);
  struct sigaction sa;
  CHECK_SYS(sigaction(SIGUSR1, NULL, &sa));
  CHECK(sa.sa_handler == SIG_DFL);
  install(SIGUSR1, SA_NODEFER, NULL);
  reset();
  CHECK_SYS(raise(SIGUSR1));
  CHECK(!self_blocked_in_handler);
  /* sigaction reports back what was installed. */
  CHECK_SYS(sigaction(SIGUSR1, NULL, &sa));
  CHECK(sa.sa_flags & SA_NODEFER);
  CHECK(sa.sa_flags & SA_SIGINFO);
  CHECK(sa.sa_sigaction == on_info);
  CHECK_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL);
  CHECK_ERR(sigaction(SIGSTOP, &sa, NULL), EINVAL);
  CHECK_ERR(sigaction(0, &sa, NULL), EINVAL);
  CHECK_ERR(sigaction(_NSIG, &sa, NULL), EINVAL);
  /* Querying SIGKILL is allowed. */
  CHECK_SYS(sigaction(SIGKILL, NULL, &sa));
  CHECK(sa.sa_handler == SIG_DFL);
}

static int restart_pipe[2];
static void on_alarm(int sig) {
  (void)sig;
  /* Give the interrupted read something to return if it restarts. */
  write(restart_pipe[1], "r", 1);
}

/* read_across_signal blocks in read() while a timer signal arrives. */
static long read_across_signal(int sa_flags) {
  CHECK_SYS(pipe(restart_pipe));
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sa.sa_flags = sa_flags;
  CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
  struct itimerval it = {{0, 0}, {0, 50000}};
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  char c;
  errno = 0;
  long r = read(restart_pipe[0], &c, 1);
  int e = errno;
  close(restart_pipe[0]);
  close(restart_pipe[1]);
  errno = e;
  return r;
}

static void sa_restart(void) {
  CHECK_EQ(read_across_signal(SA_RESTART), 1);
  CHECK_ERR(read_across_signal(0), EINTR);
  /* Put back the watchdog that the timer replaced. */
  signal(SIGALRM, SIG_DFL);
  alarm(20);
}

static char *altstack;
static volatile sig_atomic_t on_alt, alt_flags_ok;
static void on_alt_handler(int sig) {
  (void)sig;
  char local;
  on_alt = (uintptr_t)&local >= (uintptr_t)altstack &&
           (uintptr_t)&local < (uintptr_t)altstack + SIGSTKSZ * 4;
  stack_t cur;
  sigaltstack(NULL, &cur);
  alt_flags_ok = (cur.ss_flags & SS_ONSTACK) != 0;
}

static void alt_stack(void) {
  altstack = malloc(SIGSTKSZ * 4);
  stack_t ss = {.ss_sp = altstack, .ss_size = SIGSTKSZ * 4, .ss_flags = 0};
  CHECK_SYS(sigaltstack(&ss, NULL));
  stack_t got;
  CHECK_SYS(sigaltstack(NULL, &got));
  CHECK(got.ss_sp == altstack);
  CHECK_EQ(got.ss_size, SIGSTKSZ * 4);
  CHECK_EQ(got.ss_flags, 0);
  struct sigaction sa = {0};
  sa.sa_handler = on_alt_handler;
  sa.sa_flags = SA_ONSTACK;
  CHECK_SYS(sigaction(SIGUSR2, &sa, NULL));
  CHECK_SYS(raise(SIGUSR2));
  CHECK(on_alt);
  CHECK(alt_flags_ok);
  /* Without SA_ONSTACK the normal stack is used. */
  sa.sa_flags = 0;
  CHECK_SYS(sigaction(SIGUSR2, &sa, NULL));
  on_alt = 1;
  CHECK_SYS(raise(SIGUSR2));
  CHECK(!on_alt);
  ss.ss_size = 1;
  CHECK_ERR(sigaltstack(&ss, NULL), ENOMEM);
  ss.ss_flags = SS_DISABLE;
  CHECK_SYS(sigaltstack(&ss, NULL));
  CHECK_SYS(sigaltstack(NULL, &got));
  CHECK(got.ss_flags & SS_DISABLE);
  free(altstack);
}

static void timed_wait(void) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, &old));
  union sigval v = {.sival_int = 77};
  CHECK_SYS(sigqueue(getpid(), SIGUSR1, v));
  siginfo_t si;
  struct timespec ts = {1, 0};
  CHECK_EQ(sigtimedwait(&set, &si, &ts), SIGUSR1);
  CHECK_EQ(si.si_signo, SIGUSR1);
  CHECK_EQ(si.si_code, SI_QUEUE);
  CHECK_EQ(si.si_value.sival_int, 77);
  /* Nothing pending: the timeout expires, and no earlier than asked. */
  ts.tv_sec = 0;
  ts.tv_nsec = 50 * 1000 * 1000;
  long long t0 = test_now_ns();
  CHECK_ERR(sigtimedwait(&set, &si, &ts), EAGAIN);
  CHECK(test_now_ns() - t0 >= 50 * 1000 * 1000);
  /* A zero timeout polls. */
  ts.tv_nsec = 0;
  CHECK_ERR(sigtimedwait(&set, &si, &ts), EAGAIN);
  ts.tv_nsec = 2000000000;
  CHECK_ERR(sigtimedwait(&set, &si, &ts), EINVAL);
  CHECK_SYS(raise(SIGUSR1));
  int sig;
  CHECK_EQ(sigwait(&set, &sig), 0);
  CHECK_EQ(sig, SIGUSR1);
  CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
}

static volatile sig_atomic_t chld_pid, chld_code, chld_status;
static void on_chld(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  chld_pid = si->si_pid;
  chld_code = si->si_code;
  chld_status = si->si_status;
}

static void sigchld(void) {
  struct sigaction sa = {0};
  sa.sa_sigaction = on_chld;
  sa.sa_flags = SA_SIGINFO;
  CHECK_SYS(sigaction(SIGCHLD, &sa, NULL));
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, &old));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) _exit(5);
  /* sigsuspend atomically unblocks SIGCHLD and waits for it. */
  sigset_t wait_mask = old;
  sigdelset(&wait_mask, SIGCHLD);
  chld_pid = 0;
  while (chld_pid == 0) CHECK_ERR(sigsuspend(&wait_mask), EINTR);
  CHECK_EQ(chld_pid, pid);
  CHECK_EQ(chld_code, CLD_EXITED);
  CHECK_EQ(chld_status, 5);
  CHECK_EQ(waitpid(pid, NULL, 0), pid);
  CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
  /* With SIGCHLD ignored, children are reaped automatically. */
  signal(SIGCHLD, SIG_IGN);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) _exit(0);
  CHECK_ERR(waitpid(pid, NULL, 0), ECHILD);
  signal(SIGCHLD, SIG_DFL);
}

static void kill_errors(void) {
  CHECK_ERR(kill(getpid(), 9999), EINVAL);
  CHECK_ERR(kill(getpid(), -1), EINVAL);
  /* Signal 0 probes for existence. */
  CHECK_SYS(kill(getpid(), 0));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) _exit(0);
  CHECK_EQ(waitpid(pid, NULL, 0), pid);
  CHECK_ERR(kill(pid, 0), ESRCH);
  CHECK_ERR(syscall(SYS_tgkill, getpid(), pid, SIGUSR1), ESRCH);
  /* Default action of SIGUSR1 terminates; of SIGCHLD/SIGURG ignores. */
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    signal(SIGUSR1, SIG_DFL);
    raise(SIGURG);
    raise(SIGUSR1);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1);
}

int main(void) {
  test_init();
  RUN(handler_runs);
  RUN(blocked_pending);
  RUN(flags);
  RUN(sa_restart);
  RUN(alt_stack);
  RUN(timed_wait);
  RUN(sigchld);
  RUN(kill_errors);
  return 0;
}
