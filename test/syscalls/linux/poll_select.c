/*
 * poll_select: poll(2), ppoll(2), select(2) and pselect6(2).
 * Checks readiness of pipe ends, POLLNVAL and ignored negative descriptors,
 * POLLHUP without asking, timeouts (zero returns at once, a short one expires
 * after at least its length), the remaining time written back by select and
 * ppoll, select's EBADF and EINVAL, and the temporary signal mask of ppoll and
 * pselect6 (a signal it unblocks interrupts with EINTR, and the old mask is
 * back afterwards).
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/syscall.h>

static int p[2];

static void readiness(void) {
  struct pollfd fds[4] = {
      {p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0}, {p[0], POLLOUT, 0}};
  CHECK_EQ(poll(fds, 4, 0), 1);
  CHECK_EQ(fds[0].revents, 0);
  CHECK_EQ(fds[1].revents, POLLOUT);
  CHECK_EQ(fds[2].revents, 0);
  CHECK_EQ(fds[3].revents, 0);
  CHECK_EQ(write(p[1], "x", 1), 1);
  CHECK_EQ(poll(fds, 4, 0), 2);
  CHECK_EQ(fds[0].revents, POLLIN);
  char c;
  CHECK_EQ(read(p[0], &c, 1), 1);
}

static void nval_and_hup(void) {
  int q[2];
  CHECK_SYS(pipe(q));
  int closed = dup(q[0]);
  close(closed);
  close(q[1]);
  /* HUP is reported without being asked for. */
  struct pollfd fds[2] = {{q[0], 0, 0}, {closed, POLLIN, 0}};
  CHECK_EQ(poll(fds, 2, 1000), 2);
  CHECK_EQ(fds[0].revents, POLLHUP);
  CHECK_EQ(fds[1].revents, POLLNVAL);
  close(q[0]);
  CHECK_EQ(poll(fds, 1, 0), 1);
  CHECK_EQ(fds[0].revents, POLLNVAL);
}

static void poll_timeout(void) {
  struct pollfd fd = {p[0], POLLIN, 0};
  long long t0 = test_now_ns();
  CHECK_EQ(poll(&fd, 1, 50), 0);
  CHECK(test_now_ns() - t0 >= 50000000LL);
  CHECK_EQ(fd.revents, 0);
  /* No descriptors at all: a plain sleep. */
  t0 = test_now_ns();
  CHECK_EQ(poll(NULL, 0, 20), 0);
  CHECK(test_now_ns() - t0 >= 20000000LL);
  CHECK_ERR(syscall(SYS_poll, (void *)8, 1, 0), EFAULT);
}

static void ppoll_timeout_update(void) {
  struct pollfd fd = {p[0], POLLIN, 0};
  struct timespec ts = {0, 30000000};
  CHECK_EQ(syscall(SYS_ppoll, &fd, 1, &ts, NULL, 8), 0);
  CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0);
  /* Ready at once: most of the time is left. */
  CHECK_EQ(write(p[1], "x", 1), 1);
  ts.tv_sec = 10;
  ts.tv_nsec = 0;
  CHECK_EQ(syscall(SYS_ppoll, &fd, 1, &ts, NULL, 8), 1);
  CHECK(ts.tv_sec >= 8 && ts.tv_sec <= 10);
  char c;
  CHECK_EQ(read(p[0], &c, 1), 1);
  ts.tv_nsec = 1000000000;
  CHECK_ERR(syscall(SYS_ppoll, &fd, 1, &ts, NULL, 8), EINVAL);
  ts.tv_sec = -1;
  ts.tv_nsec = 0;
  CHECK_ERR(syscall(SYS_ppoll, &fd, 1, &ts, NULL, 8), EINVAL);
  sigset_t s;
  sigemptyset(&s);
  ts.tv_sec = 0;
  CHECK_ERR(syscall(SYS_ppoll, &fd, 1, &ts, &s, 4), EINVAL);
}

static void select_basic(void) {
  fd_set r, w;
  FD_ZERO(&r);
  FD_ZERO(&w);
  FD_SET(p[0], &r);
  FD_SET(p[1], &w);
  struct timeval tv = {0, 0};
  CHECK_EQ(syscall(SYS_select, p[1] + 1, &r, &w, NULL, &tv), 1);
  CHECK(!FD_ISSET(p[0], &r));
  CHECK(FD_ISSET(p[1], &w));
  CHECK_EQ(write(p[1], "x", 1), 1);
  FD_SET(p[0], &r);
  FD_SET(p[1], &w);
  /* The same descriptor in two sets counts twice. */
  FD_SET(p[1], &r);
  CHECK_EQ(syscall(SYS_select, p[1] + 1, &r, &w, NULL, NULL), 2);
  CHECK(FD_ISSET(p[0], &r) && FD_ISSET(p[1], &w) && !FD_ISSET(p[1], &r));
  char c;
  CHECK_EQ(read(p[0], &c, 1), 1);
}

static void select_timeout(void) {
  fd_set r;
  FD_ZERO(&r);
  FD_SET(p[0], &r);
  struct timeval tv = {0, 40000};
  long long t0 = test_now_ns();
  CHECK_EQ(syscall(SYS_select, p[0] + 1, &r, NULL, NULL, &tv), 0);
  CHECK(test_now_ns() - t0 >= 40000000LL);
  CHECK(!FD_ISSET(p[0], &r));
  CHECK(tv.tv_sec == 0 && tv.tv_usec == 0);
  /* Microseconds beyond a second are accepted. */
  FD_SET(p[1], &r);
  tv.tv_sec = 0;
  tv.tv_usec = 3000000;
  fd_set w;
  FD_ZERO(&w);
  FD_SET(p[1], &w);
  CHECK_EQ(syscall(SYS_select, p[1] + 1, NULL, &w, NULL, &tv), 1);
  CHECK(tv.tv_sec >= 1 && tv.tv_sec <= 2 && tv.tv_usec < 1000000);
  tv.tv_sec = -1;
  CHECK_ERR(syscall(SYS_select, p[1] + 1, NULL, &w, NULL, &tv), EINVAL);
  tv.tv_sec = 0;
  CHECK_ERR(syscall(SYS_select, -1, NULL, NULL, NULL, &tv), EINVAL);
  /* No sets: a sleep. */
  tv.tv_usec = 10000;
  CHECK_EQ(syscall(SYS_select, 0, NULL, NULL, NULL, &tv), 0);
}

static void select_ebadf(void) {
  int fd = dup(p[0]);
  close(fd);
  fd_set r;
  FD_ZERO(&r);
  FD_SET(fd, &r);
  struct timeval tv = {0, 0};
  CHECK_ERR(syscall(SYS_select, fd + 1, &r, NULL, NULL, &tv), EBADF);
  /* Bits at or above n are not looked at. */
  CHECK_EQ(syscall(SYS_select, fd, &r, NULL, NULL, &tv), 0);
}

static volatile sig_atomic_t got;
static void on_usr1(int sig) { got = sig; }

static void ppoll_sigmask(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_usr1;
  CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
  sigset_t block, old, during, after;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &block, &old));
  raise(SIGUSR1); /* pending, blocked */
  CHECK(!got);
  sigemptyset(&during);
  struct pollfd fd = {p[0], POLLIN, 0};
  struct timespec ts = {5, 0};
  got = 0;
  CHECK_ERR(syscall(SYS_ppoll, &fd, 1, &ts, &during, 8), EINTR);
  CHECK_EQ(got, SIGUSR1);
  CHECK_SYS(sigprocmask(SIG_SETMASK, NULL, &after));
  CHECK(sigismember(&after, SIGUSR1));
  /* Without a mask argument the blocked signal does not interrupt. */
  raise(SIGUSR1);
  got = 0;
  ts.tv_sec = 0;
  ts.tv_nsec = 1000000;
  CHECK_EQ(syscall(SYS_ppoll, &fd, 1, &ts, NULL, 8), 0);
  CHECK(!got);
  /* pselect6 the same way: its sixth argument is {sigset *, size}. */
  fd_set r;
  FD_ZERO(&r);
  FD_SET(p[0], &r);
  struct {
    const sigset_t *ss;
    size_t len;
  } arg = {&during, 8};
  ts.tv_sec = 5;
  ts.tv_nsec = 0;
  CHECK_ERR(syscall(SYS_pselect6, p[0] + 1, &r, NULL, NULL, &ts, &arg), EINTR);
  CHECK_EQ(got, SIGUSR1);
  CHECK_SYS(sigprocmask(SIG_SETMASK, NULL, &after));
  CHECK(sigismember(&after, SIGUSR1));
  arg.len = 7;
  CHECK_ERR(syscall(SYS_pselect6, p[0] + 1, &r, NULL, NULL, &ts, &arg), EINVAL);
  CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
}

static void pselect_timeout(void) {
  fd_set r;
  FD_ZERO(&r);
  FD_SET(p[0], &r);
  struct timespec ts = {0, 20000000};
  long long t0 = test_now_ns();
  CHECK_EQ(syscall(SYS_pselect6, p[0] + 1, &r, NULL, NULL, &ts, NULL), 0);
  CHECK(test_now_ns() - t0 >= 20000000LL);
  CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0);
  ts.tv_nsec = -1;
  CHECK_ERR(syscall(SYS_pselect6, p[0] + 1, &r, NULL, NULL, &ts, NULL), EINVAL);
}

int main(void) {
  test_init();
  CHECK_SYS(pipe(p));
  RUN(readiness);
  RUN(nval_and_hup);
  RUN(poll_timeout);
  RUN(ppoll_timeout_update);
  RUN(select_basic);
  RUN(select_timeout);
  RUN(select_ebadf);
  RUN(ppoll_sigmask);
  RUN(pselect_timeout);
  return 0;
}
