/*
 * vfork_stress: the parent of a vfork (CLONE_VFORK) child must resume as
 * soon as the child execs, fails to exec and exits, exits, or is killed,
 * whatever signals reach the parent meanwhile; only a fatal signal ends the
 * parent's wait early. Also checks that clone(CLONE_VFORK) with namespace
 * flags either works or fails cleanly (EPERM without CAP_SYS_ADMIN, else
 * success or EINVAL), as os/exec's SysProcAttr.Cloneflags does it, and
 * Go's CLONE_VFORK|CLONE_VM|CLONE_PIDFD probe with exit signal 0.
 */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static char *self_exe;
static volatile sig_atomic_t usr1_count;

static void on_usr1(int sig) {
  (void)sig;
  usr1_count++;
}

static void handle_usr1(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_usr1;
  CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
}

static int wait_status(pid_t pid) {
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  return st;
}

/* raw_kill keeps the vfork child off libc's caches of pid values. */
static void raw_kill(pid_t pid, int sig) { syscall(SYS_kill, pid, sig); }

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/*
 * The child signals its parent before exiting: the signal is pending (and
 * unblocked) for the whole vfork wait, and must be handled after vfork
 * returns, not end the wait or keep it from ever ending.
 */
static void signal_pending_during_wait(void) {
  handle_usr1();
  for (int i = 0; i < 50; i++) {
    usr1_count = 0;
    pid_t parent = getpid();
    pid_t pid = vfork();
    CHECK(pid >= 0);
    if (pid == 0) {
      raw_kill(parent, SIGUSR1);
      /* Shared memory: the suspended parent has not run its handler. */
      _exit(usr1_count == 0 ? 7 : 8);
    }
    CHECK_EQ(usr1_count, 1);
    int st = wait_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
  }
  signal(SIGUSR1, SIG_DFL);
}

/* The same with a child that execs (a successful exec releases the parent). */
static void signal_pending_then_exec(void) {
  handle_usr1();
  for (int i = 0; i < 20; i++) {
    usr1_count = 0;
    pid_t parent = getpid();
    pid_t pid = vfork();
    CHECK(pid >= 0);
    if (pid == 0) {
      raw_kill(parent, SIGUSR1);
      char *argv[] = {self_exe, "exit", "5", NULL};
      execv(self_exe, argv);
      _exit(126);
    }
    CHECK_EQ(usr1_count, 1);
    int st = wait_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5);
  }
  signal(SIGUSR1, SIG_DFL);
}

struct poke {
  pthread_t target;
  volatile int sent;
};

static void *poke_thread(void *arg) {
  struct poke *p = arg;
  sleep_ms(20);
  pthread_kill(p->target, SIGUSR1);
  __atomic_store_n(&p->sent, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

/*
 * A signal arriving while the parent is already asleep in the vfork wait
 * (sent by another of its threads) must not end the wait either. The child
 * shares the parent's memory, so it sees when the signal has been sent.
 */
static void signal_arrives_during_wait(void) {
  handle_usr1();
  usr1_count = 0;
  struct poke p = {pthread_self(), 0};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, poke_thread, &p), 0);
  pid_t pid = vfork();
  CHECK(pid >= 0);
  if (pid == 0) {
    struct timespec ts = {0, 1000000L};
    while (!__atomic_load_n(&p.sent, __ATOMIC_SEQ_CST))
      syscall(SYS_nanosleep, &ts, NULL);
    /* Give a wrongly woken parent time to run ahead. */
    ts.tv_nsec = 50 * 1000000L;
    syscall(SYS_nanosleep, &ts, NULL);
    _exit(usr1_count == 0 ? 3 : 4);
  }
  /* The handler ran only after vfork returned, once the child exited. */
  CHECK_EQ(usr1_count, 1);
  CHECK_EQ(pthread_join(th, NULL), 0);
  int st = wait_status(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
  signal(SIGUSR1, SIG_DFL);
}

/* Children that exit, exec, fail to exec, or die of a signal, in a row. */
static void many_children(void) {
  handle_usr1();
  for (int i = 0; i < 300; i++) {
    pid_t parent = getpid();
    int kind = i % 5;
    pid_t pid = vfork();
    CHECK(pid >= 0);
    if (pid == 0) {
      if (i % 3 == 0) raw_kill(parent, SIGUSR1);
      switch (kind) {
        case 0:
          _exit(i & 0x7f);
        case 1: {
          char code[8];
          snprintf(code, sizeof(code), "%d", i & 0x7f);
          char *argv[] = {self_exe, "exit", code, NULL};
          execv(self_exe, argv);
          _exit(126);
        }
        case 2: {
          char *argv[] = {"/nonexistent/vfork_stress", NULL};
          execv(argv[0], argv);
          _exit(errno == ENOENT ? 127 : 126);
        }
        case 3:
          raw_kill(syscall(SYS_getpid), SIGKILL);
          _exit(1);
        default:
          syscall(SYS_exit_group, 9);
          _exit(1);
      }
    }
    int st = wait_status(pid);
    switch (kind) {
      case 0:
      case 1:
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == (i & 0x7f));
        break;
      case 2:
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 127);
        break;
      case 3:
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        break;
      default:
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 9);
    }
  }
  signal(SIGUSR1, SIG_DFL);
}

static int pidfd_child(void *arg) {
  (void)arg;
  syscall(SYS_exit_group, 0);
  return 0;
}

/*
 * Go's os/exec probe: CLONE_VFORK|CLONE_VM|CLONE_PIDFD, no exit signal, a
 * child that exit_groups at once, then waitid(P_PIDFD, __WCLONE).
 */
static void pidfd_probe(void) {
  static char stack[64 * 1024] __attribute__((aligned(16)));
  for (int i = 0; i < 50; i++) {
    int pidfd = -1;
    pid_t pid = clone(pidfd_child, stack + sizeof(stack),
                      CLONE_VFORK | CLONE_VM | CLONE_PIDFD, NULL, &pidfd);
    CHECK_SYS(pid);
    CHECK(pidfd >= 0);
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    CHECK_SYS(waitid(P_PIDFD, pidfd, &info, WEXITED | __WCLONE));
    CHECK_EQ(info.si_pid, pid);
    CHECK_EQ(info.si_code, CLD_EXITED);
    CHECK_EQ(info.si_status, 0);
    close(pidfd);
  }
}

static int ns_child(void *arg) {
  (void)arg;
  syscall(SYS_exit_group, 4);
  return 0;
}

/*
 * clone_ns tries clone(CLONE_VFORK|CLONE_VM|extra) and returns 0 if it
 * worked (and the child was reaped) or the errno. The parent must come back
 * either way.
 */
static int clone_ns(int extra) {
  static char stack[64 * 1024] __attribute__((aligned(16)));
  pid_t pid = clone(ns_child, stack + sizeof(stack),
                    CLONE_VFORK | CLONE_VM | extra | SIGCHLD, NULL);
  if (pid < 0) return errno;
  int st = wait_status(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 4);
  return 0;
}

static const int ns_flags[] = {CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWNS,
                               CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWCGROUP};

/*
 * With CAP_SYS_ADMIN a namespace either is made or (a kernel without that
 * kind of namespace) the clone fails with EINVAL; without it, EPERM. A
 * plain vfork afterwards must still work.
 */
static void namespace_flags(void) {
  for (int round = 0; round < 20; round++) {
    for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
      int err = clone_ns(ns_flags[i]);
      CHECK(err == 0 || err == EINVAL || err == EPERM);
      pid_t pid = vfork();
      CHECK(pid >= 0);
      if (pid == 0) _exit(0);
      CHECK_EQ(wait_status(pid), 0);
    }
  }
  /* Without CAP_SYS_ADMIN (all capabilities go with the uid), always EPERM. */
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (getuid() == 0) CHECK_SYS(setresuid(65534, 65534, 65534));
    for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++)
      CHECK_EQ(clone_ns(ns_flags[i]), EPERM);
    _exit(0);
  }
  CHECK_EQ(wait_status(pid), 0);
}

/*
 * A fatal signal ends the wait: a process blocked in vfork on a child that
 * never finishes dies of SIGKILL, or of a signal whose default action is to
 * terminate, leaving the child running.
 */
static void killed_while_waiting_by(int sig) {
  int report[2], hold[2];
  CHECK_SYS(pipe(report));
  CHECK_SYS(pipe(hold));
  pid_t mid = fork();
  CHECK(mid >= 0);
  if (mid == 0) {
    close(report[0]);
    signal(sig, SIG_DFL);
    pid_t c = vfork();
    if (c == 0) {
      char b;
      pid_t me = syscall(SYS_getpid);
      write(report[1], &me, sizeof(me));
      close(hold[1]);
      /* EOF once the test closes its end. */
      read(hold[0], &b, 1);
      _exit(0);
    }
    _exit(c < 0 ? 2 : 3);
  }
  close(report[1]);
  close(hold[0]);
  pid_t child;
  CHECK_EQ(read(report[0], &child, sizeof(child)), sizeof(child));
  CHECK(child > 0);
  sleep_ms(30);
  CHECK_SYS(kill(mid, sig));
  int st = wait_status(mid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == sig);
  close(hold[1]);
  close(report[0]);
}

static void killed_while_waiting(void) {
  killed_while_waiting_by(SIGKILL);
  killed_while_waiting_by(SIGTERM);
  killed_while_waiting_by(SIGUSR2);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "exit") == 0) return atoi(argv[2]);
  test_init();
  self_exe = realpath("/proc/self/exe", NULL);
  CHECK(self_exe != NULL);
  RUN(signal_pending_during_wait);
  RUN(signal_pending_then_exec);
  RUN(signal_arrives_during_wait);
  RUN(many_children);
  RUN(pidfd_probe);
  RUN(namespace_flags);
  RUN(killed_while_waiting);
  return 0;
}
