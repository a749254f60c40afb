/*
 * tcp_oob: TCP urgent data (tcp(7) "Out-of-band data", send(2) and
 * recv(2) MSG_OOB) over loopback, on 127.0.0.1 and ::1.
 * Checks that the last byte of a MSG_OOB send is the out-of-band byte
 * (recv MSG_OOB, MSG_PEEK, MSG_TRUNC, msg_flags), that normal reads stop
 * at the mark and step over the byte, SIOCATMARK and SIOCINQ around it,
 * a newer urgent byte replacing an older one, SO_OOBINLINE, the errors
 * of recv MSG_OOB (EINVAL with none or after it was read, EAGAIN while
 * the urgent pointer is ahead of the data, ENOTCONN after a reset),
 * POLLPRI in poll, select's exceptfds and epoll, and SIGURG (and SIGIO
 * with POLL_PRI) for the socket's owner.
 */
#include "test.h"
#include "inet_util.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* The families to test: ::1 only where the host has it. */
static int fams[2], nfams;

static socklen_t addrlen(int fam) {
  return fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* pair_buf makes a connected client and accepted server socket; rcvbuf,
 * if not 0, is the server's SO_RCVBUF, set before the handshake. */
static void pair_buf(int fam, int *cli, int *srv, int rcvbuf) {
  addr_t a;
  int l = socket(fam, SOCK_STREAM, 0);
  CHECK_SYS(l);
  if (rcvbuf) setint(l, SOL_SOCKET, SO_RCVBUF, rcvbuf);
  socklen_t len = loopback(fam, &a, 0);
  CHECK_SYS(bind(l, &a.sa, len));
  CHECK_SYS(getsockname(l, &a.sa, &len));
  CHECK_SYS(listen(l, 1));
  *cli = socket(fam, SOCK_STREAM, 0);
  CHECK_SYS(*cli);
  CHECK_SYS(connect(*cli, &a.sa, addrlen(fam)));
  *srv = accept(l, NULL, NULL);
  CHECK_SYS(*srv);
  close(l);
}

static void pair(int fam, int *cli, int *srv) { pair_buf(fam, cli, srv, 0); }

static short revents(int fd, short events, int timeout) {
  struct pollfd p = {fd, events, 0};
  CHECK_SYS(poll(&p, 1, timeout));
  return p.revents;
}

/* wait_pri waits for the out-of-band byte to be there (POLLPRI): Linux
 * delivers loopback segments asynchronously at times. */
static void wait_pri(int fd) { CHECK(revents(fd, POLLPRI, 2000) & POLLPRI); }

/* wait_in waits for normal data (POLLIN). */
static void wait_in(int fd) { CHECK(revents(fd, POLLIN, 2000) & POLLIN); }

static int atmark(int fd) {
  int v = -1;
  CHECK_SYS(ioctl(fd, SIOCATMARK, &v));
  return v;
}

static int inq(int fd) {
  int v = -1;
  CHECK_SYS(ioctl(fd, SIOCINQ, &v));
  return v;
}

static void send_str(int fd, const char *s, int flags) {
  CHECK_EQ(send(fd, s, strlen(s), flags), strlen(s));
}

/* recv_str receives (without waiting) into a string. */
static ssize_t recv_str(int fd, char *buf, size_t size, int flags) {
  memset(buf, 0, size);
  return recv(fd, buf, size - 1, flags | MSG_DONTWAIT);
}

/* expect_oob requires c to be the out-of-band byte, and takes it. */
static void expect_oob(int fd, char c) {
  char b = 0;
  wait_pri(fd);
  CHECK_EQ(recv(fd, &b, 1, MSG_OOB), 1);
  CHECK_EQ(b, c);
}

/* wait_oob_is waits for c to be the out-of-band byte, which replaces an
 * older one as soon as Linux has processed the segment. */
static void wait_oob_is(int fd, char c) {
  char b = 0;
  for (int i = 0; i < 2000 && b != c; i++) {
    if (i > 0) usleep(1000);
    CHECK_EQ(recv(fd, &b, 1, MSG_OOB | MSG_PEEK | MSG_DONTWAIT), 1);
  }
  CHECK_EQ(b, c);
}

/* expect_read requires a read to return exactly s. */
static void expect_read(int fd, const char *s) {
  char buf[64];
  wait_in(fd);
  CHECK_EQ(recv_str(fd, buf, sizeof(buf), 0), strlen(s));
  CHECK(strcmp(buf, s) == 0);
}

static void basic(void) {
  for (int i = 0; i < nfams; i++) {
    int c, s;
    char b = 0, buf[64];
    pair(fams[i], &c, &s);
    /* Nothing urgent yet. */
    CHECK_ERR(recv(s, &b, 1, MSG_OOB | MSG_DONTWAIT), EINVAL);
    CHECK_EQ(atmark(s), 0);
    CHECK_EQ(revents(s, POLLPRI, 0), 0);

    send_str(c, "abc", MSG_OOB);
    wait_pri(s);
    CHECK_EQ(atmark(s), 0);
    /* Only the bytes before the urgent one count as queued. */
    CHECK_EQ(inq(s), 2);
    CHECK_EQ(recv(s, &b, 1, MSG_OOB | MSG_PEEK), 1);
    CHECK_EQ(b, 'c');
    CHECK(revents(s, POLLPRI, 0) & POLLPRI);
    b = 0;
    CHECK_EQ(recv(s, &b, 1, MSG_OOB), 1);
    CHECK_EQ(b, 'c');
    CHECK_EQ(revents(s, POLLPRI, 0), 0);
    CHECK_ERR(recv(s, &b, 1, MSG_OOB), EINVAL);

    /* The normal stream lacks the urgent byte. */
    CHECK_EQ(recv_str(s, buf, sizeof(buf), 0), 2);
    CHECK(strcmp(buf, "ab") == 0);
    CHECK_EQ(atmark(s), 1);
    CHECK_ERR(recv_str(s, buf, sizeof(buf), 0), EAGAIN);
    CHECK_EQ(atmark(s), 0);
    send_str(c, "de", 0);
    expect_read(s, "de");
    CHECK_ERR(recv(s, &b, 1, MSG_OOB), EINVAL);

    /* The other way, and a one-byte urgent send. */
    send_str(s, "Z", MSG_OOB);
    expect_oob(c, 'Z');
    CHECK_EQ(atmark(c), 1);
    CHECK_EQ(inq(c), 0);
    /* The urgent byte alone does not make the socket readable. */
    CHECK_EQ(revents(c, POLLIN, 0), 0);
    CHECK_ERR(recv_str(c, buf, sizeof(buf), 0), EAGAIN);

    /* A zero-byte send with MSG_OOB sends nothing urgent. */
    CHECK_EQ(send(c, "", 0, MSG_OOB), 0);
    CHECK_EQ(revents(s, POLLPRI | POLLIN, 50), 0);
    CHECK_ERR(recv(s, &b, 1, MSG_OOB), EINVAL);
    close(c);
    close(s);
  }
}

static void flags_and_sizes(void) {
  for (int i = 0; i < nfams; i++) {
    int c, s;
    char b = 0;
    pair(fams[i], &c, &s);
    send_str(c, "xy", MSG_OOB);
    wait_pri(s);
    /* recvmsg reports MSG_OOB. */
    struct iovec iov = {&b, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    CHECK_EQ(recvmsg(s, &m, MSG_OOB | MSG_PEEK), 1);
    CHECK_EQ(b, 'y');
    CHECK_EQ(m.msg_flags, MSG_OOB);
    /* MSG_TRUNC counts the byte without copying it. */
    b = 0;
    CHECK_EQ(recv(s, &b, 1, MSG_OOB | MSG_TRUNC | MSG_PEEK), 1);
    CHECK_EQ(b, 0);
    /* An empty buffer takes the byte all the same, with MSG_TRUNC. */
    iov.iov_len = 0;
    m.msg_flags = 0;
    CHECK_EQ(recvmsg(s, &m, MSG_OOB), 0);
    CHECK_EQ(m.msg_flags, MSG_OOB | MSG_TRUNC);
    CHECK_ERR(recv(s, &b, 1, MSG_OOB), EINVAL);
    expect_read(s, "x");
    close(c);
    close(s);

    /* Not connected: nothing urgent; a listener is ENOTCONN. */
    int u = socket(fams[i], SOCK_STREAM, 0);
    CHECK_SYS(u);
    CHECK_ERR(recv(u, &b, 1, MSG_OOB), EINVAL);
    CHECK_EQ(atmark(u), 0);
    CHECK_ERR(send(u, "a", 1, MSG_OOB | MSG_NOSIGNAL), EPIPE);
    CHECK_SYS(listen(u, 1));
    CHECK_ERR(recv(u, &b, 1, MSG_OOB), ENOTCONN);
    CHECK_EQ(atmark(u), 0);
    close(u);
  }
}

static void mark(void) {
  for (int i = 0; i < nfams; i++) {
    int c, s;
    char b, buf[64];
    pair(fams[i], &c, &s);
    send_str(c, "abc", MSG_OOB);
    send_str(c, "xyz", 0);
    wait_pri(s);
    /* A peek stops at the mark too. */
    CHECK_EQ(recv_str(s, buf, sizeof(buf), MSG_PEEK), 2);
    CHECK(strcmp(buf, "ab") == 0);
    CHECK_EQ(recv_str(s, buf, 2, 0), 1);
    CHECK(strcmp(buf, "a") == 0);
    CHECK_EQ(inq(s), 1);
    CHECK_EQ(recv_str(s, buf, sizeof(buf), 0), 1);
    CHECK(strcmp(buf, "b") == 0);
    CHECK_EQ(atmark(s), 1);
    CHECK_EQ(inq(s), 0);
    CHECK(revents(s, POLLIN, 0) & POLLIN);
    /* Past the mark, a peek skips the urgent byte. */
    CHECK_EQ(recv_str(s, buf, sizeof(buf), MSG_PEEK), 3);
    CHECK(strcmp(buf, "xyz") == 0);
    CHECK_EQ(atmark(s), 1);
    /* Reading on without taking the byte loses it. */
    CHECK_EQ(recv_str(s, buf, sizeof(buf), 0), 3);
    CHECK(strcmp(buf, "xyz") == 0);
    CHECK_EQ(atmark(s), 0);
    CHECK_EQ(revents(s, POLLPRI, 0), 0);
    CHECK_ERR(recv(s, &b, 1, MSG_OOB), EINVAL);

    /* MSG_WAITALL stops at the mark. */
    send_str(c, "abc", MSG_OOB);
    send_str(c, "xyz", 0);
    wait_pri(s);
    wait_in(s);
    CHECK_EQ(recv(s, buf, 5, MSG_WAITALL), 2);
    CHECK_EQ(memcmp(buf, "ab", 2), 0);
    CHECK_EQ(recv(s, buf, 3, MSG_WAITALL), 3);
    CHECK_EQ(memcmp(buf, "xyz", 3), 0);

    /* A blocking read at the mark steps over the urgent byte and
     * waits for more. */
    send_str(c, "q", MSG_OOB);
    wait_pri(s);
    pid_t parent = getpid();
    pid_t pid = fork();
    CHECK_SYS(pid);
    if (pid == 0) {
      test_wait_sleeping(parent);
      send_str(c, "after", 0);
      _exit(0);
    }
    CHECK_EQ(recv(s, buf, sizeof(buf), 0), 5);
    CHECK_EQ(memcmp(buf, "after", 5), 0);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK_EQ(st, 0);
    close(c);
    close(s);
  }
}

static void replace(void) {
  for (int i = 0; i < nfams; i++) {
    int c, s;
    char buf[64];
    /* An older urgent byte with data before it turns into normal data. */
    pair(fams[i], &c, &s);
    send_str(c, "xA", MSG_OOB);
    wait_pri(s);
    send_str(c, "B", MSG_OOB);
    wait_oob_is(s, 'B');
    CHECK_EQ(inq(s), 2);
    CHECK_EQ(recv_str(s, buf, sizeof(buf), 0), 2);
    CHECK(strcmp(buf, "xA") == 0);
    CHECK_EQ(atmark(s), 1);
    expect_oob(s, 'B');
    CHECK_ERR(recv_str(s, buf, sizeof(buf), 0), EAGAIN);
    close(c);
    close(s);

    /* One the reader is at, and would step over, goes. */
    pair(fams[i], &c, &s);
    send_str(c, "A", MSG_OOB);
    wait_pri(s);
    CHECK_EQ(atmark(s), 1);
    send_str(c, "B", MSG_OOB);
    wait_oob_is(s, 'B');
    CHECK_EQ(inq(s), 0);
    CHECK_EQ(atmark(s), 1);
    expect_oob(s, 'B');
    CHECK_ERR(recv_str(s, buf, sizeof(buf), 0), EAGAIN);
    close(c);
    close(s);
  }
}

static void inline_mode(void) {
  for (int i = 0; i < nfams; i++) {
    int c, s;
    char b, buf[64];
    pair(fams[i], &c, &s);
    setint(s, SOL_SOCKET, SO_OOBINLINE, 1);
    CHECK_EQ(getint(s, SOL_SOCKET, SO_OOBINLINE), 1);
    send_str(c, "abc", MSG_OOB);
    send_str(c, "xyz", 0);
    /* POLLPRI while the mark is ahead, but no out-of-band byte. */
    wait_pri(s);
    CHECK_ERR(recv(s, &b, 1, MSG_OOB), EINVAL);
    CHECK_EQ(inq(s), 6);
    CHECK_EQ(recv_str(s, buf, sizeof(buf), 0), 2);
    CHECK(strcmp(buf, "ab") == 0);
    CHECK_EQ(atmark(s), 1);
    CHECK(revents(s, POLLPRI, 0) & POLLPRI);
    CHECK_EQ(recv_str(s, buf, sizeof(buf), 0), 4);
    CHECK(strcmp(buf, "cxyz") == 0);
    CHECK_EQ(atmark(s), 0);
    CHECK_EQ(revents(s, POLLPRI, 0), 0);

    /* The option applies when reading: the byte is kept either way. */
    setint(s, SOL_SOCKET, SO_OOBINLINE, 0);
    send_str(c, "de", MSG_OOB);
    wait_pri(s);
    setint(s, SOL_SOCKET, SO_OOBINLINE, 1);
    CHECK_ERR(recv(s, &b, 1, MSG_OOB), EINVAL);
    setint(s, SOL_SOCKET, SO_OOBINLINE, 0);
    expect_oob(s, 'e');
    setint(s, SOL_SOCKET, SO_OOBINLINE, 1);
    CHECK_EQ(recv_str(s, buf, sizeof(buf), 0), 1);
    CHECK(strcmp(buf, "d") == 0);
    CHECK_EQ(recv_str(s, buf, sizeof(buf), 0), 1);
    CHECK(strcmp(buf, "e") == 0);
    close(c);
    close(s);
  }
}

static void peer_gone(void) {
  for (int i = 0; i < nfams; i++) {
    int c, s;
    char b, buf[64];
    /* After the peer's FIN the byte is still there. */
    pair(fams[i], &c, &s);
    send_str(c, "abc", MSG_OOB);
    close(c);
    wait_pri(s);
    CHECK(revents(s, POLLRDHUP, 2000) & POLLRDHUP);
    expect_oob(s, 'c');
    CHECK_EQ(recv_str(s, buf, sizeof(buf), 0), 2);
    CHECK_EQ(recv_str(s, buf, sizeof(buf), 0), 0);
    CHECK_ERR(recv(s, &b, 1, MSG_OOB), EINVAL);
    close(s);

    /* After a reset it is not. */
    pair(fams[i], &c, &s);
    send_str(c, "abc", MSG_OOB);
    wait_pri(s);
    struct linger lg = {1, 0};
    CHECK_SYS(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
    close(c);
    CHECK(revents(s, POLLERR, 2000) & POLLERR);
    CHECK(revents(s, POLLPRI, 0) & POLLPRI);
    CHECK_ERR(recv(s, &b, 1, MSG_OOB), ENOTCONN);
    CHECK_EQ(recv_str(s, buf, sizeof(buf), 0), 2);
    CHECK_ERR(recv_str(s, buf, sizeof(buf), 0), ECONNRESET);
    CHECK_ERR(recv(s, &b, 1, MSG_OOB), EINVAL);
    close(s);

    /* shutdown(SHUT_RD) leaves it. */
    pair(fams[i], &c, &s);
    send_str(c, "abc", MSG_OOB);
    wait_pri(s);
    CHECK_SYS(shutdown(s, SHUT_RD));
    expect_oob(s, 'c');
    close(c);
    close(s);
  }
}

static void pollers(void) {
  for (int i = 0; i < nfams; i++) {
    int c, s;
    char b;
    pair(fams[i], &c, &s);
    fd_set r, x;
    struct timeval tv = {0, 0};
    FD_ZERO(&r);
    FD_ZERO(&x);
    FD_SET(s, &r);
    FD_SET(s, &x);
    CHECK_EQ(select(s + 1, &r, NULL, &x, &tv), 0);

    int ep = epoll_create1(0);
    CHECK_SYS(ep);
    struct epoll_event ev = {.events = EPOLLPRI}, out;
    ev.data.fd = s;
    CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
    CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);

    send_str(c, "abc", MSG_OOB);
    wait_pri(s);
    FD_ZERO(&r);
    FD_ZERO(&x);
    FD_SET(s, &r);
    FD_SET(s, &x);
    CHECK_EQ(select(s + 1, &r, NULL, &x, &tv), 2);
    CHECK(FD_ISSET(s, &r) && FD_ISSET(s, &x));
    CHECK_EQ(epoll_wait(ep, &out, 1, 1000), 1);
    CHECK_EQ(out.events, EPOLLPRI);
    CHECK_EQ(recv(s, &b, 1, MSG_OOB), 1);
    FD_ZERO(&x);
    FD_SET(s, &x);
    CHECK_EQ(select(s + 1, NULL, NULL, &x, &tv), 0);
    CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);

    /* Waiters for POLLPRI alone wake up. */
    int go[2];
    CHECK_SYS(pipe(go));
    pid_t parent = getpid();
    pid_t pid = fork();
    CHECK_SYS(pid);
    if (pid == 0) {
      test_wait_sleeping(parent);
      send_str(c, "q", MSG_OOB);
      CHECK_EQ(read(go[0], &b, 1), 1);
      test_wait_sleeping(parent);
      send_str(c, "r", MSG_OOB);
      _exit(0);
    }
    CHECK_EQ(revents(s, POLLPRI, 5000), POLLPRI);
    CHECK_EQ(recv(s, &b, 1, MSG_OOB), 1);
    CHECK_EQ(b, 'q');
    CHECK_EQ(write(go[1], "g", 1), 1);
    CHECK_EQ(epoll_wait(ep, &out, 1, 5000), 1);
    CHECK_EQ(out.events, EPOLLPRI);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK_EQ(st, 0);
    close(go[0]);
    close(go[1]);
    close(ep);
    close(c);
    close(s);
  }
}

/* wait_sig waits up to ms for sig (blocked) and returns its siginfo. */
static int wait_sig(int sig, siginfo_t *si, int ms) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  return sigtimedwait(&set, si, &ts);
}

/* wait_pending waits up to ms for sig, blocked, to be pending, and
 * takes it. Unlike sigtimedwait, it leaves sig blocked while another
 * process sends it. */
static void wait_pending(int sig, int ms) {
  sigset_t p;
  for (int i = 0; i < ms; i++) {
    CHECK_SYS(sigpending(&p));
    if (sigismember(&p, sig)) break;
    usleep(1000);
  }
  siginfo_t si;
  CHECK_EQ(wait_sig(sig, &si, 0), sig);
}

static void sigurg(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGURG);
  sigaddset(&set, SIGRTMIN);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, NULL));
  for (int i = 0; i < nfams; i++) {
    int c, s;
    char b;
    siginfo_t si;
    pair(fams[i], &c, &s);
    /* No owner, no signal. */
    send_str(c, "a", MSG_OOB);
    wait_pri(s);
    CHECK_ERR(wait_sig(SIGURG, &si, 50), EAGAIN);
    /* Nor for an owner set once the data is there. */
    CHECK_SYS(fcntl(s, F_SETOWN, getpid()));
    CHECK_ERR(wait_sig(SIGURG, &si, 50), EAGAIN);

    send_str(c, "b", MSG_OOB);
    CHECK_EQ(wait_sig(SIGURG, &si, 2000), SIGURG);
    CHECK_EQ(si.si_code, SI_KERNEL);
    expect_oob(s, 'b');
    /* Normal data is not urgent. */
    send_str(c, "c", 0);
    wait_in(s);
    CHECK_ERR(wait_sig(SIGURG, &si, 50), EAGAIN);

    /* A process group owner, and a thread one. */
    CHECK_SYS(fcntl(s, F_SETOWN, -getpgrp()));
    send_str(c, "d", MSG_OOB);
    CHECK_EQ(wait_sig(SIGURG, &si, 2000), SIGURG);
    struct f_owner_ex ex = {F_OWNER_TID, gettid()};
    CHECK_SYS(fcntl(s, F_SETOWN_EX, &ex));
    send_str(c, "e", MSG_OOB);
    CHECK_EQ(wait_sig(SIGURG, &si, 2000), SIGURG);

    /* SIGURG is SIGURG whatever F_SETSIG says; with O_ASYNC, the
     * F_SETSIG signal also reports POLL_PRI. */
    CHECK_SYS(fcntl(s, F_SETOWN, getpid()));
    CHECK_SYS(fcntl(s, F_SETSIG, SIGRTMIN));
    CHECK_SYS(fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_ASYNC));
    send_str(c, "f", MSG_OOB);
    CHECK_EQ(wait_sig(SIGURG, &si, 2000), SIGURG);
    int pri = 0;
    while (wait_sig(SIGRTMIN, &si, 200) == SIGRTMIN) {
      CHECK_EQ(si.si_fd, s);
      if (si.si_code == POLL_PRI) {
        CHECK_EQ(si.si_band, POLLPRI | POLLRDBAND);
        pri = 1;
      }
    }
    CHECK(pri);
    CHECK_EQ(recv(s, &b, 1, MSG_OOB), 1);
    CHECK_EQ(b, 'f');
    /* s first: c's FIN would signal it. */
    close(s);
    close(c);
  }
  CHECK_SYS(sigprocmask(SIG_UNBLOCK, &set, NULL));
}

/* ahead: a large urgent send into a small window tells the receiver of
 * the urgent pointer before the byte can come: recv MSG_OOB is EAGAIN
 * until then. */
static void ahead(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGURG);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, NULL));
  enum { total = 256 << 10 };
  static char buf[total];
  for (int i = 0; i < nfams; i++) {
    int c, s;
    char b;
    pair_buf(fams[i], &c, &s, 4096);
    CHECK_SYS(fcntl(s, F_SETOWN, getpid()));
    pid_t pid = fork();
    CHECK_SYS(pid);
    if (pid == 0) {
      memset(buf, 'x', total);
      buf[total - 1] = 'U';
      CHECK_EQ(send(c, buf, total, MSG_OOB), total);
      _exit(0);
    }
    close(c);
    wait_pending(SIGURG, 5000);
    CHECK_ERR(recv(s, &b, 1, MSG_OOB | MSG_DONTWAIT), EAGAIN);
    CHECK_EQ(revents(s, POLLPRI, 0), 0);
    CHECK_EQ(atmark(s), 0);
    /* Reads stop at the mark, before the urgent byte. */
    size_t got = 0;
    while (!atmark(s)) {
      ssize_t n = recv(s, buf, sizeof(buf), 0);
      CHECK(n > 0);
      for (ssize_t k = 0; k < n; k++) CHECK_EQ(buf[k], 'x');
      got += n;
    }
    CHECK_EQ(got, total - 1);
    expect_oob(s, 'U');
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK_EQ(st, 0);
    CHECK_EQ(recv(s, buf, sizeof(buf), 0), 0);
    close(s);
  }
  CHECK_SYS(sigprocmask(SIG_UNBLOCK, &set, NULL));
}

int main(void) {
  test_init();
  fams[nfams++] = AF_INET;
  if (have_ipv6()) fams[nfams++] = AF_INET6;
  RUN(basic);
  RUN(flags_and_sizes);
  RUN(mark);
  RUN(replace);
  RUN(inline_mode);
  RUN(peer_gone);
  RUN(pollers);
  RUN(sigurg);
  RUN(ahead);
  return 0;
}
