/*
 * timerfd: timerfd_create clocks and flags, timerfd_settime (relative,
 * TFD_TIMER_ABSTIME, periodic, disarming, the old value) and
 * timerfd_gettime, reads returning the expiration count, EAGAIN, blocking
 * reads, poll and epoll readiness, TFD_IOC_SET_TICKS, and argument errors.
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#define MS (1000 * 1000LL)

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

static void create(void) {
  int clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME};
  for (unsigned i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
    int t = timerfd_create(clocks[i], 0);
    CHECK(t >= 0);
    close(t);
  }
  CHECK_ERR(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), EINVAL);
  CHECK_ERR(timerfd_create(CLOCK_MONOTONIC_RAW, 0), EINVAL);
  CHECK_ERR(timerfd_create(42, 0), EINVAL);
  CHECK_ERR(timerfd_create(CLOCK_MONOTONIC, 0x10), EINVAL);
  int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  CHECK_EQ(fcntl(t, F_GETFD), FD_CLOEXEC);
  CHECK_EQ(fcntl(t, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);
  char path[64], link[64] = {0};
  snprintf(path, sizeof(path), "/proc/self/fd/%d", t);
  CHECK(readlink(path, link, sizeof(link) - 1) > 0);
  CHECK_EQ(strcmp(link, "anon_inode:[timerfd]"), 0);
  close(t);
  /* The alarm clocks need CAP_WAKE_ALARM, which root has. */
  if (geteuid() == 0) {
    t = timerfd_create(CLOCK_BOOTTIME_ALARM, 0);
    CHECK(t >= 0);
    close(t);
  }
}

static void oneshot(void) {
  int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  uint64_t n;
  CHECK_ERR(read(t, &n, 8), EAGAIN);
  struct itimerspec cur;
  CHECK_SYS(timerfd_gettime(t, &cur));
  CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
  struct itimerspec its = {.it_value = {.tv_nsec = 20 * MS}};
  long long t0 = test_now_ns();
  CHECK_SYS(timerfd_settime(t, 0, &its, NULL));
  CHECK_SYS(timerfd_gettime(t, &cur));
  CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 20 * MS);
  CHECK(cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 0);
  struct pollfd p = {.fd = t, .events = POLLIN};
  CHECK_EQ(poll(&p, 1, 5000), 1);
  CHECK(test_now_ns() - t0 >= 20 * MS);
  CHECK_ERR(read(t, &n, 7), EINVAL);
  CHECK_EQ(read(t, &n, 8), 8);
  CHECK_EQ(n, 1);
  CHECK_ERR(read(t, &n, 8), EAGAIN);
  /* Expired and not periodic: disarmed. */
  CHECK_SYS(timerfd_gettime(t, &cur));
  CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
  close(t);
}

static void blocking_read(void) {
  int t = timerfd_create(CLOCK_REALTIME, 0);
  struct itimerspec its = {.it_value = {.tv_nsec = 10 * MS}};
  long long t0 = test_now_ns();
  CHECK_SYS(timerfd_settime(t, 0, &its, NULL));
  uint64_t n;
  CHECK_EQ(read(t, &n, 8), 8);
  CHECK_EQ(n, 1);
  CHECK(test_now_ns() - t0 >= 10 * MS);
  close(t);
}

static void periodic(void) {
  int t = timerfd_create(CLOCK_MONOTONIC, 0);
  struct itimerspec its = {.it_value = {.tv_nsec = 5 * MS}, .it_interval = {.tv_nsec = 5 * MS}};
  long long t0 = test_now_ns();
  CHECK_SYS(timerfd_settime(t, 0, &its, NULL));
  uint64_t total = 0, n;
  while (total < 4) {
    CHECK_EQ(read(t, &n, 8), 8);
    CHECK(n >= 1);
    total += n;
  }
  /* Expirations are counted by the clock, not by reads. */
  CHECK(test_now_ns() - t0 >= 20 * MS);
  struct itimerspec cur;
  CHECK_SYS(timerfd_gettime(t, &cur));
  CHECK(cur.it_interval.tv_nsec == 5 * MS);
  CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 5 * MS);
  /* Setting again returns the old setting and clears the count. */
  usleep(12 * 1000);
  struct itimerspec off = {{0, 0}, {0, 0}}, old;
  CHECK_SYS(timerfd_settime(t, 0, &off, &old));
  CHECK(old.it_interval.tv_nsec == 5 * MS);
  int fl = fcntl(t, F_GETFL);
  CHECK_SYS(fcntl(t, F_SETFL, fl | O_NONBLOCK));
  CHECK_ERR(read(t, &n, 8), EAGAIN);
  close(t);
}

static void absolute(void) {
  int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  /* Started 10 periods ago: about ten expirations are already due. */
  struct itimerspec its = {.it_value = {.tv_sec = now.tv_sec - 10, .tv_nsec = now.tv_nsec},
                           .it_interval = {.tv_sec = 1}};
  CHECK_SYS(timerfd_settime(t, TFD_TIMER_ABSTIME, &its, NULL));
  uint64_t n;
  CHECK_EQ(read(t, &n, 8), 8);
  CHECK(n >= 10 && n <= 12);
  close(t);
  /* An absolute time in the future on the realtime clock, with the
   * cancel-on-set flag accepted. */
  t = timerfd_create(CLOCK_REALTIME, 0);
  clock_gettime(CLOCK_REALTIME, &now);
  long long ns = now.tv_nsec + 15 * MS;
  struct itimerspec a = {.it_value = {.tv_sec = now.tv_sec + ns / 1000000000, .tv_nsec = ns % 1000000000}};
  long long t0 = test_now_ns();
  CHECK_SYS(timerfd_settime(t, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &a, NULL));
  CHECK_EQ(read(t, &n, 8), 8);
  CHECK_EQ(n, 1);
  CHECK(test_now_ns() - t0 >= 10 * MS);
  close(t);
}

static void with_epoll(void) {
  int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 3};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev));
  struct epoll_event out;
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
  struct itimerspec its = {.it_value = {.tv_nsec = 10 * MS}};
  CHECK_SYS(timerfd_settime(t, 0, &its, NULL));
  CHECK_EQ(epoll_wait(ep, &out, 1, 5000), 1);
  CHECK_EQ(out.data.u32, 3);
  uint64_t n;
  CHECK_EQ(read(t, &n, 8), 8);
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
  close(ep);
  close(t);
}

static void set_ticks(void) {
  int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  uint64_t v = 5;
  CHECK_SYS(ioctl(t, TFD_IOC_SET_TICKS, &v));
  uint64_t n;
  CHECK_EQ(read(t, &n, 8), 8);
  CHECK_EQ(n, 5);
  v = 0;
  CHECK_ERR(ioctl(t, TFD_IOC_SET_TICKS, &v), EINVAL);
  close(t);
}

static void errors(void) {
  int t = timerfd_create(CLOCK_MONOTONIC, 0);
  struct itimerspec its = {.it_value = {.tv_nsec = 1000000000}};
  CHECK_ERR(timerfd_settime(t, 0, &its, NULL), EINVAL);
  its.it_value.tv_nsec = 0;
  its.it_value.tv_sec = -1;
  CHECK_ERR(timerfd_settime(t, 0, &its, NULL), EINVAL);
  its.it_value.tv_sec = 1;
  CHECK_ERR(timerfd_settime(t, 0x4, &its, NULL), EINVAL);
  CHECK_ERR(timerfd_settime(t, 0, NULL, NULL), EFAULT);
  int e = eventfd(0, 0);
  CHECK_ERR(timerfd_settime(e, 0, &its, NULL), EINVAL);
  struct itimerspec cur;
  CHECK_ERR(timerfd_gettime(e, &cur), EINVAL);
  CHECK_ERR(timerfd_gettime(-1, &cur), EBADF);
  CHECK_ERR(timerfd_gettime(t, NULL), EFAULT);
  close(e);
  close(t);
}

int main(void) {
  test_init();
  RUN(create);
  RUN(oneshot);
  RUN(blocking_read);
  RUN(periodic);
  RUN(absolute);
  RUN(with_epoll);
  RUN(set_ticks);
  RUN(errors);
  return 0;
}
