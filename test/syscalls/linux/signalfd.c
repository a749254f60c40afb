/*
 * signalfd: signalfd and signalfd4 flags and errors, reading
 * signalfd_siginfo records for thread- and process-directed signals
 * (several per read), sigqueue values, replacing the mask of an existing
 * signalfd, EAGAIN, poll and epoll readiness, and reads and epoll waits
 * woken by a blocked signal sent from another thread.
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>

static sigset_t usr;

static void create(void) {
  int s = signalfd(-1, &usr, 0);
  CHECK(s >= 0);
  CHECK_EQ(fcntl(s, F_GETFD), 0);
  CHECK_EQ(fcntl(s, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR);
  char path[64], link[64] = {0};
  snprintf(path, sizeof(path), "/proc/self/fd/%d", s);
  CHECK(readlink(path, link, sizeof(link) - 1) > 0);
  CHECK_EQ(strcmp(link, "anon_inode:[signalfd]"), 0);
  /* Re-calling on the fd changes the mask but not the flags. */
  CHECK_EQ(signalfd(s, &usr, SFD_NONBLOCK), s);
  CHECK_EQ(fcntl(s, F_GETFL) & O_NONBLOCK, 0);
  close(s);
  s = signalfd(-1, &usr, SFD_CLOEXEC | SFD_NONBLOCK);
  CHECK_EQ(fcntl(s, F_GETFD), FD_CLOEXEC);
  CHECK_EQ(fcntl(s, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  int e = eventfd(0, 0);
  CHECK_ERR(signalfd(e, &usr, 0), EINVAL);
  CHECK_ERR(signalfd(-1, &usr, 0x4), EINVAL);
  CHECK_ERR(signalfd(-2, &usr, 0), EBADF);
  CHECK_ERR(syscall(SYS_signalfd4, -1, &usr, 4, 0), EINVAL);
  CHECK_ERR(syscall(SYS_signalfd4, -1, NULL, 8, 0), EFAULT);
  close(e);
  close(s);
}

static void read_records(void) {
  int s = signalfd(-1, &usr, SFD_NONBLOCK);
  struct signalfd_siginfo si[4];
  CHECK_ERR(read(s, si, sizeof(si)), EAGAIN);
  CHECK_ERR(read(s, si, sizeof(si[0]) - 1), EINVAL);
  struct pollfd p = {.fd = s, .events = POLLIN};
  CHECK_EQ(poll(&p, 1, 0), 0);
  /* Thread-directed (raise is tgkill) and process-directed. */
  CHECK_SYS(raise(SIGUSR1));
  CHECK_SYS(kill(getpid(), SIGUSR2));
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLIN);
  /* Both come back in one read, lowest signal first. */
  CHECK_EQ(read(s, si, sizeof(si)), 2 * sizeof(si[0]));
  CHECK_EQ(si[0].ssi_signo, SIGUSR1);
  CHECK_EQ(si[0].ssi_code, SI_TKILL);
  CHECK_EQ(si[0].ssi_pid, getpid());
  CHECK_EQ(si[0].ssi_uid, getuid());
  CHECK_EQ(si[1].ssi_signo, SIGUSR2);
  CHECK_EQ(si[1].ssi_code, SI_USER);
  CHECK_EQ(si[1].ssi_pid, getpid());
  CHECK_ERR(read(s, si, sizeof(si)), EAGAIN);
  CHECK_EQ(poll(&p, 1, 0), 0);
  sigset_t pend;
  CHECK_SYS(sigpending(&pend));
  CHECK(!sigismember(&pend, SIGUSR1) && !sigismember(&pend, SIGUSR2));
  /* sigqueue's value arrives in ssi_int and ssi_ptr. */
  union sigval val = {.sival_int = 1234};
  CHECK_SYS(sigqueue(getpid(), SIGUSR1, val));
  CHECK_EQ(read(s, si, sizeof(si)), sizeof(si[0]));
  CHECK_EQ(si[0].ssi_code, SI_QUEUE);
  CHECK_EQ(si[0].ssi_int, 1234);
  close(s);
}

static void change_mask(void) {
  sigset_t only1;
  sigemptyset(&only1);
  sigaddset(&only1, SIGUSR1);
  /* SIGKILL and SIGSTOP in the mask are ignored, not an error. */
  sigaddset(&only1, SIGKILL);
  int s = signalfd(-1, &only1, SFD_NONBLOCK);
  CHECK(s >= 0);
  CHECK_SYS(raise(SIGUSR2));
  struct signalfd_siginfo si;
  CHECK_ERR(read(s, &si, sizeof(si)), EAGAIN);
  CHECK_EQ(signalfd(s, &usr, 0), s);
  CHECK_EQ(read(s, &si, sizeof(si)), sizeof(si));
  CHECK_EQ(si.ssi_signo, SIGUSR2);
  close(s);
}

struct kill_arg {
  pthread_t target;
  int sig;
};

static void *kill_later(void *arg) {
  struct kill_arg *k = arg;
  usleep(20 * 1000);
  CHECK_EQ(pthread_kill(k->target, k->sig), 0);
  return NULL;
}

static void *group_kill_later(void *arg) {
  usleep(20 * 1000);
  CHECK_SYS(kill(getpid(), *(int *)arg));
  return NULL;
}

static void blocking_read(void) {
  int s = signalfd(-1, &usr, 0);
  struct kill_arg k = {pthread_self(), SIGUSR1};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, kill_later, &k), 0);
  struct signalfd_siginfo si;
  CHECK_EQ(read(s, &si, sizeof(si)), sizeof(si));
  CHECK_EQ(si.ssi_signo, SIGUSR1);
  pthread_join(th, NULL);
  int sig = SIGUSR2;
  CHECK_EQ(pthread_create(&th, NULL, group_kill_later, &sig), 0);
  CHECK_EQ(read(s, &si, sizeof(si)), sizeof(si));
  CHECK_EQ(si.ssi_signo, SIGUSR2);
  pthread_join(th, NULL);
  close(s);
}

static void with_epoll(void) {
  int s = signalfd(-1, &usr, SFD_NONBLOCK);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 77};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
  struct epoll_event out;
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
  int sig = SIGUSR1;
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, group_kill_later, &sig), 0);
  CHECK_EQ(epoll_wait(ep, &out, 1, 5000), 1);
  CHECK_EQ(out.data.u32, 77);
  pthread_join(th, NULL);
  struct signalfd_siginfo si;
  CHECK_EQ(read(s, &si, sizeof(si)), sizeof(si));
  CHECK_EQ(si.ssi_signo, SIGUSR1);
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
  close(ep);
  close(s);
}

int main(void) {
  test_init();
  sigemptyset(&usr);
  sigaddset(&usr, SIGUSR1);
  sigaddset(&usr, SIGUSR2);
  /* Blocked in every thread, so the signals stay pending for the fd. */
  CHECK_SYS(sigprocmask(SIG_BLOCK, &usr, NULL));
  RUN(create);
  RUN(read_records);
  RUN(change_mask);
  RUN(blocking_read);
  RUN(with_epoll);
  return 0;
}
