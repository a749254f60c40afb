/*
 * fasync: signal-driven I/O (fcntl(2) F_SETOWN/F_GETOWN, F_SETOWN_EX/
 * F_GETOWN_EX, F_SETSIG/F_GETSIG, O_ASYNC via F_SETFL and FIOASYNC, the
 * socket ioctls FIOSETOWN/SIOCSPGRP/FIOGETOWN/SIOCGPGRP).
 * Checks the owner forms (process, process group, thread) and their
 * errors, that an exited owner reads as 0 and gets nothing, SIGIO with
 * SI_KERNEL without F_SETSIG, the F_SETSIG signal with si_code POLL_IN/
 * POLL_OUT, si_band and si_fd, readers and writers of a pipe, FIFOs, unix
 * and TCP sockets (data and new connections), ptys, that clearing O_ASYNC
 * or closing stops the signals, and that files without asynchronous
 * notification (eventfd, regular files) refuse FIOASYNC and drop O_ASYNC.
 */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef FIOSETOWN
#define FIOSETOWN 0x8901
#define SIOCSPGRP 0x8902
#define FIOGETOWN 0x8903
#define SIOCGPGRP 0x8904
#endif

#define SIGRT (SIGRTMIN + 2)

/* block_all blocks SIGIO and SIGRT so they queue for sigtimedwait. */
static void block_all(void) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGIO);
  sigaddset(&s, SIGRT);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &s, NULL));
}

/* wait_sig waits up to ms for sig and returns its siginfo. */
static int wait_sig(int sig, siginfo_t *si, int ms) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  return sigtimedwait(&s, si, &ts);
}

/* expect_sig requires sig to arrive. */
static void expect_sig(int sig, siginfo_t *si) {
  CHECK_EQ(wait_sig(sig, si, 2000), sig);
}

/* expect_fd requires a SIGRT for descriptor fd with si_code code; other
 * descriptors' signals are skipped (a terminal's line discipline runs
 * asynchronously in Linux, so its signals may come late). */
static void expect_fd(int fd, int code) {
  long long deadline = test_now_ns() + 2000000000LL;
  siginfo_t si;
  while (test_now_ns() < deadline) {
    if (wait_sig(SIGRT, &si, 100) != SIGRT) continue;
    if (si.si_fd == fd && si.si_code == code) return;
  }
  test_fail(__FILE__, __LINE__, "expect_fd", 0);
}

/* expect_none requires that neither signal is pending. */
static void expect_none(void) {
  siginfo_t si;
  CHECK_ERR(wait_sig(SIGIO, &si, 50), EAGAIN);
  CHECK_ERR(wait_sig(SIGRT, &si, 1), EAGAIN);
}

/* drain discards pending SIGIO and SIGRT. */
static void drain(void) {
  siginfo_t si;
  while (wait_sig(SIGIO, &si, 0) > 0) {
  }
  while (wait_sig(SIGRT, &si, 0) > 0) {
  }
}

static void set_async(int fd, int sig) {
  CHECK_SYS(fcntl(fd, F_SETOWN, getpid()));
  CHECK_SYS(fcntl(fd, F_SETSIG, sig));
  CHECK_SYS(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC));
}

static void owner_forms(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  struct f_owner_ex ex = {99, 99};
  CHECK_SYS(fcntl(p[0], F_GETOWN_EX, &ex));
  CHECK_EQ(ex.type, F_OWNER_TID);
  CHECK_EQ(ex.pid, 0);
  CHECK_EQ(fcntl(p[0], F_GETOWN), 0);
  CHECK_EQ(fcntl(p[0], F_GETSIG), 0);

  CHECK_SYS(fcntl(p[0], F_SETOWN, getpid()));
  CHECK_EQ(fcntl(p[0], F_GETOWN), getpid());
  CHECK_SYS(fcntl(p[0], F_GETOWN_EX, &ex));
  CHECK_EQ(ex.type, F_OWNER_PID);
  CHECK_EQ(ex.pid, getpid());

  /* A process group reads back negated. */
  CHECK_SYS(fcntl(p[0], F_SETOWN, -getpgrp()));
  CHECK_EQ(fcntl(p[0], F_GETOWN), -getpgrp());
  CHECK_SYS(fcntl(p[0], F_GETOWN_EX, &ex));
  CHECK_EQ(ex.type, F_OWNER_PGRP);
  CHECK_EQ(ex.pid, getpgrp());

  ex.type = F_OWNER_TID;
  ex.pid = syscall(SYS_gettid);
  CHECK_SYS(fcntl(p[0], F_SETOWN_EX, &ex));
  CHECK_EQ(fcntl(p[0], F_GETOWN), syscall(SYS_gettid));
  memset(&ex, 0, sizeof(ex));
  CHECK_SYS(fcntl(p[0], F_GETOWN_EX, &ex));
  CHECK_EQ(ex.type, F_OWNER_TID);
  CHECK_EQ(ex.pid, syscall(SYS_gettid));

  /* Errors. */
  CHECK_ERR(fcntl(p[0], F_SETOWN, 4000000), ESRCH);
  CHECK_ERR(fcntl(p[0], F_SETOWN, INT_MIN), EINVAL);
  ex.type = 3;
  ex.pid = getpid();
  CHECK_ERR(fcntl(p[0], F_SETOWN_EX, &ex), EINVAL);
  ex.type = F_OWNER_PGRP;
  ex.pid = -5;
  CHECK_ERR(fcntl(p[0], F_SETOWN_EX, &ex), ESRCH);
  CHECK_ERR(fcntl(p[0], F_GETOWN_EX, (void *)8), EFAULT);
  CHECK_ERR(fcntl(p[0], F_SETSIG, -1), EINVAL);
  CHECK_ERR(fcntl(p[0], F_SETSIG, 65), EINVAL);
  CHECK_SYS(fcntl(p[0], F_SETSIG, 64));
  CHECK_EQ(fcntl(p[0], F_GETSIG), 64);
  CHECK_SYS(fcntl(p[0], F_SETSIG, 0));
  CHECK_EQ(fcntl(p[0], F_GETSIG), 0);

  /* Clearing with 0. */
  CHECK_SYS(fcntl(p[0], F_SETOWN, 0));
  CHECK_EQ(fcntl(p[0], F_GETOWN), 0);

  /* The owner is the description's: dup shares it. */
  CHECK_SYS(fcntl(p[0], F_SETOWN, getpid()));
  int d = dup(p[0]);
  CHECK_EQ(fcntl(d, F_GETOWN), getpid());
  close(d);

  /* Pipes are not sockets: the socket ioctls are the driver's. */
  int v = getpid();
  CHECK_ERR(ioctl(p[0], FIOSETOWN, &v), ENOTTY);
  CHECK_ERR(ioctl(p[0], FIOGETOWN, &v), ENOTTY);
  CHECK_ERR(ioctl(p[0], SIOCGPGRP, &v), ENOTTY);

  /* Regular files take an owner, but not O_ASYNC. */
  int f = open("/proc/self/exe", O_RDONLY);
  CHECK_SYS(f);
  CHECK_SYS(fcntl(f, F_SETOWN, getpid()));
  CHECK_EQ(fcntl(f, F_GETOWN), getpid());
  CHECK_ERR(ioctl(f, FIOASYNC, &v), ENOTTY);
  close(f);
  close(p[0]);
  close(p[1]);
}

static void exited_owner(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t c = fork();
  CHECK_SYS(c);
  if (c == 0) {
    pause();
    _exit(0);
  }
  CHECK_SYS(fcntl(p[0], F_SETOWN, c));
  CHECK_EQ(fcntl(p[0], F_GETOWN), c);
  CHECK_SYS(kill(c, SIGKILL));
  CHECK_SYS(waitpid(c, NULL, 0));
  CHECK_EQ(fcntl(p[0], F_GETOWN), 0);
  CHECK_SYS(fcntl(p[0], F_SETFL, O_ASYNC));
  CHECK_EQ(write(p[1], "x", 1), 1);
  expect_none();
  close(p[0]);
  close(p[1]);
}

static void pipe_sigio(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  set_async(p[0], 0);
  CHECK(fcntl(p[0], F_GETFL) & O_ASYNC);
  expect_none();
  CHECK_EQ(write(p[1], "abc", 3), 3);
  siginfo_t si;
  expect_sig(SIGIO, &si);
  CHECK_EQ(si.si_code, SI_KERNEL);
  close(p[0]);
  close(p[1]);
}

static void pipe_setsig(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  /* si_fd is the descriptor O_ASYNC was turned on through. */
  int r = fcntl(p[0], F_DUPFD, 20);
  CHECK_SYS(r);
  int w = p[1];
  CHECK_SYS(fcntl(r, F_SETOWN, getpid()));
  CHECK_SYS(fcntl(r, F_SETSIG, SIGRT));
  CHECK_SYS(fcntl(r, F_SETFL, O_ASYNC));
  set_async(w, SIGRT);
  CHECK_EQ(write(w, "abc", 3), 3);
  siginfo_t si;
  expect_sig(SIGRT, &si);
  CHECK_EQ(si.si_code, POLL_IN);
  CHECK_EQ(si.si_band, POLLIN | POLLRDNORM);
  CHECK_EQ(si.si_fd, r);
  expect_none();

  /* Reading makes room: the writer hears POLL_OUT. */
  char buf[8];
  CHECK_EQ(read(p[0], buf, sizeof(buf)), 3);
  expect_sig(SIGRT, &si);
  CHECK_EQ(si.si_code, POLL_OUT);
  CHECK_EQ(si.si_band, POLLOUT | POLLWRNORM | POLLWRBAND);
  CHECK_EQ(si.si_fd, w);
  drain();

  /* Clearing O_ASYNC stops the signals. */
  CHECK_SYS(fcntl(r, F_SETFL, 0));
  CHECK_EQ(write(w, "abc", 3), 3);
  expect_none();
  CHECK_EQ(read(p[0], buf, sizeof(buf)), 3);
  drain();
  CHECK_SYS(fcntl(w, F_SETFL, 0));

  /* FIOASYNC turns it back on, through p[0] this time. */
  int on = 1;
  CHECK_SYS(ioctl(p[0], FIOASYNC, &on));
  CHECK(fcntl(r, F_GETFL) & O_ASYNC);
  CHECK_EQ(write(w, "abc", 3), 3);
  expect_sig(SIGRT, &si);
  CHECK_EQ(si.si_fd, p[0]);
  CHECK_EQ(read(p[0], buf, sizeof(buf)), 3);
  drain();

  /* Closing every descriptor of the reader stops them too. */
  close(r);
  close(p[0]);
  expect_none();
  close(w);
}

static void fifo_async(void) {
  char *dir = test_tmpdir();
  char path[128];
  snprintf(path, sizeof(path), "%s/fifo", dir);
  CHECK_SYS(mkfifo(path, 0600));
  int r = open(path, O_RDONLY | O_NONBLOCK);
  CHECK_SYS(r);
  int w = open(path, O_WRONLY);
  CHECK_SYS(w);
  set_async(r, SIGRT);
  CHECK_EQ(write(w, "hi", 2), 2);
  siginfo_t si;
  expect_sig(SIGRT, &si);
  CHECK_EQ(si.si_code, POLL_IN);
  CHECK_EQ(si.si_fd, r);
  drain();
  close(r);
  close(w);
  test_rmdir(dir);
}

static void unix_socket_async(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  int v = getpid();
  CHECK_SYS(ioctl(sv[0], FIOSETOWN, &v));
  v = 0;
  CHECK_SYS(ioctl(sv[0], FIOGETOWN, &v));
  CHECK_EQ(v, getpid());
  CHECK_EQ(fcntl(sv[0], F_GETOWN), getpid());
  v = -getpgrp();
  CHECK_SYS(ioctl(sv[0], SIOCSPGRP, &v));
  v = 0;
  CHECK_SYS(ioctl(sv[0], SIOCGPGRP, &v));
  CHECK_EQ(v, -getpgrp());
  v = getpid();
  CHECK_SYS(ioctl(sv[0], FIOSETOWN, &v));
  CHECK_SYS(fcntl(sv[0], F_SETSIG, SIGRT));
  int on = 1;
  CHECK_SYS(ioctl(sv[0], FIOASYNC, &on));
  CHECK_EQ(send(sv[1], "ping", 4, 0), 4);
  siginfo_t si;
  expect_sig(SIGRT, &si);
  CHECK_EQ(si.si_code, POLL_IN);
  CHECK_EQ(si.si_fd, sv[0]);
  drain();
  close(sv[0]);
  close(sv[1]);
}

static void tcp_async(void) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(l);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_SYS(bind(l, (struct sockaddr *)&a, sizeof(a)));
  socklen_t len = sizeof(a);
  CHECK_SYS(getsockname(l, (struct sockaddr *)&a, &len));
  CHECK_SYS(listen(l, 4));
  set_async(l, SIGRT);

  /* A new connection makes the listener readable. */
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(c);
  CHECK_SYS(connect(c, (struct sockaddr *)&a, sizeof(a)));
  siginfo_t si;
  expect_sig(SIGRT, &si);
  CHECK_EQ(si.si_code, POLL_IN);
  CHECK_EQ(si.si_fd, l);
  int s = accept(l, NULL, NULL);
  CHECK_SYS(s);
  drain();

  set_async(s, SIGRT);
  CHECK_EQ(send(c, "data", 4, 0), 4);
  expect_sig(SIGRT, &si);
  CHECK_EQ(si.si_code, POLL_IN);
  CHECK_EQ(si.si_fd, s);
  drain();
  close(c);
  close(s);
  close(l);
}

static void pty_async(void) {
  int m, s;
  CHECK_SYS(openpty(&m, &s, NULL, NULL, NULL));
  set_async(s, SIGRT);
  CHECK_EQ(write(m, "line\n", 5), 5);
  expect_fd(s, POLL_IN);
  set_async(m, SIGRT);
  CHECK_EQ(write(s, "out\n", 4), 4);
  expect_fd(m, POLL_IN);
  close(m);
  close(s);
  drain();
}

static void no_fasync_files(void) {
  int e = eventfd(0, 0);
  CHECK_SYS(e);
  int on = 1;
  CHECK_ERR(ioctl(e, FIOASYNC, &on), ENOTTY);
  CHECK_SYS(fcntl(e, F_SETOWN, getpid()));
  CHECK_SYS(fcntl(e, F_SETFL, O_ASYNC));
  CHECK(!(fcntl(e, F_GETFL) & O_ASYNC));
  uint64_t one = 1;
  CHECK_EQ(write(e, &one, 8), 8);
  expect_none();
  close(e);
}

static void pgrp_owner(void) {
  int p[2], ready[2];
  CHECK_SYS(pipe(p));
  CHECK_SYS(pipe(ready));
  pid_t c = fork();
  CHECK_SYS(c);
  if (c == 0) {
    /* Alone in a new group, which owns the pipe. */
    CHECK_SYS(setpgid(0, 0));
    CHECK_SYS(fcntl(p[0], F_SETOWN, -getpid()));
    CHECK_SYS(fcntl(p[0], F_SETSIG, SIGRT));
    CHECK_SYS(fcntl(p[0], F_SETFL, O_ASYNC));
    CHECK_EQ(write(ready[1], "r", 1), 1);
    siginfo_t si;
    if (wait_sig(SIGRT, &si, 5000) != SIGRT || si.si_code != POLL_IN) _exit(2);
    _exit(0);
  }
  char b;
  CHECK_EQ(read(ready[0], &b, 1), 1);
  CHECK_EQ(fcntl(p[0], F_GETOWN), -c);
  CHECK_EQ(write(p[1], "x", 1), 1);
  int st;
  CHECK_SYS(waitpid(c, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* The parent is not in the group. */
  expect_none();
  close(p[0]);
  close(p[1]);
  close(ready[0]);
  close(ready[1]);
}

static volatile pid_t thread_tid;
static int thread_pipe[2];
static volatile int thread_got;

static void *tid_thread(void *arg) {
  (void)arg;
  thread_tid = syscall(SYS_gettid);
  siginfo_t si;
  if (wait_sig(SIGRT, &si, 5000) == SIGRT && si.si_code == POLL_IN) thread_got = 1;
  return NULL;
}

static void tid_owner(void) {
  CHECK_SYS(pipe(thread_pipe));
  pthread_t th;
  CHECK(pthread_create(&th, NULL, tid_thread, NULL) == 0);
  while (thread_tid == 0) usleep(1000);
  struct f_owner_ex ex = {F_OWNER_TID, thread_tid};
  CHECK_SYS(fcntl(thread_pipe[0], F_SETOWN_EX, &ex));
  CHECK_SYS(fcntl(thread_pipe[0], F_SETSIG, SIGRT));
  CHECK_SYS(fcntl(thread_pipe[0], F_SETFL, O_ASYNC));
  CHECK_EQ(write(thread_pipe[1], "t", 1), 1);
  pthread_join(th, NULL);
  CHECK(thread_got);
  /* Thread-directed: the main thread has nothing pending. */
  expect_none();
  /* The exited thread no longer owns the pipe. */
  CHECK_EQ(fcntl(thread_pipe[0], F_GETOWN), 0);
  close(thread_pipe[0]);
  close(thread_pipe[1]);
}

static void permission(void) {
  if (geteuid() != 0) {
    printf("SKIP permission (not root)\n");
    return;
  }
  int p[2], ready[2];
  CHECK_SYS(pipe(p));
  CHECK_SYS(pipe(ready));
  pid_t parent = getpid();
  pid_t c = fork();
  CHECK_SYS(c);
  if (c == 0) {
    /* An unprivileged owner setter may not signal root's process. */
    CHECK_SYS(setresuid(65534, 65534, 65534));
    CHECK_SYS(fcntl(p[0], F_SETOWN, parent));
    CHECK_SYS(fcntl(p[0], F_SETSIG, SIGRT));
    CHECK_SYS(fcntl(p[0], F_SETFL, O_ASYNC));
    CHECK_EQ(write(ready[1], "r", 1), 1);
    _exit(0);
  }
  char b;
  CHECK_EQ(read(ready[0], &b, 1), 1);
  CHECK_SYS(waitpid(c, NULL, 0));
  CHECK_EQ(fcntl(p[0], F_GETOWN), parent);
  CHECK_EQ(write(p[1], "x", 1), 1);
  expect_none();
  /* Root setting the same owner is allowed. */
  CHECK_SYS(fcntl(p[0], F_SETOWN, parent));
  CHECK_EQ(write(p[1], "x", 1), 1);
  siginfo_t si;
  expect_sig(SIGRT, &si);
  drain();
  close(p[0]);
  close(p[1]);
  close(ready[0]);
  close(ready[1]);
}

int main(void) {
  test_init();
  block_all();
  RUN(owner_forms);
  RUN(exited_owner);
  RUN(pipe_sigio);
  RUN(pipe_setsig);
  RUN(fifo_async);
  RUN(unix_socket_async);
  RUN(tcp_async);
  RUN(pty_async);
  RUN(no_fasync_files);
  RUN(pgrp_owner);
  RUN(tid_owner);
  RUN(permission);
  return 0;
}
