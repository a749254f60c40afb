/*
 * pidfd: pidfd_open (flags, errors, close-on-exec), polling a pidfd until
 * the process exits, waitid(P_PIDFD) with and without PIDFD_NONBLOCK,
 * pidfd_send_signal (siginfo rules, ESRCH after reaping), pidfd_getfd,
 * and CLONE_PIDFD from clone and clone3.
 */
#include "test.h"

#include <fcntl.h>
#include <unistd.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags) {
  return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}
static int pidfd_getfd(int fd, int target, unsigned flags) {
  return syscall(SYS_pidfd_getfd, fd, target, flags);
}

/* sleeper forks a child that waits to be killed or for a byte on fd. */
static pid_t sleeper(int fd) {
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    int r = read(fd, &c, 1);
    _exit(r == 1 ? c : 99);
  }
  return pid;
}

static void open_rules(void) {
  CHECK_ERR(pidfd_open(getpid(), 1), EINVAL);
  CHECK_ERR(pidfd_open(0, 0), EINVAL);
  CHECK_ERR(pidfd_open(-1, 0), EINVAL);
  CHECK_ERR(pidfd_open(4194304 + 1, 0), ESRCH);
  int fd = pidfd_open(getpid(), 0);
  CHECK(fd >= 0);
  CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  CHECK_EQ(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR);
  char buf[8];
  CHECK_ERR(read(fd, buf, sizeof(buf)), EINVAL);
  close(fd);
  fd = pidfd_open(getpid(), PIDFD_NONBLOCK);
  CHECK(fd >= 0);
  CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  close(fd);
}

static void *thread_tid(void *arg) {
  *(pid_t *)arg = gettid();
  return NULL;
}

static int live_pipe[2];
static volatile pid_t live_tid;

static void *live_thread(void *arg) {
  (void)arg;
  live_tid = gettid();
  char c;
  read(live_pipe[0], &c, 1);
  return NULL;
}

static void open_thread(void) {
  /* A live thread that does not lead its process: ENOENT since Linux
     6.9 (before, EINVAL), without PIDFD_THREAD. */
  pthread_t live;
  CHECK_SYS(pipe(live_pipe));
  CHECK_EQ(pthread_create(&live, NULL, live_thread, NULL), 0);
  while (live_tid == 0) usleep(1000);
  CHECK_ERR(pidfd_open(live_tid, 0), ENOENT);
  CHECK_EQ(write(live_pipe[1], "x", 1), 1);
  CHECK_EQ(pthread_join(live, NULL), 0);
  close(live_pipe[0]);
  close(live_pipe[1]);

  pthread_t th;
  pid_t tid = 0;
  /* A thread that is not a leader has no pidfd of its own (the tid of a
     live thread is what is needed: keep it alive while opening). */
  CHECK_EQ(pthread_create(&th, NULL, thread_tid, &tid), 0);
  CHECK_EQ(pthread_join(th, NULL), 0);
  /* The thread is gone now and its tid is freed, but Linux clears the
     tid pthread_join waits on before it releases the pid: until then
     the tid names an exiting non-leader thread (ENOENT). */
  for (int i = 0; i < 1000 && pidfd_open(tid, 0) < 0 && errno == ENOENT; i++) usleep(1000);
  CHECK_ERR(pidfd_open(tid, 0), ESRCH);
}

static void poll_exit(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = sleeper(p[0]);
  int fd = pidfd_open(pid, 0);
  CHECK(fd >= 0);
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  CHECK_EQ(poll(&pfd, 1, 0), 0);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN}, out;
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
  CHECK_EQ(write(p[1], "\x07", 1), 1);
  CHECK_EQ(poll(&pfd, 1, 10000), 1);
  CHECK(pfd.revents & POLLIN);
  CHECK_EQ(epoll_wait(ep, &out, 1, 10000), 1);
  /* Still a zombie: waitid through the pidfd collects it. */
  siginfo_t si = {0};
  CHECK_SYS(waitid(P_PIDFD, fd, &si, WEXITED));
  CHECK_EQ(si.si_pid, pid);
  CHECK_EQ(si.si_code, CLD_EXITED);
  CHECK_EQ(si.si_status, 7);
  CHECK_ERR(waitid(P_PIDFD, fd, &si, WEXITED), ECHILD);
  CHECK_EQ(poll(&pfd, 1, 0), 1);
  CHECK_ERR(pidfd_send_signal(fd, SIGTERM, NULL, 0), ESRCH);
  close(ep);
  close(fd);
  close(p[0]);
  close(p[1]);
}

static void wait_nonblock(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = sleeper(p[0]);
  int fd = pidfd_open(pid, PIDFD_NONBLOCK);
  siginfo_t si;
  CHECK_ERR(waitid(P_PIDFD, fd, &si, WEXITED), EAGAIN);
  /* WNOHANG given explicitly: 0 and an empty siginfo. */
  si.si_pid = 123;
  CHECK_EQ(waitid(P_PIDFD, fd, &si, WEXITED | WNOHANG), 0);
  CHECK_EQ(si.si_pid, 0);
  CHECK_EQ(write(p[1], "\x03", 1), 1);
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  CHECK_EQ(poll(&pfd, 1, 10000), 1);
  CHECK_SYS(waitid(P_PIDFD, fd, &si, WEXITED));
  CHECK_EQ(si.si_status, 3);
  /* Not a pidfd. */
  CHECK_ERR(waitid(P_PIDFD, p[0], &si, WEXITED), EBADF);
  CHECK_ERR(waitid(P_PIDFD, 1000, &si, WEXITED), EBADF);
  /* Not a child. */
  int self = pidfd_open(getpid(), 0);
  CHECK_ERR(waitid(P_PIDFD, self, &si, WEXITED | WNOHANG), ECHILD);
  close(self);
  close(fd);
  close(p[0]);
  close(p[1]);
}

static void send_signal(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = sleeper(p[0]);
  int fd = pidfd_open(pid, 0);
  CHECK_SYS(pidfd_send_signal(fd, 0, NULL, 0));
  CHECK_ERR(pidfd_send_signal(fd, SIGTERM, NULL, 0x100), EINVAL);
  CHECK_ERR(pidfd_send_signal(fd, 1000, NULL, 0), EINVAL);
  CHECK_ERR(pidfd_send_signal(p[0], SIGTERM, NULL, 0), EBADF);
  siginfo_t info = {0};
  info.si_signo = SIGUSR1;
  info.si_code = SI_QUEUE;
  CHECK_ERR(pidfd_send_signal(fd, SIGTERM, &info, 0), EINVAL);
  info.si_signo = SIGTERM;
  info.si_code = SI_USER;
  CHECK_ERR(pidfd_send_signal(fd, SIGTERM, &info, 0), EPERM);
  info.si_code = SI_QUEUE;
  CHECK_SYS(pidfd_send_signal(fd, SIGTERM, &info, 0));
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
  CHECK_ERR(pidfd_send_signal(fd, SIGTERM, NULL, 0), ESRCH);
  close(fd);
  close(p[0]);
  close(p[1]);

  /* To oneself, any siginfo goes. */
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, &old);
  fd = pidfd_open(getpid(), 0);
  memset(&info, 0, sizeof(info));
  info.si_signo = SIGUSR2;
  info.si_code = SI_USER;
  info.si_value.sival_int = 77;
  CHECK_SYS(pidfd_send_signal(fd, SIGUSR2, &info, 0));
  siginfo_t got;
  struct timespec ts = {1, 0};
  CHECK_EQ(sigtimedwait(&set, &got, &ts), SIGUSR2);
  CHECK_EQ(got.si_code, SI_USER);
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(fd);
}

static void getfd(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  int self = pidfd_open(getpid(), 0);
  int dup = pidfd_getfd(self, p[1], 0);
  CHECK(dup >= 0);
  CHECK_EQ(fcntl(dup, F_GETFD), FD_CLOEXEC);
  CHECK_EQ(write(dup, "z", 1), 1);
  char c;
  CHECK_EQ(read(p[0], &c, 1), 1);
  CHECK_EQ(c, 'z');
  CHECK_ERR(pidfd_getfd(self, p[1], 1), EINVAL);
  CHECK_ERR(pidfd_getfd(self, 1000, 0), EBADF);
  CHECK_ERR(pidfd_getfd(p[0], p[1], 0), EBADF);
  close(dup);
  if (geteuid() == 0) {
    /* A child's descriptor (CAP_SYS_PTRACE). */
    int q[2];
    CHECK_SYS(pipe(q));
    pid_t pid = sleeper(q[0]);
    int fd = pidfd_open(pid, 0);
    int theirs = pidfd_getfd(fd, q[1], 0);
    CHECK(theirs >= 0);
    CHECK_EQ(write(theirs, "\x05", 1), 1);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5);
    close(theirs);
    close(fd);
    close(q[0]);
    close(q[1]);
  }
  close(self);
  close(p[0]);
  close(p[1]);
}

static void clone_pidfd(void) {
  struct clone_args ca = {0};
  int pidfd = -1;
  ca.flags = CLONE_PIDFD;
  ca.pidfd = (uintptr_t)&pidfd;
  ca.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &ca, sizeof(ca));
  if (pid == 0) _exit(9);
  CHECK(pid > 0);
  CHECK(pidfd >= 0);
  CHECK_EQ(fcntl(pidfd, F_GETFD), FD_CLOEXEC);
  struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
  CHECK_EQ(poll(&pfd, 1, 10000), 1);
  siginfo_t si;
  CHECK_SYS(waitid(P_PIDFD, pidfd, &si, WEXITED));
  CHECK_EQ(si.si_pid, pid);
  CHECK_EQ(si.si_status, 9);
  close(pidfd);

  /* clone(2) stores it where the parent TID would go. */
  pidfd = -1;
  pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, NULL, &pidfd, NULL, 0);
  if (pid == 0) _exit(4);
  CHECK(pid > 0);
  CHECK(pidfd >= 0);
  CHECK_SYS(waitid(P_PIDFD, pidfd, &si, WEXITED));
  CHECK_EQ(si.si_status, 4);
  close(pidfd);
  CHECK_ERR(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, NULL, &pidfd, NULL, 0), EINVAL);
}

int main(void) {
  test_init();
  RUN(open_rules);
  RUN(open_thread);
  RUN(poll_exit);
  RUN(wait_nonblock);
  RUN(send_signal);
  RUN(getfd);
  RUN(clone_pidfd);
  return 0;
}
