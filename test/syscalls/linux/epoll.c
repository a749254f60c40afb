/*
 * epoll: epoll_create1, epoll_ctl, epoll_wait/epoll_pwait, with pipes and
 * eventfd as event sources.
 * Checks level-triggered readiness, edge-triggered reporting only on new
 * data, EPOLLONESHOT disarming until EPOLL_CTL_MOD, that the user data comes
 * back, timeouts, automatic removal when the last fd reference is closed,
 * eventfd counter and semaphore semantics, and epoll_ctl errors.
 */
#include "test.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

static int wait1(int ep, struct epoll_event *ev, int timeout) {
  int n = epoll_wait(ep, ev, 1, timeout);
  CHECK(n >= 0);
  return n;
}

static void level_triggered(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep >= 0);
  CHECK_EQ(fcntl(ep, F_GETFD), FD_CLOEXEC);
  int p[2];
  CHECK_SYS(pipe(p));
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1234567890abcdefULL};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  struct epoll_event out;
  CHECK_EQ(wait1(ep, &out, 0), 0);
  long long t0 = test_now_ns();
  CHECK_EQ(wait1(ep, &out, 30), 0);
  CHECK(test_now_ns() - t0 >= 30 * 1000 * 1000);
  CHECK_EQ(write(p[1], "ab", 2), 2);
  /* Level-triggered: reported again and again while data remains. */
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(wait1(ep, &out, 0), 1);
    CHECK_EQ(out.events, EPOLLIN);
    CHECK(out.data.u64 == 0x1234567890abcdefULL);
  }
  char buf[4];
  CHECK_EQ(read(p[0], buf, sizeof(buf)), 2);
  CHECK_EQ(wait1(ep, &out, 0), 0);
  close(p[1]);
  /* Writer gone: hang-up is reported even though it was not asked for. */
  CHECK_EQ(wait1(ep, &out, 0), 1);
  CHECK(out.events & EPOLLHUP);
  close(p[0]);
  close(ep);
}

static void edge_triggered(void) {
  int ep = epoll_create1(0);
  int p[2];
  CHECK_SYS(pipe2(p, O_NONBLOCK));
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = p[0]};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  struct epoll_event out;
  CHECK_EQ(write(p[1], "a", 1), 1);
  CHECK_EQ(wait1(ep, &out, 0), 1);
  CHECK_EQ(out.data.fd, p[0]);
  /* No new data: no new edge, even though the pipe is still readable. */
  CHECK_EQ(wait1(ep, &out, 0), 0);
  CHECK_EQ(write(p[1], "b", 1), 1);
  CHECK_EQ(wait1(ep, &out, 0), 1);
  close(p[0]);
  close(p[1]);
  close(ep);
}

static void oneshot(void) {
  int ep = epoll_create1(0);
  int efd = eventfd(1, 0);
  CHECK(efd >= 0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u32 = 7};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
  struct epoll_event out;
  CHECK_EQ(wait1(ep, &out, 0), 1);
  CHECK_EQ(out.data.u32, 7);
  /* Disarmed after one report, though still readable. */
  CHECK_EQ(wait1(ep, &out, 0), 0);
  ev.data.u32 = 8;
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev));
  CHECK_EQ(wait1(ep, &out, 0), 1);
  CHECK_EQ(out.data.u32, 8);
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL), ENOENT);
  close(efd);
  close(ep);
}

static void close_removes(void) {
  int ep = epoll_create1(0);
  int efd = eventfd(1, 0);
  struct epoll_event ev = {.events = EPOLLIN};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
  /* A duplicate keeps the file, and so the registration, alive. */
  int d = dup(efd);
  close(efd);
  struct epoll_event out;
  CHECK_EQ(wait1(ep, &out, 0), 1);
  close(d);
  CHECK_EQ(wait1(ep, &out, 0), 0);
  close(ep);
}

static void multiple(void) {
  int ep = epoll_create1(0);
  int e[3];
  for (int i = 0; i < 3; i++) {
    e[i] = eventfd(i == 1 ? 0 : 1, 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, e[i], &ev));
  }
  struct epoll_event out[8];
  int n = epoll_pwait(ep, out, 8, 0, NULL);
  CHECK_EQ(n, 2);
  int seen = 0;
  for (int i = 0; i < n; i++) seen |= 1 << out[i].data.u32;
  CHECK_EQ(seen, 0x5);
  /* maxevents caps one call. */
  CHECK_EQ(epoll_wait(ep, out, 1, 0), 1);
  for (int i = 0; i < 3; i++) close(e[i]);
  close(ep);
}

static void eventfd_semantics(void) {
  int efd = eventfd(0, EFD_NONBLOCK);
  CHECK(efd >= 0);
  uint64_t v;
  CHECK_ERR(read(efd, &v, sizeof(v)), EAGAIN);
  v = 3;
  CHECK_EQ(write(efd, &v, sizeof(v)), 8);
  v = 4;
  CHECK_EQ(write(efd, &v, sizeof(v)), 8);
  /* A read returns and clears the whole counter. */
  CHECK_EQ(read(efd, &v, sizeof(v)), 8);
  CHECK_EQ(v, 7);
  CHECK_ERR(read(efd, &v, 4), EINVAL);
  v = UINT64_MAX;
  CHECK_ERR(write(efd, &v, sizeof(v)), EINVAL);
  close(efd);
  efd = eventfd(2, EFD_NONBLOCK | EFD_SEMAPHORE);
  /* Semaphore mode hands out one unit per read. */
  CHECK_EQ(read(efd, &v, sizeof(v)), 8);
  CHECK_EQ(v, 1);
  CHECK_EQ(read(efd, &v, sizeof(v)), 8);
  CHECK_EQ(v, 1);
  CHECK_ERR(read(efd, &v, sizeof(v)), EAGAIN);
  close(efd);
}

static void ctl_errors(void) {
  int ep = epoll_create1(0);
  int efd = eventfd(0, 0);
  struct epoll_event ev = {.events = EPOLLIN};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), EEXIST);
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
  CHECK_ERR(epoll_ctl(efd, EPOLL_CTL_ADD, efd, &ev), EINVAL);
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, -1, &ev), EBADF);
  /* Regular files are always ready, so epoll refuses them. */
  int f = open("/proc/self/exe", O_RDONLY);
  CHECK(f >= 0);
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev), EPERM);
  close(f);
  int other = eventfd(0, 0);
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, other, &ev), ENOENT);
  close(other);
  struct epoll_event out;
  CHECK_ERR(epoll_wait(ep, &out, 0, 0), EINVAL);
  CHECK_ERR(epoll_create1(12345), EINVAL);
  close(efd);
  close(ep);
}

int main(void) {
  test_init();
  RUN(level_triggered);
  RUN(edge_triggered);
  RUN(oneshot);
  RUN(close_removes);
  RUN(multiple);
  RUN(eventfd_semantics);
  RUN(ctl_errors);
  return 0;
}
