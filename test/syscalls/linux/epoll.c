/*
 * epoll: epoll_create1, epoll_ctl, epoll_wait/epoll_pwait, with pipes and
 * eventfd as event sources.
 * Checks level-triggered readiness, edge-triggered reporting only on new
 * data, EPOLLONESHOT disarming until EPOLL_CTL_MOD, that the user data comes
 * back, timeouts, automatic removal when the last fd reference is closed,
 * eventfd counter and semaphore semantics, and epoll_ctl errors; nested
 * epolls and the ELOOP limits, EPOLLEXCLUSIVE rules, fair (round-robin)
 * reporting, waking a blocked epoll_wait from another thread, EINTR (never
 * restarted), and epoll_pwait/epoll_pwait2 signal masks and timeouts.
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <signal.h>

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

static void create_variants(void) {
  CHECK_ERR(epoll_create(0), EINVAL);
  CHECK_ERR(epoll_create(-1), EINVAL);
  int ep = epoll_create(1);
  CHECK(ep >= 0);
  CHECK_EQ(fcntl(ep, F_GETFD), 0);
  CHECK_EQ(fcntl(ep, F_GETFL) & O_ACCMODE, O_RDWR);
  struct stat st;
  CHECK_SYS(fstat(ep, &st));
  CHECK_EQ(st.st_mode, 0600);
  char path[64], link[64] = {0};
  snprintf(path, sizeof(path), "/proc/self/fd/%d", ep);
  CHECK(readlink(path, link, sizeof(link) - 1) > 0);
  CHECK_EQ(strcmp(link, "anon_inode:[eventpoll]"), 0);
  /* An epoll file cannot be read or written. */
  char c;
  CHECK_ERR(read(ep, &c, 1), EINVAL);
  close(ep);
}

static void more_ctl_errors(void) {
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN};
  char *dir = test_tmpdir();
  char file[128];
  snprintf(file, sizeof(file), "%s/f", dir);
  int f = open(file, O_CREAT | O_RDWR, 0600);
  CHECK(f >= 0);
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev), EPERM);
  int d = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, d, &ev), EPERM);
  /* Unpollable beats "not an epoll", as on Linux. */
  CHECK_ERR(epoll_ctl(f, EPOLL_CTL_ADD, d, &ev), EPERM);
  close(d);
  close(f);
  test_rmdir(dir);
  int efd = eventfd(0, 0);
  CHECK_ERR(epoll_ctl(ep, 99, efd, &ev), EINVAL);
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, efd, (struct epoll_event *)8), EFAULT);
  /* DEL ignores the event pointer. */
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_DEL, efd, (struct epoll_event *)8));
  /* The same file under a second descriptor is a second registration. */
  int d2 = dup(efd);
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, d2, &ev));
  CHECK_SYS(eventfd_write(efd, 1));
  struct epoll_event out[4];
  CHECK_EQ(epoll_wait(ep, out, 4, 0), 2);
  struct epoll_event o;
  CHECK_ERR(syscall(SYS_epoll_wait, ep, &o, -1, 0), EINVAL);
  CHECK_ERR(epoll_wait(efd, &o, 1, 0), EINVAL);
  CHECK_ERR(epoll_wait(-1, &o, 1, 0), EBADF);
  CHECK_ERR(syscall(SYS_epoll_wait, ep, (struct epoll_event *)8, 1, 0), EFAULT);
  /* The event that faulted was not lost. */
  CHECK_EQ(epoll_wait(ep, out, 4, 0), 2);
  close(d2);
  close(efd);
  close(ep);
}

static void flags_accepted(void) {
  int ep = epoll_create1(0);
  int p[2];
  CHECK_SYS(pipe(p));
  /* EPOLLWAKEUP and EPOLLRDHUP are accepted; pipes never report RDHUP. */
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLWAKEUP, .data.u32 = 5};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  close(p[1]);
  struct epoll_event out;
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 1);
  CHECK_EQ(out.events, EPOLLHUP);
  close(p[0]);
  /* EPOLLEXCLUSIVE: only at ADD, only with in/out/err/hup/et/wakeup. */
  int efd = eventfd(1, 0), efd2 = eventfd(0, 0), inner = epoll_create1(0);
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 1);
  CHECK_EQ(out.events, EPOLLIN);
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev), EINVAL);
  ev.events = EPOLLIN;
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev), EINVAL);
  ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, efd2, &ev), EINVAL);
  ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDNORM;
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, efd2, &ev), EINVAL);
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, inner, &ev), EINVAL);
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));
  close(efd);
  close(efd2);
  close(inner);
  close(ep);
}

static void oneshot_hides_hup(void) {
  int ep = epoll_create1(0);
  int p[2];
  CHECK_SYS(pipe(p));
  struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  CHECK_EQ(write(p[1], "x", 1), 1);
  struct epoll_event out;
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 1);
  /* A fired one-shot reports nothing, not even a hang-up. */
  close(p[1]);
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 1);
  CHECK_EQ(out.events, EPOLLIN | EPOLLHUP);
  close(p[0]);
  close(ep);
}

static void nested(void) {
  int outer = epoll_create1(0), inner = epoll_create1(0);
  int efd = eventfd(0, 0);
  struct epoll_event ev = {.events = EPOLLIN};
  CHECK_SYS(epoll_ctl(inner, EPOLL_CTL_ADD, efd, &ev));
  ev.data.u32 = 42;
  CHECK_SYS(epoll_ctl(outer, EPOLL_CTL_ADD, inner, &ev));
  struct epoll_event out;
  CHECK_EQ(epoll_wait(outer, &out, 1, 0), 0);
  struct pollfd pfd = {.fd = inner, .events = POLLIN};
  CHECK_EQ(poll(&pfd, 1, 0), 0);
  CHECK_SYS(eventfd_write(efd, 1));
  CHECK_EQ(poll(&pfd, 1, 0), 1);
  CHECK_EQ(pfd.revents, POLLIN);
  CHECK_EQ(epoll_wait(outer, &out, 1, 0), 1);
  CHECK_EQ(out.data.u32, 42);
  CHECK_EQ(out.events, EPOLLIN);
  /* Draining the inner one makes the outer one idle again. */
  eventfd_t v;
  CHECK_SYS(eventfd_read(efd, &v));
  CHECK_EQ(epoll_wait(outer, &out, 1, 0), 0);
  /* Cycles are refused. */
  CHECK_ERR(epoll_ctl(inner, EPOLL_CTL_ADD, outer, &ev), ELOOP);
  CHECK_ERR(epoll_ctl(outer, EPOLL_CTL_ADD, inner, &ev), EEXIST);
  close(efd);
  close(inner);
  close(outer);
}

static void nesting_depth(void) {
  /* Linux allows chains of at most five epolls (four links). */
  int e[6];
  struct epoll_event ev = {.events = EPOLLIN};
  for (int i = 0; i < 6; i++) e[i] = epoll_create1(0);
  for (int i = 0; i < 4; i++) CHECK_SYS(epoll_ctl(e[i], EPOLL_CTL_ADD, e[i + 1], &ev));
  CHECK_ERR(epoll_ctl(e[4], EPOLL_CTL_ADD, e[5], &ev), ELOOP);
  CHECK_ERR(epoll_ctl(e[5], EPOLL_CTL_ADD, e[0], &ev), ELOOP);
  CHECK_ERR(epoll_ctl(e[3], EPOLL_CTL_ADD, e[0], &ev), ELOOP);
  /* Removing a link makes room again. */
  CHECK_SYS(epoll_ctl(e[0], EPOLL_CTL_DEL, e[1], NULL));
  CHECK_SYS(epoll_ctl(e[4], EPOLL_CTL_ADD, e[5], &ev));
  for (int i = 0; i < 6; i++) close(e[i]);
}

static void round_robin(void) {
  int ep = epoll_create1(0);
  int e[3];
  for (int i = 0; i < 3; i++) {
    e[i] = eventfd(1, 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, e[i], &ev));
  }
  /* Every ready file is reported once before any is reported twice. */
  for (int round = 0; round < 3; round++) {
    int seen = 0;
    for (int i = 0; i < 3; i++) {
      struct epoll_event out;
      CHECK_EQ(epoll_wait(ep, &out, 1, 0), 1);
      CHECK(out.data.u32 < 3);
      CHECK(!(seen & (1 << out.data.u32)));
      seen |= 1 << out.data.u32;
    }
    CHECK_EQ(seen, 7);
  }
  for (int i = 0; i < 3; i++) close(e[i]);
  close(ep);
}

static void *write_later(void *arg) {
  usleep(20 * 1000);
  CHECK_SYS(eventfd_write(*(int *)arg, 3));
  return NULL;
}

static void blocking_wakeup(void) {
  int ep = epoll_create1(0);
  int efd = eventfd(0, 0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 9};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, write_later, &efd), 0);
  struct epoll_event out;
  CHECK_EQ(epoll_wait(ep, &out, 1, 5000), 1);
  CHECK_EQ(out.data.u32, 9);
  pthread_join(th, NULL);
  close(efd);
  close(ep);
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1++; }

struct kill_arg {
  pthread_t target;
  int sig;
};

static void *kill_later(void *arg) {
  struct kill_arg *k = arg;
  usleep(20 * 1000);
  pthread_kill(k->target, k->sig);
  return NULL;
}

static void interrupted(void) {
  struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
  CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
  int ep = epoll_create1(0);
  int efd = eventfd(0, 0);
  struct epoll_event ev = {.events = EPOLLIN};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
  /* Even with SA_RESTART, epoll_wait fails with EINTR. */
  got_usr1 = 0;
  struct kill_arg k = {pthread_self(), SIGUSR1};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, kill_later, &k), 0);
  struct epoll_event out;
  CHECK_ERR(epoll_wait(ep, &out, 1, 5000), EINTR);
  CHECK_EQ(got_usr1, 1);
  pthread_join(th, NULL);

  /* epoll_pwait: SIGUSR1 blocked in the thread, unblocked for the wait. */
  sigset_t block, empty, now;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigemptyset(&empty);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &block, NULL));
  got_usr1 = 0;
  CHECK_EQ(pthread_create(&th, NULL, kill_later, &k), 0);
  CHECK_ERR(epoll_pwait(ep, &out, 1, 5000, &empty), EINTR);
  CHECK_EQ(got_usr1, 1);
  pthread_join(th, NULL);
  CHECK_SYS(sigprocmask(SIG_SETMASK, NULL, &now));
  CHECK(sigismember(&now, SIGUSR1));

  /* epoll_pwait2 with a timespec timeout, and a mask that keeps SIGUSR1
   * blocked: the signal stays pending and the wait times out. */
  struct timespec ts = {.tv_sec = 0, .tv_nsec = 30 * 1000 * 1000};
  raise(SIGUSR1);
  long long t0 = test_now_ns();
  CHECK_EQ(syscall(SYS_epoll_pwait2, ep, &out, 1, &ts, &block, 8), 0);
  CHECK(test_now_ns() - t0 >= 30 * 1000 * 1000);
  CHECK_EQ(got_usr1, 1);
  /* An empty mask lets the pending signal in at once. */
  CHECK_ERR(syscall(SYS_epoll_pwait2, ep, &out, 1, &ts, &empty, 8), EINTR);
  CHECK_EQ(got_usr1, 2);
  CHECK_ERR(syscall(SYS_epoll_pwait2, ep, &out, 1, &ts, &empty, 4), EINVAL);
  struct timespec bad = {.tv_sec = 0, .tv_nsec = 1000000000};
  CHECK_ERR(syscall(SYS_epoll_pwait2, ep, &out, 1, &bad, NULL, 8), EINVAL);
  /* A NULL timeout waits; a ready file ends it. */
  CHECK_SYS(eventfd_write(efd, 1));
  CHECK_EQ(syscall(SYS_epoll_pwait2, ep, &out, 1, NULL, NULL, 8), 1);
  CHECK_SYS(sigprocmask(SIG_UNBLOCK, &block, NULL));
  signal(SIGUSR1, SIG_DFL);
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
  RUN(create_variants);
  RUN(more_ctl_errors);
  RUN(flags_accepted);
  RUN(oneshot_hides_hup);
  RUN(nested);
  RUN(nesting_depth);
  RUN(round_robin);
  RUN(blocking_wakeup);
  RUN(interrupted);
  return 0;
}
