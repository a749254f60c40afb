/*
 * unix_sockopt: the SOL_SOCKET options of AF_UNIX sockets. The options
 * every socket keeps (SO_REUSEADDR, SO_KEEPALIVE, SO_LINGER, ...) are
 * set and read back on all three types; SO_REUSEPORT is for inet only;
 * SO_RCVTIMEO and SO_SNDTIMEO bound recv, accept and send (EAGAIN at the
 * deadline, EINTR on a signal even with SA_RESTART, a negative time is
 * immediate); SO_PASSCRED delivers SCM_CREDENTIALS before SCM_RIGHTS,
 * autobinds a sender, passes from a listener to its connections, and keeps a stream read
 * from joining two senders' bytes.
 */
#include "test.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

static int getint(int fd, int name) {
  int v = -7;
  socklen_t l = sizeof(v);
  CHECK_SYS(getsockopt(fd, SOL_SOCKET, name, &v, &l));
  CHECK_EQ(l, sizeof(v));
  return v;
}

static int setint(int fd, int name, int v) {
  return setsockopt(fd, SOL_SOCKET, name, &v, sizeof(v));
}

static void set_timeo(int fd, int name, long sec, long usec) {
  struct timeval tv = {sec, usec};
  CHECK_SYS(setsockopt(fd, SOL_SOCKET, name, &tv, sizeof(tv)));
}

static void generic_options(void) {
  int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
  int flags[] = {SO_REUSEADDR, SO_KEEPALIVE, SO_BROADCAST, SO_OOBINLINE, SO_DONTROUTE, SO_PASSCRED};
  for (int t = 0; t < 3; t++) {
    int s = socket(AF_UNIX, types[t], 0);
    CHECK_SYS(s);
    for (int i = 0; i < (int)(sizeof(flags) / sizeof(flags[0])); i++) {
      CHECK_EQ(getint(s, flags[i]), 0);
      CHECK_SYS(setint(s, flags[i], 5));
      CHECK_EQ(getint(s, flags[i]), 1);
      CHECK_SYS(setint(s, flags[i], 0));
      CHECK_EQ(getint(s, flags[i]), 0);
    }
    CHECK_EQ(getint(s, SO_PRIORITY), 0);
    CHECK_SYS(setint(s, SO_PRIORITY, 3));
    CHECK_EQ(getint(s, SO_PRIORITY), 3);
    CHECK_EQ(getint(s, SO_RCVLOWAT), 1);
    CHECK_SYS(setint(s, SO_RCVLOWAT, 0));
    CHECK_EQ(getint(s, SO_RCVLOWAT), 1);
    CHECK_EQ(getint(s, SO_SNDLOWAT), 1);
    CHECK_ERR(setint(s, SO_SNDLOWAT, 2), ENOPROTOOPT);
    /* SO_REUSEPORT is an inet option: clearing it is fine. */
    CHECK_EQ(getint(s, SO_REUSEPORT), 0);
    CHECK_ERR(setint(s, SO_REUSEPORT, 1), EOPNOTSUPP);
    CHECK_SYS(setint(s, SO_REUSEPORT, 0));
    char one = 1;
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, 1), EINVAL);

    struct linger lg = {1, 7};
    CHECK_SYS(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
    memset(&lg, 0, sizeof(lg));
    socklen_t l = sizeof(lg);
    CHECK_SYS(getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &l));
    CHECK_EQ(l, sizeof(lg));
    CHECK_EQ(lg.l_onoff, 1);
    CHECK_EQ(lg.l_linger, 7);

    struct timeval tv = {3, 0};
    CHECK_SYS(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
    memset(&tv, 0, sizeof(tv));
    l = sizeof(tv);
    CHECK_SYS(getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, &l));
    CHECK_EQ(tv.tv_sec, 3);
    CHECK_EQ(tv.tv_usec, 0);
    tv.tv_usec = 1000000;
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), EDOM);
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, 8), EINVAL);
    CHECK_ERR(setint(s, SO_KEEPALIVE + 1000, 1), ENOPROTOOPT);
    close(s);
  }
}

static long long elapsed_ms(long long start) { return (test_now_ns() - start) / 1000000; }

static void recv_timeout(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  set_timeo(sv[0], SO_RCVTIMEO, 0, 100000);
  char c;
  long long start = test_now_ns();
  CHECK_ERR(read(sv[0], &c, 1), EAGAIN);
  CHECK(elapsed_ms(start) >= 90);
  /* A negative time is an immediate timeout, not "none". */
  set_timeo(sv[0], SO_RCVTIMEO, -1, 0);
  start = test_now_ns();
  CHECK_ERR(recv(sv[0], &c, 1, 0), EAGAIN);
  CHECK(elapsed_ms(start) < 1000);
  set_timeo(sv[0], SO_RCVTIMEO, 0, 0);
  CHECK_EQ(write(sv[1], "z", 1), 1);
  CHECK_EQ(read(sv[0], &c, 1), 1);
  close(sv[0]);
  close(sv[1]);

  CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
  set_timeo(sv[0], SO_RCVTIMEO, 0, 50000);
  CHECK_ERR(recv(sv[0], &c, 1, 0), EAGAIN);
  close(sv[0]);
  close(sv[1]);
}

static void accept_timeout(void) {
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_SYS(l);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  CHECK_SYS(bind(l, (struct sockaddr *)&a, sizeof(sa_family_t))); /* autobind */
  CHECK_SYS(listen(l, 1));
  set_timeo(l, SO_RCVTIMEO, 0, 80000);
  long long start = test_now_ns();
  CHECK_ERR(accept(l, NULL, NULL), EAGAIN);
  CHECK(elapsed_ms(start) >= 70);
  close(l);
}

static void send_timeout(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  set_timeo(sv[1], SO_SNDTIMEO, 0, 100000);
  static char buf[65536];
  long long total = 0;
  ssize_t n;
  long long start;
  /* Fill the pipe: each write blocks at most 100 ms and then returns
   * what went in, or EAGAIN once nothing does. */
  for (;;) {
    start = test_now_ns();
    n = write(sv[1], buf, sizeof(buf));
    if (n < 0)
      break;
    total += n;
    CHECK(total < (64 << 20));
  }
  CHECK_EQ(errno, EAGAIN);
  CHECK(elapsed_ms(start) >= 90);
  CHECK(total > 0);
  close(sv[0]);
  close(sv[1]);
}

static void on_alarm(int sig) { (void)sig; }

static void timed_wait_is_eintr(void) {
  struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
  CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  set_timeo(sv[0], SO_RCVTIMEO, 5, 0);
  struct itimerval it = {.it_value = {0, 50000}};
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  char c;
  long long start = test_now_ns();
  /* SA_RESTART does not restart a wait with a timeout. */
  CHECK_ERR(read(sv[0], &c, 1), EINTR);
  CHECK(elapsed_ms(start) < 4000);
  signal(SIGALRM, SIG_DFL);
  close(sv[0]);
  close(sv[1]);
}

/* recv_creds receives one message on fd; *ucred gets its
 * SCM_CREDENTIALS (pid -1 if none came), *fd_out an SCM_RIGHTS
 * descriptor (-1 if none), and creds_first whether credentials came
 * before rights. */
struct got {
  ssize_t n;
  struct ucred cred;
  int fd;
  int creds_first;
};

static struct got recv_creds(int fd, char *buf, size_t len) {
  struct got g = {.cred = {.pid = -1}, .fd = -1};
  union {
    char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {buf, len};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
  g.n = recvmsg(fd, &m, 0);
  CHECK_SYS(g.n);
  CHECK_EQ(m.msg_flags & MSG_CTRUNC, 0);
  int i = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c), i++) {
    CHECK_EQ(c->cmsg_level, SOL_SOCKET);
    if (c->cmsg_type == SCM_CREDENTIALS) {
      CHECK_EQ(c->cmsg_len, CMSG_LEN(sizeof(struct ucred)));
      memcpy(&g.cred, CMSG_DATA(c), sizeof(g.cred));
      g.creds_first = i == 0;
    } else {
      CHECK_EQ(c->cmsg_type, SCM_RIGHTS);
      memcpy(&g.fd, CMSG_DATA(c), sizeof(int));
    }
  }
  return g;
}

static void check_own(struct ucred c) {
  CHECK_EQ(c.pid, getpid());
  CHECK_EQ(c.uid, getuid());
  CHECK_EQ(c.gid, getgid());
}

static void passcred_stream(void) {
  int sv[2];
  char buf[16];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  /* Sent while neither end asked: no sender to report. */
  CHECK_EQ(write(sv[1], "a", 1), 1);
  CHECK_SYS(setint(sv[0], SO_PASSCRED, 1));
  struct got g = recv_creds(sv[0], buf, sizeof(buf));
  CHECK_EQ(g.n, 1);
  CHECK_EQ(g.cred.pid, 0);
  CHECK_EQ(g.cred.uid, 65534);
  CHECK_EQ(g.cred.gid, 65534);

  CHECK_EQ(write(sv[1], "bc", 2), 2);
  g = recv_creds(sv[0], buf, sizeof(buf));
  CHECK_EQ(g.n, 2);
  check_own(g.cred);

  /* Credentials go before rights. */
  int pfd[2];
  CHECK_SYS(pipe(pfd));
  union {
    char b[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {"d", 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &pfd[0], sizeof(int));
  CHECK_EQ(sendmsg(sv[1], &m, 0), 1);
  g = recv_creds(sv[0], buf, sizeof(buf));
  CHECK_EQ(g.n, 1);
  check_own(g.cred);
  CHECK(g.fd >= 0);
  CHECK(g.creds_first);
  close(g.fd);
  close(pfd[0]);
  close(pfd[1]);

  /* A read does not join two senders' bytes. */
  CHECK_EQ(write(sv[1], "ef", 2), 2);
  pid_t child = fork();
  CHECK_SYS(child);
  if (child == 0) {
    _exit(write(sv[1], "gh", 2) == 2 ? 0 : 1);
  }
  int status;
  CHECK_SYS(waitpid(child, &status, 0));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  g = recv_creds(sv[0], buf, sizeof(buf));
  CHECK_EQ(g.n, 2);
  CHECK(memcmp(buf, "ef", 2) == 0);
  check_own(g.cred);
  g = recv_creds(sv[0], buf, sizeof(buf));
  CHECK_EQ(g.n, 2);
  CHECK(memcmp(buf, "gh", 2) == 0);
  CHECK_EQ(g.cred.pid, child);

  /* Without SO_PASSCRED no credentials come, and senders join. */
  CHECK_SYS(setint(sv[0], SO_PASSCRED, 0));
  CHECK_EQ(write(sv[1], "i", 1), 1);
  g = recv_creds(sv[0], buf, sizeof(buf));
  CHECK_EQ(g.n, 1);
  CHECK_EQ(g.cred.pid, -1);
  close(sv[0]);
  close(sv[1]);
}

static void passcred_dgram_autobind(void) {
  int r = socket(AF_UNIX, SOCK_DGRAM, 0), s = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK_SYS(r);
  CHECK_SYS(s);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  CHECK_SYS(bind(r, (struct sockaddr *)&a, sizeof(sa_family_t)));
  socklen_t alen = sizeof(a);
  CHECK_SYS(getsockname(r, (struct sockaddr *)&a, &alen));
  CHECK_SYS(setint(s, SO_PASSCRED, 1));
  CHECK_EQ(sendto(s, "x", 1, 0, (struct sockaddr *)&a, alen), 1);
  /* The sender was bound to an abstract name so the receiver can tell
   * who sent it. */
  struct sockaddr_un me;
  socklen_t mlen = sizeof(me);
  CHECK_SYS(getsockname(s, (struct sockaddr *)&me, &mlen));
  CHECK(mlen > sizeof(sa_family_t));
  CHECK_EQ(me.sun_path[0], 0);
  struct sockaddr_un from;
  socklen_t flen = sizeof(from);
  char c;
  CHECK_EQ(recvfrom(r, &c, 1, 0, (struct sockaddr *)&from, &flen), 1);
  CHECK_EQ(flen, mlen);
  CHECK(memcmp(from.sun_path, me.sun_path, mlen - sizeof(sa_family_t)) == 0);

  /* The sender's SO_PASSCRED attached credentials; the receiver sees
   * them once it asks too. */
  CHECK_EQ(sendto(s, "y", 1, 0, (struct sockaddr *)&a, alen), 1);
  CHECK_SYS(setint(r, SO_PASSCRED, 1));
  char buf[4];
  struct got g = recv_creds(r, buf, sizeof(buf));
  CHECK_EQ(g.n, 1);
  check_own(g.cred);
  close(r);
  close(s);
}

static void passcred_accept_inherits(void) {
  int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  CHECK_SYS(l);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  CHECK_SYS(bind(l, (struct sockaddr *)&a, sizeof(sa_family_t)));
  socklen_t alen = sizeof(a);
  CHECK_SYS(getsockname(l, (struct sockaddr *)&a, &alen));
  CHECK_SYS(listen(l, 4));
  CHECK_SYS(setint(l, SO_PASSCRED, 1));
  int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  CHECK_SYS(c);
  CHECK_SYS(connect(c, (struct sockaddr *)&a, alen));
  int s = accept(l, NULL, NULL);
  CHECK_SYS(s);
  CHECK_EQ(getint(s, SO_PASSCRED), 1);
  CHECK_EQ(send(c, "m", 1, 0), 1);
  char buf[4];
  struct got g = recv_creds(s, buf, sizeof(buf));
  CHECK_EQ(g.n, 1);
  check_own(g.cred);
  close(s);
  close(c);
  close(l);
}

int main(void) {
  test_init();
  RUN(generic_options);
  RUN(recv_timeout);
  RUN(accept_timeout);
  RUN(send_timeout);
  RUN(timed_wait_is_eintr);
  RUN(passcred_stream);
  RUN(passcred_dgram_autobind);
  RUN(passcred_accept_inherits);
  return 0;
}
