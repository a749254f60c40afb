/*
 * inet_tcp: TCP sockets over loopback (tcp(7), ip(7), ipv6(7)), on
 * 127.0.0.1 and ::1.
 * Checks socket creation and defaults, bind (EADDRINUSE, SO_REUSEADDR
 * and SO_REUSEPORT, wildcard against specific addresses, ephemeral ports,
 * IPv4-mapped addresses and IPV6_V6ONLY), listen and the backlog,
 * blocking and non-blocking connect (EINPROGRESS, ECONNREFUSED, SO_ERROR,
 * EALREADY/EISCONN), accept/accept4 with the peer address, data transfer
 * (MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL, MSG_TRUNC, readv/writev,
 * sendmsg/recvmsg), shutdown half-close, close with and without unread
 * data (EOF, EPIPE and SIGPIPE, ECONNRESET), SO_LINGER, flow control,
 * SIOCINQ/SIOCOUTQ, socket/TCP/IP options (TCP_INFO state), timeouts,
 * poll and epoll readiness (EPOLLRDHUP, EPOLLHUP, EPOLLERR), blocking
 * calls woken by another thread and interrupted by signals, and an 8 MiB
 * transfer between processes.
 */
#include "test.h"
#include "inet_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/sockios.h>

/* listener returns a socket of fam listening on loopback, with its
 * address in a. */
static int listener(int fam, addr_t *a, int backlog) {
  int l = socket(fam, SOCK_STREAM, 0);
  CHECK_SYS(l);
  socklen_t len = loopback(fam, a, 0);
  CHECK_SYS(bind(l, &a->sa, len));
  CHECK_SYS(getsockname(l, &a->sa, &len));
  CHECK_SYS(listen(l, backlog));
  return l;
}

static socklen_t addrlen(int fam) {
  return fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* pair makes a connected client and accepted server socket. */
static void pair(int fam, int *cli, int *srv) {
  addr_t a;
  int l = listener(fam, &a, 1);
  *cli = socket(fam, SOCK_STREAM, 0);
  CHECK_SYS(*cli);
  CHECK_SYS(connect(*cli, &a.sa, addrlen(fam)));
  *srv = accept(l, NULL, NULL);
  CHECK_SYS(*srv);
  close(l);
}

static short revents(int fd, short events, int timeout) {
  struct pollfd p = {fd, events, 0};
  CHECK_SYS(poll(&p, 1, timeout));
  return p.revents;
}

static int tcp_state(int fd) {
  struct tcp_info ti;
  socklen_t l = sizeof(ti);
  memset(&ti, 0xff, sizeof(ti));
  CHECK_SYS(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l));
  CHECK(l >= 8);
  return ti.tcpi_state;
}

static void create(void) {
  int fams[] = {AF_INET, AF_INET6};
  for (int i = 0; i < 2; i++) {
    int fd = socket(fams[i], SOCK_STREAM, 0);
    CHECK_SYS(fd);
    CHECK_EQ(getint(fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    CHECK_EQ(getint(fd, SOL_SOCKET, SO_DOMAIN), fams[i]);
    CHECK_EQ(getint(fd, SOL_SOCKET, SO_PROTOCOL), IPPROTO_TCP);
    CHECK_EQ(getint(fd, SOL_SOCKET, SO_ACCEPTCONN), 0);
    CHECK_EQ(getint(fd, SOL_SOCKET, SO_ERROR), 0);
    /* An unbound socket's name is the wildcard with port 0. */
    addr_t a;
    socklen_t l = sizeof(a);
    CHECK_SYS(getsockname(fd, &a.sa, &l));
    CHECK_EQ(l, addrlen(fams[i]));
    CHECK_EQ(a.sa.sa_family, fams[i]);
    CHECK_EQ(port_of(&a), 0);
    l = sizeof(a);
    CHECK_ERR(getpeername(fd, &a.sa, &l), ENOTCONN);
    /* A fresh socket polls as writable and hung up. */
    CHECK_EQ(revents(fd, POLLIN | POLLOUT | POLLRDHUP, 0), POLLOUT | POLLHUP);
    char c;
    CHECK_ERR(read(fd, &c, 1), ENOTCONN);
    CHECK_ERR(send(fd, "a", 1, MSG_NOSIGNAL), EPIPE);
    CHECK_ERR(accept(fd, NULL, NULL), EINVAL);
    CHECK_EQ(tcp_state(fd), TCP_CLOSE);
    /* shutdown fails, yet the socket is shut down: reads see EOF. */
    CHECK_ERR(shutdown(fd, SHUT_RDWR), ENOTCONN);
    CHECK_EQ(revents(fd, POLLIN | POLLOUT | POLLRDHUP, 0), POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
    CHECK_EQ(read(fd, &c, 1), 0);
    close(fd);
  }
  CHECK_ERR(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
  CHECK_ERR(socket(AF_INET, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  CHECK_SYS(fd);
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
  CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  close(fd);
  /* socketpair is for AF_UNIX only. */
  int sv[2];
  CHECK_ERR(socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP);
}

static void bind_rules(void) {
  addr_t a, b;
  int s1 = socket(AF_INET, SOCK_STREAM, 0), s2 = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(s1);
  CHECK_SYS(s2);
  socklen_t len = loopback(AF_INET, &a, 0);
  CHECK_ERR(bind(s1, &a.sa, len - 1), EINVAL);
  a.sa.sa_family = AF_INET6;
  CHECK_ERR(bind(s1, &a.sa, len), EAFNOSUPPORT);
  a.sa.sa_family = AF_INET;
  /* An address the sandbox does not have. */
  inet_pton(AF_INET, "192.0.2.1", &a.in.sin_addr);
  CHECK_ERR(bind(s1, &a.sa, len), EADDRNOTAVAIL);
  /* All of 127.0.0.0/8 is local. */
  inet_pton(AF_INET, "127.0.0.2", &a.in.sin_addr);
  CHECK_SYS(bind(s1, &a.sa, len));
  CHECK_ERR(bind(s1, &a.sa, len), EINVAL);
  len = sizeof(a);
  CHECK_SYS(getsockname(s1, &a.sa, &len));
  int port = port_of(&a);
  /* Port 0 is an ephemeral port. */
  CHECK(port >= 32768 && port <= 60999);
  CHECK_EQ(a.in.sin_addr.s_addr, inet_addr("127.0.0.2"));
  /* The same port on another address is free; on the wildcard it is
   * not. */
  loopback(AF_INET, &b, port);
  CHECK_SYS(bind(s2, &b.sa, sizeof(b.in)));
  close(s2);
  s2 = socket(AF_INET, SOCK_STREAM, 0);
  b.in.sin_addr.s_addr = htonl(INADDR_ANY);
  CHECK_ERR(bind(s2, &b.sa, sizeof(b.in)), EADDRINUSE);
  /* SO_REUSEADDR on both lets them share while neither listens. */
  setint(s1, SOL_SOCKET, SO_REUSEADDR, 1);
  setint(s2, SOL_SOCKET, SO_REUSEADDR, 1);
  CHECK_EQ(getint(s2, SOL_SOCKET, SO_REUSEADDR), 1);
  CHECK_SYS(bind(s2, &b.sa, sizeof(b.in)));
  CHECK_SYS(listen(s1, 1));
  CHECK_ERR(listen(s2, 1), EADDRINUSE);
  int s3 = socket(AF_INET, SOCK_STREAM, 0);
  setint(s3, SOL_SOCKET, SO_REUSEADDR, 1);
  CHECK_ERR(bind(s3, &a.sa, sizeof(a.in)), EADDRINUSE); /* s1 listens */
  close(s1);
  close(s2);
  close(s3);
  /* SO_REUSEPORT lets listeners share a port. */
  s1 = socket(AF_INET, SOCK_STREAM, 0);
  s2 = socket(AF_INET, SOCK_STREAM, 0);
  setint(s1, SOL_SOCKET, SO_REUSEPORT, 1);
  setint(s2, SOL_SOCKET, SO_REUSEPORT, 1);
  loopback(AF_INET, &a, 0);
  CHECK_SYS(bind(s1, &a.sa, sizeof(a.in)));
  len = sizeof(a);
  CHECK_SYS(getsockname(s1, &a.sa, &len));
  CHECK_SYS(bind(s2, &a.sa, sizeof(a.in)));
  CHECK_SYS(listen(s1, 1));
  CHECK_SYS(listen(s2, 1));
  close(s1);
  close(s2);
  /* A closed socket's port is free again. */
  s1 = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(bind(s1, &a.sa, sizeof(a.in)));
  close(s1);
  /* listen on an unbound socket picks a port. */
  s1 = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(listen(s1, 1));
  len = sizeof(a);
  CHECK_SYS(getsockname(s1, &a.sa, &len));
  CHECK(port_of(&a) >= 32768);
  CHECK_EQ(a.in.sin_addr.s_addr, htonl(INADDR_ANY));
  CHECK_EQ(getint(s1, SOL_SOCKET, SO_ACCEPTCONN), 1);
  CHECK_EQ(tcp_state(s1), TCP_LISTEN);
  close(s1);
}

static void bind_dual_stack(void) {
  /* [::] without IPV6_V6ONLY holds the IPv4 port too. */
  int s6 = socket(AF_INET6, SOCK_STREAM, 0);
  CHECK_EQ(getint(s6, IPPROTO_IPV6, IPV6_V6ONLY), 0);
  addr_t a;
  memset(&a, 0, sizeof(a));
  a.in6.sin6_family = AF_INET6;
  a.in6.sin6_addr = in6addr_any;
  CHECK_SYS(bind(s6, &a.sa, sizeof(a.in6)));
  socklen_t len = sizeof(a);
  CHECK_SYS(getsockname(s6, &a.sa, &len));
  int port = port_of(&a);
  /* IPV6_V6ONLY is fixed once bound. */
  int one = 1;
  CHECK_ERR(setsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), EINVAL);
  int s4 = socket(AF_INET, SOCK_STREAM, 0);
  addr_t b;
  loopback(AF_INET, &b, port);
  b.in.sin_addr.s_addr = htonl(INADDR_ANY);
  CHECK_ERR(bind(s4, &b.sa, sizeof(b.in)), EADDRINUSE);
  close(s6);
  /* With IPV6_V6ONLY it does not. */
  s6 = socket(AF_INET6, SOCK_STREAM, 0);
  setint(s6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  CHECK_SYS(bind(s6, &a.sa, sizeof(a.in6)));
  CHECK_SYS(bind(s4, &b.sa, sizeof(b.in)));
  close(s4);
  /* A v4-mapped address is refused on a V6ONLY socket. */
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  setint(s, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  memset(&a, 0, sizeof(a));
  a.in6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &a.in6.sin6_addr);
  CHECK_ERR(bind(s, &a.sa, sizeof(a.in6)), EINVAL);
  close(s);
  close(s6);
  /* IPV6_V6ONLY is an IPv6 option: an IPv4 socket does not have the
   * level (and says so differently for get and set). */
  s = socket(AF_INET, SOCK_STREAM, 0);
  int v;
  socklen_t l = sizeof(v);
  CHECK_ERR(getsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l), EOPNOTSUPP);
  CHECK_ERR(setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v)), ENOPROTOOPT);
  close(s);
}

static void connect_accept(int fam) {
  addr_t a;
  int l = listener(fam, &a, 5);
  CHECK_EQ(getint(l, SOL_SOCKET, SO_ACCEPTCONN), 1);
  CHECK_SYS(fcntl(l, F_SETFL, O_NONBLOCK));
  CHECK_ERR(accept(l, NULL, NULL), EAGAIN);
  CHECK_SYS(fcntl(l, F_SETFL, 0));
  CHECK_EQ(revents(l, POLLIN | POLLOUT, 0), 0);
  int c = socket(fam, SOCK_STREAM, 0);
  CHECK_SYS(connect(c, &a.sa, addrlen(fam)));
  CHECK_EQ(revents(l, POLLIN, 0), POLLIN);
  CHECK_ERR(connect(c, &a.sa, addrlen(fam)), EISCONN);
  CHECK_ERR(listen(c, 1), EINVAL);
  addr_t ca, pa, sa;
  socklen_t len = sizeof(ca);
  CHECK_SYS(getsockname(c, &ca.sa, &len));
  CHECK_EQ(len, addrlen(fam));
  CHECK(port_of(&ca) >= 32768);
  len = sizeof(pa);
  int s = accept4(l, &pa.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  CHECK_SYS(s);
  CHECK(fcntl(s, F_GETFL) & O_NONBLOCK);
  CHECK_EQ(fcntl(s, F_GETFD), FD_CLOEXEC);
  /* The peer address accept reports is the client's name. */
  CHECK_EQ(len, addrlen(fam));
  CHECK(memcmp(&pa, &ca, len) == 0);
  len = sizeof(pa);
  CHECK_SYS(getpeername(s, &pa.sa, &len));
  CHECK(memcmp(&pa, &ca, len) == 0);
  len = sizeof(sa);
  CHECK_SYS(getsockname(s, &sa.sa, &len));
  CHECK(memcmp(&sa, &a, len) == 0);
  len = sizeof(pa);
  CHECK_SYS(getpeername(c, &pa.sa, &len));
  CHECK(memcmp(&pa, &a, len) == 0);
  /* A short address buffer is filled partly; the length is the full
   * one. */
  char small[4];
  len = sizeof(small);
  CHECK_SYS(getpeername(c, (struct sockaddr *)small, &len));
  CHECK_EQ(len, addrlen(fam));
  CHECK_EQ(tcp_state(c), TCP_ESTABLISHED);
  CHECK_EQ(tcp_state(s), TCP_ESTABLISHED);
  CHECK_EQ(getint(s, SOL_SOCKET, SO_ACCEPTCONN), 0);
  close(s);
  close(c);
  /* Nobody listening: ECONNREFUSED, and the socket can try again. */
  close(l);
  c = socket(fam, SOCK_STREAM, 0);
  CHECK_ERR(connect(c, &a.sa, addrlen(fam)), ECONNREFUSED);
  CHECK_ERR(connect(c, &a.sa, addrlen(fam)), ECONNREFUSED);
  len = sizeof(pa);
  CHECK_ERR(getpeername(c, &pa.sa, &len), ENOTCONN);
  close(c);
}

static void connect_accept4(void) { connect_accept(AF_INET); }
static void connect_accept6(void) {
  if (have_ipv6()) connect_accept(AF_INET6);
}

static void connect_nonblocking(void) {
  addr_t a;
  int l = listener(AF_INET, &a, 5);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  /* Linux reports EINPROGRESS even on loopback. */
  CHECK_ERR(connect(c, &a.sa, sizeof(a.in)), EINPROGRESS);
  CHECK_EQ(revents(c, POLLOUT, 1000), POLLOUT);
  CHECK_EQ(getint(c, SOL_SOCKET, SO_ERROR), 0);
  /* The next connect reports success once, then EISCONN. */
  CHECK_SYS(connect(c, &a.sa, sizeof(a.in)));
  CHECK_ERR(connect(c, &a.sa, sizeof(a.in)), EISCONN);
  int s = accept(l, NULL, NULL);
  CHECK_SYS(s);
  close(s);
  close(c);
  close(l);
  /* Refused: EINPROGRESS, then POLLERR with SO_ERROR ECONNREFUSED. */
  c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK_ERR(connect(c, &a.sa, sizeof(a.in)), EINPROGRESS);
  short r = revents(c, POLLIN | POLLOUT, 1000);
  CHECK(r & POLLERR);
  CHECK(r & POLLHUP);
  CHECK_EQ(getint(c, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
  CHECK_EQ(getint(c, SOL_SOCKET, SO_ERROR), 0);
  CHECK_ERR(connect(c, &a.sa, sizeof(a.in)), ECONNABORTED);
  close(c);
  /* Without reading SO_ERROR, the next connect reports the error. */
  c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK_ERR(connect(c, &a.sa, sizeof(a.in)), EINPROGRESS);
  CHECK(revents(c, POLLOUT, 1000) & POLLERR);
  CHECK_ERR(connect(c, &a.sa, sizeof(a.in)), ECONNREFUSED);
  close(c);
}

static void backlog(void) {
  addr_t a;
  /* listen(0) still queues one connection. */
  int l = listener(AF_INET, &a, 0);
  int c1 = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(connect(c1, &a.sa, sizeof(a.in)));
  /* The queue is full: a second client is not connected yet. */
  int c2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK_ERR(connect(c2, &a.sa, sizeof(a.in)), EINPROGRESS);
  CHECK_EQ(revents(c2, POLLOUT, 50), 0);
  CHECK_EQ(tcp_state(c2), TCP_SYN_SENT);
  CHECK_ERR(connect(c2, &a.sa, sizeof(a.in)), EALREADY);
  int s = accept(l, NULL, NULL);
  CHECK_SYS(s);
  close(s);
  close(c2);
  close(c1);
  close(l);
  /* Connections not accepted when the listener closes are reset. */
  l = listener(AF_INET, &a, 0);
  c1 = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(connect(c1, &a.sa, sizeof(a.in)));
  close(l);
  char buf[4];
  CHECK_ERR(read(c1, buf, sizeof(buf)), ECONNRESET);
  close(c1);
}

static void data(void) {
  int c, s;
  pair(AF_INET, &c, &s);
  char buf[64];
  CHECK_EQ(write(c, "hello", 5), 5);
  CHECK_EQ(send(c, " world", 6, 0), 6);
  int n = -1;
  /* Both writes are queued before the reads. */
  for (int i = 0; i < 100 && n != 11; i++) {
    CHECK_SYS(ioctl(s, FIONREAD, &n));
    if (n != 11) usleep(1000);
  }
  CHECK_EQ(n, 11);
  CHECK_SYS(ioctl(s, SIOCINQ, &n));
  CHECK_EQ(n, 11);
  CHECK_EQ(recv(s, buf, 5, MSG_PEEK), 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  CHECK_EQ(recv(s, buf, 3, 0), 3);
  CHECK(memcmp(buf, "hel", 3) == 0);
  CHECK_EQ(read(s, buf, sizeof(buf)), 8);
  CHECK(memcmp(buf, "lo world", 8) == 0);
  CHECK_ERR(recv(s, buf, 1, MSG_DONTWAIT), EAGAIN);
  /* MSG_TRUNC on TCP throws bytes away without copying them. */
  CHECK_EQ(send(s, "abcdef", 6, 0), 6);
  CHECK_EQ(recv(c, NULL, 2, MSG_TRUNC | MSG_WAITALL), 2);
  CHECK_EQ(recv(c, buf, sizeof(buf), 0), 4);
  CHECK(memcmp(buf, "cdef", 4) == 0);
  /* Scatter/gather. */
  struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
  CHECK_EQ(writev(c, iov, 3), 5);
  char x[2], y[8];
  struct iovec riov[2] = {{x, 2}, {y, 8}};
  struct msghdr m = {0};
  m.msg_iov = riov;
  m.msg_iovlen = 2;
  CHECK_EQ(recvmsg(s, &m, 0), 5);
  CHECK(memcmp(x, "ab", 2) == 0 && memcmp(y, "cde", 3) == 0);
  CHECK_EQ(m.msg_flags, 0);
  /* A destination on a connected stream is ignored. */
  addr_t a;
  loopback(AF_INET, &a, 9);
  CHECK_EQ(sendto(c, "z", 1, 0, &a.sa, sizeof(a.in)), 1);
  CHECK_EQ(read(s, buf, 1), 1);
  CHECK_EQ(buf[0], 'z');
  /* A zero-length send. */
  CHECK_EQ(send(c, "", 0, 0), 0);
  /* Bytes sent count as delivered at once: SIOCOUTQ drains to 0. */
  CHECK_EQ(write(c, "q", 1), 1);
  for (int i = 0; i < 1000; i++) {
    CHECK_SYS(ioctl(c, SIOCOUTQ, &n));
    if (n == 0) break;
    usleep(1000);
  }
  CHECK_EQ(n, 0);
  close(c);
  close(s);
}

struct delayed {
  int fd;
  const char *data;
  int n;
  int delay_us;
};

static void *delayed_write(void *arg) {
  struct delayed *d = arg;
  for (int i = 0; i < d->n; i++) {
    usleep(d->delay_us);
    if (write(d->fd, d->data + i, 1) != 1) return (void *)1;
  }
  return NULL;
}

static void waitall(void) {
  int c, s;
  pair(AF_INET, &c, &s);
  struct delayed d = {c, "0123456789", 10, 2000};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, delayed_write, &d), 0);
  char buf[10];
  CHECK_EQ(recv(s, buf, 10, MSG_WAITALL), 10);
  CHECK(memcmp(buf, "0123456789", 10) == 0);
  CHECK_EQ(pthread_join(th, NULL), 0);
  /* MSG_WAITALL stops at end of stream. */
  CHECK_EQ(write(c, "ab", 2), 2);
  CHECK_SYS(shutdown(c, SHUT_WR));
  CHECK_EQ(recv(s, buf, 10, MSG_WAITALL), 2);
  CHECK_EQ(recv(s, buf, 10, MSG_WAITALL), 0);
  close(c);
  close(s);
}

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig) {
  (void)sig;
  sigpipes++;
}

static void shutdown_halfclose(void) {
  int c, s;
  pair(AF_INET, &c, &s);
  CHECK_ERR(shutdown(c, 3), EINVAL);
  CHECK_ERR(shutdown(c, -1), EINVAL);
  CHECK_EQ(write(c, "x", 1), 1);
  CHECK_SYS(shutdown(c, SHUT_WR));
  /* FIN_WAIT1 lasts until the peer's ACK is processed. */
  for (int i = 0; i < 1000 && tcp_state(c) == TCP_FIN_WAIT1; i++) usleep(1000);
  CHECK_EQ(tcp_state(c), TCP_FIN_WAIT2);
  /* The peer reads what was sent, then EOF; it may still send. */
  char buf[8];
  CHECK_EQ(read(s, buf, sizeof(buf)), 1);
  CHECK_EQ(read(s, buf, sizeof(buf)), 0);
  short r = revents(s, POLLIN | POLLOUT | POLLRDHUP, 0);
  CHECK_EQ(r, POLLIN | POLLOUT | POLLRDHUP);
  CHECK_EQ(tcp_state(s), TCP_CLOSE_WAIT);
  CHECK_EQ(write(s, "back", 4), 4);
  CHECK_EQ(read(c, buf, sizeof(buf)), 4);
  /* Writing after SHUT_WR: EPIPE, and SIGPIPE unless MSG_NOSIGNAL. */
  struct sigaction sa = {0}, old;
  sa.sa_handler = on_sigpipe;
  CHECK_SYS(sigaction(SIGPIPE, &sa, &old));
  sigpipes = 0;
  CHECK_ERR(write(c, "y", 1), EPIPE);
  CHECK_EQ(sigpipes, 1);
  CHECK_ERR(send(c, "y", 1, MSG_NOSIGNAL), EPIPE);
  CHECK_EQ(sigpipes, 1);
  CHECK_ERR(send(c, "y", 1, 0), EPIPE);
  CHECK_EQ(sigpipes, 2);
  CHECK_SYS(sigaction(SIGPIPE, &old, NULL));
  /* Both directions shut: POLLHUP. */
  CHECK_SYS(shutdown(s, SHUT_WR));
  CHECK(revents(c, POLLIN, 1000) & POLLHUP);
  CHECK_EQ(read(c, buf, sizeof(buf)), 0);
  CHECK_EQ(tcp_state(c), TCP_CLOSE);
  close(c);
  close(s);
  /* SHUT_RD: reads return EOF instead of blocking. */
  pair(AF_INET, &c, &s);
  CHECK_SYS(shutdown(s, SHUT_RD));
  CHECK_EQ(read(s, buf, sizeof(buf)), 0);
  CHECK(revents(s, POLLIN, 0) & POLLIN);
  CHECK(revents(s, POLLRDHUP, 0) & POLLRDHUP);
  CHECK_EQ(write(s, "z", 1), 1);
  CHECK_EQ(read(c, buf, 1), 1);
  close(c);
  close(s);
}

static void close_peer(void) {
  int c, s;
  pair(AF_INET, &c, &s);
  struct sigaction sa = {0}, old;
  sa.sa_handler = SIG_IGN;
  CHECK_SYS(sigaction(SIGPIPE, &sa, &old));
  CHECK_EQ(write(s, "bye", 3), 3);
  close(s);
  char buf[8];
  /* Data first, then end of file. */
  CHECK_EQ(read(c, buf, sizeof(buf)), 3);
  CHECK_EQ(read(c, buf, sizeof(buf)), 0);
  /* The first write to a closed peer is accepted; its reset makes the
   * next one fail. */
  CHECK_EQ(write(c, "x", 1), 1);
  short r = 0;
  for (int i = 0; i < 1000 && !(r & POLLERR); i++) {
    r = revents(c, POLLIN | POLLOUT, 10);
  }
  CHECK(r & POLLERR);
  CHECK(r & POLLHUP);
  CHECK_ERR(write(c, "x", 1), EPIPE);
  CHECK_ERR(write(c, "x", 1), EPIPE);
  CHECK_EQ(read(c, buf, sizeof(buf)), 0);
  close(c);

  /* A large first write to a closed peer stops at the reset: it does
   * not report all of its bytes sent. */
  pair(AF_INET, &c, &s);
  close(s);
  CHECK_EQ(read(c, buf, sizeof(buf)), 0);
  size_t big = 64 << 20;
  char *data = calloc(1, big);
  CHECK(data != NULL);
  ssize_t n = write(c, data, big);
  CHECK(n > 0 && (size_t)n < big);
  CHECK_ERR(write(c, data, big), EPIPE);
  free(data);
  close(c);
  CHECK_SYS(sigaction(SIGPIPE, &old, NULL));
}

static void close_reset(void) {
  int c, s;
  /* Unread data at close: the peer is reset. */
  pair(AF_INET, &c, &s);
  CHECK_EQ(write(c, "unread", 6), 6);
  int n = 0;
  for (int i = 0; i < 1000 && n != 6; i++) {
    CHECK_SYS(ioctl(s, FIONREAD, &n));
    if (n != 6) usleep(1000);
  }
  close(s);
  short r = 0;
  for (int i = 0; i < 1000 && !(r & POLLERR); i++) r = revents(c, POLLIN, 10);
  CHECK(r & POLLERR);
  CHECK(r & POLLHUP);
  char buf[8];
  CHECK_ERR(read(c, buf, sizeof(buf)), ECONNRESET);
  CHECK_EQ(read(c, buf, sizeof(buf)), 0);
  CHECK_ERR(send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
  socklen_t len = sizeof(addr_t);
  addr_t a;
  CHECK_ERR(getpeername(c, &a.sa, &len), ENOTCONN);
  CHECK_EQ(tcp_state(c), TCP_CLOSE);
  close(c);
  /* SO_LINGER with a zero timeout: close resets. */
  pair(AF_INET, &c, &s);
  struct linger lg = {1, 0}, lg2;
  CHECK_SYS(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
  len = sizeof(lg2);
  CHECK_SYS(getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &len));
  CHECK_EQ(len, sizeof(lg2));
  CHECK_EQ(lg2.l_onoff, 1);
  CHECK_EQ(lg2.l_linger, 0);
  close(s);
  r = 0;
  for (int i = 0; i < 1000 && !(r & POLLERR); i++) r = revents(c, POLLIN, 10);
  CHECK_EQ(getint(c, SOL_SOCKET, SO_ERROR), ECONNRESET);
  CHECK_EQ(getint(c, SOL_SOCKET, SO_ERROR), 0);
  CHECK_EQ(read(c, buf, sizeof(buf)), 0);
  close(c);
}

static void flow_control(void) {
  addr_t a;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  /* A small receive buffer on the listener is inherited. */
  setint(l, SOL_SOCKET, SO_RCVBUF, 8192);
  CHECK_EQ(getint(l, SOL_SOCKET, SO_RCVBUF), 16384);
  socklen_t len = loopback(AF_INET, &a, 0);
  CHECK_SYS(bind(l, &a.sa, len));
  CHECK_SYS(getsockname(l, &a.sa, &len));
  CHECK_SYS(listen(l, 1));
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK_ERR(connect(c, &a.sa, len), EINPROGRESS);
  int s = accept(l, NULL, NULL);
  CHECK_SYS(s);
  CHECK_EQ(getint(s, SOL_SOCKET, SO_RCVBUF), 16384);
  CHECK_EQ(revents(c, POLLOUT, 1000), POLLOUT);
  static char buf[65536];
  long total = 0;
  for (;;) {
    ssize_t n = write(c, buf, sizeof(buf));
    if (n < 0) {
      CHECK_EQ(errno, EAGAIN);
      break;
    }
    total += n;
    CHECK(total < (64L << 20));
  }
  CHECK(total > 0);
  CHECK_EQ(revents(c, POLLOUT, 0), 0);
  /* Draining the receiver makes the sender writable again. */
  long got = 0;
  while (got < total) {
    ssize_t n = recv(s, buf, sizeof(buf), 0);
    CHECK(n > 0);
    got += n;
  }
  CHECK_EQ(revents(c, POLLOUT, 1000), POLLOUT);
  CHECK_ERR(recv(s, buf, 1, MSG_DONTWAIT), EAGAIN);
  close(c);
  close(s);
  close(l);
}

static void options(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  /* Buffer sizes are doubled, and bounded below. */
  setint(fd, SOL_SOCKET, SO_RCVBUF, 10000);
  CHECK_EQ(getint(fd, SOL_SOCKET, SO_RCVBUF), 20000);
  setint(fd, SOL_SOCKET, SO_SNDBUF, 10000);
  CHECK_EQ(getint(fd, SOL_SOCKET, SO_SNDBUF), 20000);
  setint(fd, SOL_SOCKET, SO_RCVBUF, 1);
  CHECK_EQ(getint(fd, SOL_SOCKET, SO_RCVBUF), 2304);
  setint(fd, SOL_SOCKET, SO_SNDBUF, 1);
  CHECK_EQ(getint(fd, SOL_SOCKET, SO_SNDBUF), 4608);
  CHECK_EQ(getint(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
  setint(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  CHECK_EQ(getint(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  CHECK_EQ(getint(fd, IPPROTO_TCP, TCP_NODELAY), 0);
  setint(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  CHECK_EQ(getint(fd, IPPROTO_TCP, TCP_NODELAY), 1);
  setint(fd, IPPROTO_TCP, TCP_CORK, 1);
  CHECK_EQ(getint(fd, IPPROTO_TCP, TCP_CORK), 1);
  CHECK_EQ(getint(fd, IPPROTO_TCP, TCP_KEEPIDLE), 7200);
  CHECK_EQ(getint(fd, IPPROTO_TCP, TCP_KEEPINTVL), 75);
  CHECK_EQ(getint(fd, IPPROTO_TCP, TCP_KEEPCNT), 9);
  setint(fd, IPPROTO_TCP, TCP_KEEPIDLE, 30);
  setint(fd, IPPROTO_TCP, TCP_KEEPINTVL, 5);
  setint(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
  CHECK_EQ(getint(fd, IPPROTO_TCP, TCP_KEEPIDLE), 30);
  CHECK_EQ(getint(fd, IPPROTO_TCP, TCP_KEEPINTVL), 5);
  CHECK_EQ(getint(fd, IPPROTO_TCP, TCP_KEEPCNT), 3);
  int zero = 0;
  CHECK_ERR(setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &zero, sizeof(zero)), EINVAL);
  CHECK_ERR(setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &zero, sizeof(zero)), EINVAL);
  CHECK_EQ(getint(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
  setint(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 5000);
  CHECK_EQ(getint(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 5000);
  CHECK_EQ(getint(fd, IPPROTO_TCP, TCP_MAXSEG), 536);
  CHECK_EQ(getint(fd, IPPROTO_IP, IP_TTL), 64);
  setint(fd, IPPROTO_IP, IP_TTL, 10);
  CHECK_EQ(getint(fd, IPPROTO_IP, IP_TTL), 10);
  CHECK_ERR(setsockopt(fd, IPPROTO_IP, IP_TTL, &zero, sizeof(zero)), EINVAL);
  CHECK_EQ(getint(fd, IPPROTO_IP, IP_TOS), 0);
  /* TCP owns the ECN bits of the TOS byte. */
  setint(fd, IPPROTO_IP, IP_TOS, 0x13);
  CHECK_EQ(getint(fd, IPPROTO_IP, IP_TOS), 0x10);
  /* Short option values and unknown options. */
  char c1 = 1;
  CHECK_ERR(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &c1, 1), EINVAL);
  int v = 1;
  CHECK_ERR(setsockopt(fd, SOL_SOCKET, 12345, &v, sizeof(v)), ENOPROTOOPT);
  CHECK_ERR(setsockopt(fd, IPPROTO_TCP, 12345, &v, sizeof(v)), ENOPROTOOPT);
  socklen_t l = sizeof(v);
  CHECK_ERR(getsockopt(fd, IPPROTO_TCP, 12345, &v, &l), ENOPROTOOPT);
  /* getsockopt copies at most optlen bytes. */
  long long big = -1;
  l = sizeof(big);
  CHECK_SYS(getsockopt(fd, SOL_SOCKET, SO_TYPE, &big, &l));
  CHECK_EQ(l, sizeof(int));
  /* Timeouts round-trip. */
  struct timeval tv = {2, 500000}, tv2;
  CHECK_SYS(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)));
  l = sizeof(tv2);
  CHECK_SYS(getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv2, &l));
  CHECK_EQ(l, sizeof(tv2));
  CHECK_EQ(tv2.tv_sec, 2);
  CHECK_EQ(tv2.tv_usec, 500000);
  tv.tv_usec = 1000000;
  CHECK_ERR(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), EDOM);
  CHECK_ERR(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, 4), EINVAL);
  close(fd);
  /* Accepted sockets inherit the listener's options. */
  if (!have_ipv6()) return;
  addr_t a;
  fd = socket(AF_INET6, SOCK_STREAM, 0);
  setint(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  setint(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  socklen_t len = loopback(AF_INET6, &a, 0);
  CHECK_SYS(bind(fd, &a.sa, len));
  CHECK_SYS(getsockname(fd, &a.sa, &len));
  CHECK_SYS(listen(fd, 1));
  int c = socket(AF_INET6, SOCK_STREAM, 0);
  CHECK_SYS(connect(c, &a.sa, len));
  int s = accept(fd, NULL, NULL);
  CHECK_EQ(getint(s, IPPROTO_TCP, TCP_NODELAY), 1);
  CHECK_EQ(getint(s, SOL_SOCKET, SO_KEEPALIVE), 1);
  CHECK(getint(s, IPPROTO_TCP, TCP_MAXSEG) > 536);
  CHECK_EQ(getint(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 64);
  close(s);
  close(c);
  close(fd);
}

static void on_timeout_alarm(int sig) { (void)sig; }

static void timeouts(void) {
  int c, s;
  pair(AF_INET, &c, &s);
  struct timeval tv = {0, 100000};
  CHECK_SYS(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
  char buf[4];
  long long t0 = test_now_ns();
  CHECK_ERR(read(s, buf, sizeof(buf)), EAGAIN);
  CHECK(test_now_ns() - t0 >= 90000000LL);
  /* accept honours SO_RCVTIMEO too. */
  addr_t a;
  int l = listener(AF_INET, &a, 1);
  CHECK_SYS(setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
  t0 = test_now_ns();
  CHECK_ERR(accept(l, NULL, NULL), EAGAIN);
  CHECK(test_now_ns() - t0 >= 90000000LL);
  close(l);
  /* A signal interrupts a wait with a timeout with EINTR, even with
   * SA_RESTART: Linux never restarts it. */
  struct sigaction sa = {.sa_handler = on_timeout_alarm, .sa_flags = SA_RESTART}, old;
  CHECK_SYS(sigaction(SIGALRM, &sa, &old));
  tv.tv_sec = 5;
  CHECK_SYS(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
  struct itimerval it = {.it_value = {0, 50000}};
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  t0 = test_now_ns();
  CHECK_ERR(read(s, buf, sizeof(buf)), EINTR);
  CHECK(test_now_ns() - t0 < 4000000000LL);
  CHECK_SYS(sigaction(SIGALRM, &old, NULL));
  close(c);
  close(s);
}

static void epoll_events(void) {
  int c, s;
  pair(AF_INET, &c, &s);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = s};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
  struct epoll_event out[4];
  CHECK_EQ(epoll_wait(ep, out, 4, 1000), 1);
  CHECK_EQ(out[0].events, EPOLLOUT);
  CHECK_EQ(epoll_wait(ep, out, 4, 0), 0);
  /* Each arrival is an edge. */
  CHECK_EQ(write(c, "a", 1), 1);
  CHECK_EQ(epoll_wait(ep, out, 4, 1000), 1);
  CHECK(out[0].events & EPOLLIN);
  CHECK_EQ(epoll_wait(ep, out, 4, 0), 0);
  CHECK_EQ(write(c, "b", 1), 1);
  CHECK_EQ(epoll_wait(ep, out, 4, 1000), 1);
  CHECK(out[0].events & EPOLLIN);
  /* The peer's FIN: EPOLLRDHUP. */
  CHECK_SYS(shutdown(c, SHUT_WR));
  CHECK_EQ(epoll_wait(ep, out, 4, 1000), 1);
  CHECK(out[0].events & EPOLLRDHUP);
  CHECK(out[0].events & EPOLLIN);
  CHECK(!(out[0].events & EPOLLHUP));
  /* A reset: EPOLLERR and EPOLLHUP. */
  char buf[4];
  CHECK_EQ(read(s, buf, sizeof(buf)), 2);
  CHECK_EQ(write(s, "x", 1), 1);
  close(c); /* unread "x" makes this a reset */
  int got = 0;
  for (int i = 0; i < 100 && !got; i++) {
    int n = epoll_wait(ep, out, 4, 100);
    CHECK_SYS(n);
    if (n == 1 && (out[0].events & EPOLLERR)) got = 1;
  }
  CHECK(got);
  CHECK(out[0].events & EPOLLHUP);
  close(s);
  /* A listener is readable with a connection pending. */
  addr_t a;
  int l = listener(AF_INET, &a, 1);
  ev.events = EPOLLIN;
  ev.data.fd = l;
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev));
  CHECK_EQ(epoll_wait(ep, out, 4, 0), 0);
  c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(connect(c, &a.sa, sizeof(a.in)));
  CHECK_EQ(epoll_wait(ep, out, 4, 1000), 1);
  CHECK_EQ(out[0].events, EPOLLIN);
  close(c);
  close(l);
  close(ep);
}

static void dual_stack(void) {
  /* An IPv6 listener on [::] takes IPv4 clients; it sees them as
   * v4-mapped addresses. */
  int l = socket(AF_INET6, SOCK_STREAM, 0);
  addr_t a;
  memset(&a, 0, sizeof(a));
  a.in6.sin6_family = AF_INET6;
  a.in6.sin6_addr = in6addr_any;
  CHECK_SYS(bind(l, &a.sa, sizeof(a.in6)));
  socklen_t len = sizeof(a);
  CHECK_SYS(getsockname(l, &a.sa, &len));
  CHECK_SYS(listen(l, 4));
  addr_t b;
  loopback(AF_INET, &b, port_of(&a));
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(connect(c, &b.sa, sizeof(b.in)));
  addr_t p;
  len = sizeof(p);
  int s = accept(l, &p.sa, &len);
  CHECK_SYS(s);
  CHECK_EQ(len, sizeof(struct sockaddr_in6));
  CHECK_EQ(p.sa.sa_family, AF_INET6);
  CHECK(IN6_IS_ADDR_V4MAPPED(&p.in6.sin6_addr));
  CHECK_EQ(p.in6.sin6_addr.s6_addr[15], 1);
  char buf[4];
  CHECK_EQ(write(c, "v4", 2), 2);
  CHECK_EQ(read(s, buf, sizeof(buf)), 2);
  close(s);
  close(c);
  close(l);
  if (!have_ipv6()) return;
  l = socket(AF_INET6, SOCK_STREAM, 0);
  CHECK_SYS(bind(l, &a.sa, sizeof(a.in6)));
  CHECK_SYS(listen(l, 4));
  /* An IPv6 client may name the listener by a v4-mapped address. */
  c = socket(AF_INET6, SOCK_STREAM, 0);
  memset(&b, 0, sizeof(b));
  b.in6.sin6_family = AF_INET6;
  b.in6.sin6_port = a.in6.sin6_port;
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &b.in6.sin6_addr);
  CHECK_SYS(connect(c, &b.sa, sizeof(b.in6)));
  len = sizeof(p);
  CHECK_SYS(getsockname(c, &p.sa, &len));
  CHECK(IN6_IS_ADDR_V4MAPPED(&p.in6.sin6_addr));
  s = accept(l, NULL, NULL);
  CHECK_SYS(s);
  close(s);
  close(c);
  close(l);
  /* A V6ONLY listener does not. */
  l = socket(AF_INET6, SOCK_STREAM, 0);
  setint(l, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  memset(&a, 0, sizeof(a));
  a.in6.sin6_family = AF_INET6;
  CHECK_SYS(bind(l, &a.sa, sizeof(a.in6)));
  len = sizeof(a);
  CHECK_SYS(getsockname(l, &a.sa, &len));
  CHECK_SYS(listen(l, 4));
  loopback(AF_INET, &b, port_of(&a));
  c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_ERR(connect(c, &b.sa, sizeof(b.in)), ECONNREFUSED);
  close(c);
  /* connecting to [::] reaches ::1. */
  c = socket(AF_INET6, SOCK_STREAM, 0);
  CHECK_SYS(connect(c, &a.sa, sizeof(a.in6)));
  len = sizeof(p);
  CHECK_SYS(getpeername(c, &p.sa, &len));
  CHECK(IN6_IS_ADDR_LOOPBACK(&p.in6.sin6_addr));
  close(c);
  close(l);
}

static void *delayed_connect(void *arg) {
  addr_t *a = arg;
  usleep(20000);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(c, &a->sa, sizeof(a->in)) != 0) return (void *)1;
  usleep(20000);
  if (write(c, "late", 4) != 4) return (void *)1;
  usleep(20000);
  close(c);
  return NULL;
}

static void on_alarm(int sig) { (void)sig; }

static void blocking(void) {
  addr_t a;
  int l = listener(AF_INET, &a, 1);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, delayed_connect, &a), 0);
  /* accept and read wait for the other thread. */
  int s = accept(l, NULL, NULL);
  CHECK_SYS(s);
  char buf[8];
  CHECK_EQ(read(s, buf, sizeof(buf)), 4);
  CHECK(memcmp(buf, "late", 4) == 0);
  CHECK_EQ(read(s, buf, sizeof(buf)), 0);
  void *ret;
  CHECK_EQ(pthread_join(th, &ret), 0);
  CHECK(ret == NULL);
  close(s);
  /* A signal without SA_RESTART interrupts a blocked accept. */
  struct sigaction sa = {0}, old;
  sa.sa_handler = on_alarm;
  CHECK_SYS(sigaction(SIGALRM, &sa, &old));
  struct itimerval it = {{0, 0}, {0, 50000}};
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  CHECK_ERR(accept(l, NULL, NULL), EINTR);
  int c;
  pair(AF_INET, &c, &s);
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  CHECK_ERR(read(s, buf, sizeof(buf)), EINTR);
  CHECK_SYS(sigaction(SIGALRM, &old, NULL));
  test_init(); /* re-arm the watchdog */
  close(c);
  close(s);
  close(l);
}

static void bulk_transfer(void) {
  int c, s;
  pair(AF_INET, &c, &s);
  const long total = 8L << 20;
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    static unsigned char buf[100003];
    long sent = 0;
    unsigned char v = 0;
    while (sent < total) {
      long n = total - sent < (long)sizeof(buf) ? total - sent : (long)sizeof(buf);
      for (long i = 0; i < n; i++) buf[i] = v++;
      long off = 0;
      while (off < n) {
        ssize_t w = write(c, buf + off, n - off);
        if (w <= 0) _exit(2);
        off += w;
      }
      sent += n;
    }
    _exit(0);
  }
  close(c);
  static unsigned char buf[65536];
  long got = 0;
  unsigned char v = 0;
  for (;;) {
    ssize_t n = read(s, buf, sizeof(buf));
    CHECK(n >= 0);
    if (n == 0) break;
    for (ssize_t i = 0; i < n; i++) CHECK_EQ(buf[i], v++);
    got += n;
  }
  CHECK_EQ(got, total);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(s);
}

int main(void) {
  test_init();
  RUN(create);
  RUN(bind_rules);
  RUN(bind_dual_stack);
  RUN(connect_accept4);
  RUN(connect_accept6);
  RUN(connect_nonblocking);
  RUN(backlog);
  RUN(data);
  RUN(waitall);
  RUN(shutdown_halfclose);
  RUN(close_peer);
  RUN(close_reset);
  RUN(flow_control);
  RUN(options);
  RUN(timeouts);
  RUN(epoll_events);
  RUN(dual_stack);
  RUN(blocking);
  RUN(bulk_transfer);
  return 0;
}
