/*
 * hostinet_tcp: TCP over 127.0.0.1 and ::1 as --network=host provides it
 * (each sandbox socket a host socket): blocking and non-blocking connect
 * (EINPROGRESS, then SO_ERROR), accept/accept4 flags and peer address,
 * ephemeral ports, getsockname/getpeername, send/recv flags (MSG_PEEK,
 * MSG_DONTWAIT, MSG_WAITALL, MSG_TRUNC), shutdown half-close, epoll
 * readiness, SO_RCVTIMEO, socket options round-trips, FIONREAD/SIOCOUTQ,
 * option and family refusals, a signal interrupting a blocking recv.
 */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

static int listener(int family, struct sockaddr_storage *ss, socklen_t *len) {
  int l;
  CHECK_SYS(l = socket(family, SOCK_STREAM, 0));
  int one = 1;
  CHECK_SYS(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
  memset(ss, 0, sizeof(*ss));
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *len = sizeof(*a);
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    *len = sizeof(*a);
  }
  CHECK_SYS(bind(l, (struct sockaddr *)ss, *len));
  CHECK_SYS(listen(l, 8));
  socklen_t got = sizeof(*ss);
  CHECK_SYS(getsockname(l, (struct sockaddr *)ss, &got));
  CHECK_EQ(got, *len);
  /* Port 0 got an ephemeral port. */
  CHECK(((struct sockaddr_in *)ss)->sin_port != 0);
  return l;
}

/* connected makes a client and server pair over family's loopback. */
static void connected(int family, int *c, int *s) {
  struct sockaddr_storage ss;
  socklen_t len;
  int l = listener(family, &ss, &len);
  CHECK_SYS(*c = socket(family, SOCK_STREAM, 0));
  CHECK_SYS(connect(*c, (struct sockaddr *)&ss, len));
  struct sockaddr_storage peer;
  socklen_t plen = sizeof(peer);
  CHECK_SYS(*s = accept(l, (struct sockaddr *)&peer, &plen));
  CHECK_EQ(plen, len);
  struct sockaddr_storage cname;
  socklen_t clen = sizeof(cname);
  CHECK_SYS(getsockname(*c, (struct sockaddr *)&cname, &clen));
  CHECK_EQ(clen, len);
  CHECK(memcmp(&cname, &peer, len) == 0);
  struct sockaddr_storage pname;
  socklen_t pnlen = sizeof(pname);
  CHECK_SYS(getpeername(*c, (struct sockaddr *)&pname, &pnlen));
  CHECK(memcmp(&pname, &ss, len) == 0);
  close(l);
}

static void echo_family(int family) {
  int c, s;
  connected(family, &c, &s);
  CHECK_EQ(write(c, "hello", 5), 5);
  char buf[16];
  CHECK_EQ(read(s, buf, sizeof(buf)), 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  CHECK_EQ(send(s, "world", 5, 0), 5);
  CHECK_EQ(recv(c, buf, sizeof(buf), 0), 5);
  CHECK(memcmp(buf, "world", 5) == 0);
  close(c);
  close(s);
}

/* have_ipv6 reports whether ::1 can be bound: hosts may disable IPv6. */
static int have_ipv6(void) {
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  if (s < 0) return 0;
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
  close(s);
  return ok;
}

static void tcp4_echo(void) { echo_family(AF_INET); }
static void tcp6_echo(void) { echo_family(AF_INET6); }

static void recv_flags(void) {
  int c, s;
  connected(AF_INET, &c, &s);
  char buf[16];
  CHECK_ERR(recv(s, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  CHECK_EQ(send(c, "abcdef", 6, 0), 6);
  /* Wait for the data through poll-free MSG_PEEK retries. */
  int n;
  for (int i = 0; (n = recv(s, buf, 3, MSG_PEEK | MSG_DONTWAIT)) < 0 && i < 1000; i++) usleep(1000);
  CHECK_EQ(n, 3);
  CHECK(memcmp(buf, "abc", 3) == 0);
  int avail;
  CHECK_SYS(ioctl(s, FIONREAD, &avail));
  CHECK_EQ(avail, 6);
  /* MSG_TRUNC on TCP discards instead of copying. */
  CHECK_EQ(recv(s, NULL, 2, MSG_TRUNC), 2);
  CHECK_EQ(recv(s, buf, sizeof(buf), 0), 4);
  CHECK(memcmp(buf, "cdef", 4) == 0);
  int outq = -1;
  CHECK_SYS(ioctl(c, SIOCOUTQ, &outq));
  CHECK(outq >= 0);
  close(c);
  close(s);
}

struct writer {
  int fd;
  const char *data;
  int len;
};

static void *slow_writer(void *arg) {
  struct writer *w = arg;
  for (int i = 0; i < w->len; i++) {
    usleep(2000);
    if (write(w->fd, w->data + i, 1) != 1) return (void *)1;
  }
  return NULL;
}

static void waitall(void) {
  int c, s;
  connected(AF_INET, &c, &s);
  int one = 1;
  CHECK_SYS(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
  struct writer w = {c, "0123456789", 10};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, slow_writer, &w), 0);
  char buf[10];
  CHECK_EQ(recv(s, buf, sizeof(buf), MSG_WAITALL), 10);
  CHECK(memcmp(buf, "0123456789", 10) == 0);
  void *ret;
  CHECK_EQ(pthread_join(th, &ret), 0);
  CHECK(ret == NULL);
  close(c);
  close(s);
}

static void half_close(void) {
  int c, s;
  connected(AF_INET, &c, &s);
  CHECK_EQ(write(c, "bye", 3), 3);
  CHECK_SYS(shutdown(c, SHUT_WR));
  char buf[8];
  CHECK_EQ(read(s, buf, sizeof(buf)), 3);
  CHECK_EQ(read(s, buf, sizeof(buf)), 0); /* end of file */
  /* The other direction still works. */
  CHECK_EQ(write(s, "ok", 2), 2);
  CHECK_EQ(read(c, buf, sizeof(buf)), 2);
  CHECK_ERR(send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
  CHECK_ERR(shutdown(c, 7), EINVAL);
  close(c);
  close(s);
}

static void nonblocking_connect(void) {
  struct sockaddr_storage ss;
  socklen_t len;
  int l = listener(AF_INET, &ss, &len);
  int c;
  CHECK_SYS(c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  int r = connect(c, (struct sockaddr *)&ss, len);
  CHECK(r == 0 || errno == EINPROGRESS);
  int ep;
  CHECK_SYS(ep = epoll_create1(EPOLL_CLOEXEC));
  struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = 7};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev));
  struct epoll_event out;
  CHECK_EQ(epoll_wait(ep, &out, 1, 5000), 1);
  CHECK_EQ(out.data.u32, 7);
  CHECK(out.events & EPOLLOUT);
  int err = -1;
  socklen_t el = sizeof(err);
  CHECK_SYS(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el));
  CHECK_EQ(err, 0);
  /* The listener is readable with one pending connection. */
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL));
  struct epoll_event lev = {.events = EPOLLIN, .data.u32 = 9};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, l, &lev));
  CHECK_EQ(epoll_wait(ep, &out, 1, 5000), 1);
  CHECK_EQ(out.data.u32, 9);
  int s;
  CHECK_SYS(s = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
  CHECK(fcntl(s, F_GETFL) & O_NONBLOCK);
  CHECK(fcntl(s, F_GETFD) & FD_CLOEXEC);
  CHECK_ERR(accept4(l, NULL, NULL, 0x1), EINVAL);
  /* Nothing to accept on the now empty non-blocking listener. */
  CHECK_SYS(fcntl(l, F_SETFL, O_NONBLOCK));
  CHECK_ERR(accept(l, NULL, NULL), EAGAIN);
  /* Readiness for data on the accepted socket. */
  struct epoll_event sev = {.events = EPOLLIN, .data.u32 = 11};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, s, &sev));
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
  CHECK_EQ(write(c, "x", 1), 1);
  CHECK_EQ(epoll_wait(ep, &out, 1, 5000), 1);
  CHECK_EQ(out.data.u32, 11);
  close(ep);
  close(s);
  close(c);
  close(l);
}

static void connect_refused(void) {
  /* Find a port nobody listens on: bind, read it, close. */
  struct sockaddr_storage ss;
  socklen_t len;
  int l = listener(AF_INET, &ss, &len);
  close(l);
  int c;
  CHECK_SYS(c = socket(AF_INET, SOCK_STREAM, 0));
  CHECK_ERR(connect(c, (struct sockaddr *)&ss, len), ECONNREFUSED);
  close(c);
  CHECK_SYS(c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  int r = connect(c, (struct sockaddr *)&ss, len);
  CHECK(r == -1 && (errno == EINPROGRESS || errno == ECONNREFUSED));
  if (errno == EINPROGRESS) {
    struct pollfd p = {.fd = c, .events = POLLOUT};
    CHECK_EQ(poll(&p, 1, 5000), 1);
    int err = 0;
    socklen_t el = sizeof(err);
    CHECK_SYS(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el));
    CHECK_EQ(err, ECONNREFUSED);
  }
  close(c);
}

static void rcvtimeo(void) {
  int c, s;
  connected(AF_INET, &c, &s);
  struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
  CHECK_SYS(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
  struct timeval got;
  socklen_t gl = sizeof(got);
  CHECK_SYS(getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &got, &gl));
  CHECK_EQ(gl, sizeof(got));
  CHECK_EQ(got.tv_sec, 0);
  CHECK(got.tv_usec >= 100000 && got.tv_usec < 120000); /* jiffies round up */
  long long t0 = test_now_ns();
  char buf[4];
  CHECK_ERR(recv(s, buf, sizeof(buf), 0), EAGAIN);
  CHECK(test_now_ns() - t0 >= 90000000LL);
  struct timeval bad = {.tv_sec = 1, .tv_usec = 1000000};
  CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof(bad)), EDOM);
  CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &bad, 4), EINVAL);
  close(c);
  close(s);
}

static void on_alarm(int sig) { (void)sig; }

static void interrupted_recv(void) {
  int c, s;
  connected(AF_INET, &c, &s);
  struct sigaction sa = {.sa_handler = on_alarm};
  CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
  struct itimerval it = {.it_value = {.tv_usec = 50000}};
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  char buf[4];
  CHECK_ERR(recv(s, buf, sizeof(buf), 0), EINTR);
  /* Back to test_init's watchdog. */
  signal(SIGALRM, SIG_DFL);
  alarm(20);
  close(c);
  close(s);
}

static void sockopts(void) {
  int c, s;
  connected(AF_INET, &c, &s);
  int v = 1;
  socklen_t l = sizeof(v);
  CHECK_SYS(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)));
  v = 0;
  CHECK_SYS(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &l));
  CHECK(v != 0);
  v = 1;
  CHECK_SYS(setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)));
  v = 30;
  CHECK_SYS(setsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)));
  v = 0;
  l = sizeof(v);
  CHECK_SYS(getsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, &l));
  CHECK_EQ(v, 30);
  v = 65536;
  CHECK_SYS(setsockopt(c, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)));
  v = 0;
  l = sizeof(v);
  CHECK_SYS(getsockopt(c, SOL_SOCKET, SO_RCVBUF, &v, &l));
  CHECK_EQ(v, 131072); /* doubled, as Linux does */
  struct linger lg = {.l_onoff = 1, .l_linger = 5};
  CHECK_SYS(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
  struct linger lg2;
  l = sizeof(lg2);
  CHECK_SYS(getsockopt(c, SOL_SOCKET, SO_LINGER, &lg2, &l));
  CHECK_EQ(lg2.l_onoff, 1);
  CHECK_EQ(lg2.l_linger, 5);
  l = sizeof(v);
  CHECK_SYS(getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &l));
  CHECK_EQ(v, SOCK_STREAM);
  CHECK_SYS(getsockopt(c, SOL_SOCKET, SO_DOMAIN, &v, &l));
  CHECK_EQ(v, AF_INET);
  CHECK_SYS(getsockopt(c, SOL_SOCKET, SO_PROTOCOL, &v, &l));
  CHECK_EQ(v, IPPROTO_TCP);
  CHECK_SYS(getsockopt(c, SOL_SOCKET, SO_ACCEPTCONN, &v, &l));
  CHECK_EQ(v, 0);
  struct tcp_info ti;
  l = sizeof(ti);
  CHECK_SYS(getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &l));
  CHECK_EQ(ti.tcpi_state, TCP_ESTABLISHED);
  char cong[16] = {0};
  l = sizeof(cong);
  CHECK_SYS(getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, cong, &l));
  CHECK(cong[0] != 0);
  CHECK_SYS(setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, cong, strlen(cong)));
  v = 0x10;
  CHECK_SYS(setsockopt(c, IPPROTO_IP, IP_TOS, &v, sizeof(v)));
  l = sizeof(v);
  v = 0;
  CHECK_SYS(getsockopt(c, IPPROTO_IP, IP_TOS, &v, &l));
  CHECK_EQ(v, 0x10);
  /* Short int option values are EINVAL. */
  CHECK_ERR(setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, 2), EINVAL);
  close(c);
  close(s);
}

static void v6only(void) {
  int s;
  CHECK_SYS(s = socket(AF_INET6, SOCK_STREAM, 0));
  int v = 1;
  CHECK_SYS(setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v)));
  v = 0;
  socklen_t l = sizeof(v);
  CHECK_SYS(getsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l));
  CHECK_EQ(v, 1);
  /* An IPv6 option on an IPv4 socket. */
  int s4;
  CHECK_SYS(s4 = socket(AF_INET, SOCK_STREAM, 0));
  CHECK_ERR(getsockopt(s4, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l), EOPNOTSUPP);
  close(s4);
  close(s);
}

static void socket_args(void) {
  CHECK_ERR(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
  CHECK_ERR(socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
  CHECK_ERR(socket(AF_INET, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT);
  CHECK_ERR(socket(AF_INET, SOCK_STREAM, 256), EPROTONOSUPPORT);
  CHECK_ERR(socket(AF_INET, SOCK_STREAM, 300), EINVAL);
  CHECK_ERR(socket(AF_INET, SOCK_RAW, 300), EINVAL);
  int sv[2];
  CHECK_ERR(socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP);
  int s;
  CHECK_SYS(s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
  CHECK(fcntl(s, F_GETFD) & FD_CLOEXEC);
  CHECK(!(fcntl(s, F_GETFL) & O_NONBLOCK));
  /* Not connected. */
  char b;
  CHECK_ERR(send(s, &b, 1, MSG_NOSIGNAL), EPIPE);
  CHECK_ERR(recv(s, &b, 1, 0), ENOTCONN);
  struct sockaddr_in a;
  socklen_t al = sizeof(a);
  CHECK_ERR(getpeername(s, (struct sockaddr *)&a, &al), ENOTCONN);
  /* A wrong family for the socket. */
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
  CHECK_ERR(bind(s, (struct sockaddr *)&a6, sizeof(a6)), EAFNOSUPPORT);
  close(s);
}

static void listen_state(void) {
  int l;
  CHECK_SYS(l = socket(AF_INET, SOCK_STREAM, 0));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK_SYS(bind(l, (struct sockaddr *)&a, sizeof(a)));
  CHECK_ERR(bind(l, (struct sockaddr *)&a, sizeof(a)), EINVAL);
  CHECK_SYS(listen(l, 1));
  int v;
  socklen_t vl = sizeof(v);
  CHECK_SYS(getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
  CHECK_EQ(v, 1);
  /* Another socket cannot take the same address and port. */
  socklen_t al = sizeof(a);
  CHECK_SYS(getsockname(l, (struct sockaddr *)&a, &al));
  int o;
  CHECK_SYS(o = socket(AF_INET, SOCK_STREAM, 0));
  CHECK_ERR(bind(o, (struct sockaddr *)&a, sizeof(a)), EADDRINUSE);
  close(o);
  close(l);
}

static void big_transfer(void) {
  int c, s;
  connected(AF_INET, &c, &s);
  pid_t pid;
  CHECK_SYS(pid = fork());
  const int total = 8 << 20;
  if (pid == 0) {
    static char buf[100000];
    memset(buf, 'z', sizeof(buf));
    int sent = 0;
    while (sent < total) {
      int n = write(c, buf, total - sent < (int)sizeof(buf) ? total - sent : (int)sizeof(buf));
      if (n <= 0) _exit(1);
      sent += n;
    }
    _exit(0);
  }
  close(c);
  static char rbuf[65536];
  long got = 0;
  for (;;) {
    int n = read(s, rbuf, sizeof(rbuf));
    CHECK(n >= 0);
    if (n == 0) break;
    for (int i = 0; i < n; i++) CHECK(rbuf[i] == 'z');
    got += n;
  }
  CHECK_EQ(got, total);
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(s);
}

int main(void) {
  test_init();
  RUN(tcp4_echo);
  if (have_ipv6())
    RUN(tcp6_echo);
  else
    printf("SKIP tcp6_echo: no IPv6 loopback on this host\n");
  RUN(recv_flags);
  RUN(waitall);
  RUN(half_close);
  RUN(nonblocking_connect);
  RUN(connect_refused);
  RUN(rcvtimeo);
  RUN(interrupted_recv);
  RUN(sockopts);
  RUN(v6only);
  RUN(socket_args);
  RUN(listen_state);
  RUN(big_transfer);
  return 0;
}
