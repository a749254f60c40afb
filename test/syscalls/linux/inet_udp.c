/*
 * inet_udp: UDP sockets over loopback (udp(7), ip(7)), on 127.0.0.1 and
 * ::1.
 * Checks creation and defaults, bind (EADDRINUSE, SO_REUSEADDR, implicit
 * binding by sendto), datagram boundaries, sender addresses, MSG_PEEK,
 * MSG_TRUNC (recv's return and msg_flags), MSG_DONTWAIT, zero-length
 * datagrams, FIONREAD/SIOCOUTQ, connect/disconnect (AF_UNSPEC) and the
 * filtering a connected socket does, ECONNREFUSED from a send to a port
 * nobody has, EMSGSIZE limits, EDESTADDRREQ, shutdown, SO_RCVTIMEO,
 * poll readiness, IPv4-mapped delivery to dual-stack sockets, and
 * IPV6_V6ONLY.
 */
#include "test.h"
#include "inet_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/sockios.h>

/* bound returns a UDP socket of fam bound to loopback, its address in a. */
static int bound(int fam, addr_t *a) {
  int fd = socket(fam, SOCK_DGRAM, 0);
  CHECK_SYS(fd);
  socklen_t len = loopback(fam, a, 0);
  CHECK_SYS(bind(fd, &a->sa, len));
  CHECK_SYS(getsockname(fd, &a->sa, &len));
  return fd;
}

static short revents(int fd, short events, int timeout) {
  struct pollfd p = {fd, events, 0};
  CHECK_SYS(poll(&p, 1, timeout));
  return p.revents;
}

static void create(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_SYS(fd);
  CHECK_EQ(getint(fd, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
  CHECK_EQ(getint(fd, SOL_SOCKET, SO_PROTOCOL), IPPROTO_UDP);
  CHECK_EQ(getint(fd, SOL_SOCKET, SO_DOMAIN), AF_INET);
  CHECK_EQ(getint(fd, SOL_SOCKET, SO_ACCEPTCONN), 0);
  CHECK_ERR(listen(fd, 1), EOPNOTSUPP);
  CHECK_ERR(accept(fd, NULL, NULL), EOPNOTSUPP);
  CHECK_ERR(send(fd, "a", 1, 0), EDESTADDRREQ);
  /* Writable, nothing to read. */
  CHECK_EQ(revents(fd, POLLIN | POLLOUT, 0), POLLOUT);
  char c;
  CHECK_ERR(recv(fd, &c, 1, MSG_DONTWAIT), EAGAIN);
  addr_t a;
  socklen_t l = sizeof(a);
  CHECK_ERR(getpeername(fd, &a.sa, &l), ENOTCONN);
  close(fd);
  CHECK_ERR(socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
  CHECK_SYS(fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_UDP));
  CHECK_EQ(getint(fd, SOL_SOCKET, SO_DOMAIN), AF_INET6);
  CHECK_ERR(recv(fd, &c, 1, 0), EAGAIN);
  close(fd);
}

static void datagrams(void) {
  addr_t ra, sa, from;
  int r = bound(AF_INET, &ra);
  int s = bound(AF_INET, &sa);
  CHECK_EQ(sendto(s, "one", 3, 0, &ra.sa, sizeof(ra.in)), 3);
  CHECK_EQ(sendto(s, "twotwo", 6, 0, &ra.sa, sizeof(ra.in)), 6);
  CHECK_EQ(sendto(s, "", 0, 0, &ra.sa, sizeof(ra.in)), 0);
  CHECK_EQ(revents(r, POLLIN, 1000), POLLIN);
  int n = -1;
  CHECK_SYS(ioctl(r, FIONREAD, &n));
  CHECK_EQ(n, 3);
  char buf[16];
  socklen_t len = sizeof(from);
  /* Boundaries are kept; the sender's address comes with each. */
  CHECK_EQ(recvfrom(r, buf, sizeof(buf), MSG_PEEK, &from.sa, &len), 3);
  CHECK_EQ(len, sizeof(from.in));
  CHECK(memcmp(&from, &sa, len) == 0);
  CHECK_EQ(recvfrom(r, buf, sizeof(buf), 0, &from.sa, &len), 3);
  CHECK(memcmp(buf, "one", 3) == 0);
  /* MSG_TRUNC: the rest of a datagram is dropped; recv with MSG_TRUNC
   * returns the full length. */
  CHECK_EQ(recv(r, buf, 3, MSG_TRUNC | MSG_PEEK), 6);
  struct iovec iov = {buf, 3};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_name = &from;
  m.msg_namelen = sizeof(from);
  CHECK_EQ(recvmsg(r, &m, 0), 3);
  CHECK_EQ(m.msg_flags, MSG_TRUNC);
  CHECK_EQ(m.msg_namelen, sizeof(struct sockaddr_in));
  CHECK(memcmp(buf, "two", 3) == 0);
  /* An empty datagram is a datagram. */
  CHECK_EQ(recv(r, buf, sizeof(buf), 0), 0);
  CHECK_ERR(recv(r, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  CHECK_SYS(ioctl(r, FIONREAD, &n));
  CHECK_EQ(n, 0);
  CHECK_SYS(ioctl(s, SIOCOUTQ, &n));
  CHECK_EQ(n, 0);
  /* sendmsg with a name, and write/read on a connected socket. */
  struct iovec siov[2] = {{"ab", 2}, {"cd", 2}};
  struct msghdr sm = {0};
  sm.msg_iov = siov;
  sm.msg_iovlen = 2;
  sm.msg_name = &ra;
  sm.msg_namelen = sizeof(ra.in);
  CHECK_EQ(sendmsg(s, &sm, 0), 4);
  CHECK_EQ(read(r, buf, sizeof(buf)), 4);
  CHECK(memcmp(buf, "abcd", 4) == 0);
  /* Sending to 0.0.0.0 reaches this host. */
  addr_t any = ra;
  any.in.sin_addr.s_addr = htonl(INADDR_ANY);
  CHECK_EQ(sendto(s, "z", 1, 0, &any.sa, sizeof(any.in)), 1);
  CHECK_EQ(recv(r, buf, sizeof(buf), 0), 1);
  close(r);
  close(s);
}

static void binding(void) {
  addr_t a, b;
  int s1 = bound(AF_INET, &a);
  int s2 = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_ERR(bind(s2, &a.sa, sizeof(a.in)), EADDRINUSE);
  CHECK_ERR(bind(s1, &a.sa, sizeof(a.in)), EINVAL);
  close(s1);
  close(s2);
  /* With SO_REUSEADDR on both, two sockets share a port. */
  s1 = socket(AF_INET, SOCK_DGRAM, 0);
  s2 = socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1;
  CHECK_SYS(setsockopt(s1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
  CHECK_SYS(setsockopt(s2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
  socklen_t len = loopback(AF_INET, &a, 0);
  CHECK_SYS(bind(s1, &a.sa, len));
  CHECK_SYS(getsockname(s1, &a.sa, &len));
  CHECK_SYS(bind(s2, &a.sa, len));
  close(s1);
  close(s2);
  /* A send binds an unbound socket to an ephemeral port. */
  int r = bound(AF_INET, &a);
  s1 = socket(AF_INET, SOCK_DGRAM, 0);
  len = sizeof(b);
  CHECK_SYS(getsockname(s1, &b.sa, &len));
  CHECK_EQ(port_of(&b), 0);
  CHECK_EQ(sendto(s1, "x", 1, 0, &a.sa, sizeof(a.in)), 1);
  len = sizeof(b);
  CHECK_SYS(getsockname(s1, &b.sa, &len));
  CHECK(port_of(&b) >= 32768 && port_of(&b) <= 60999);
  CHECK_EQ(b.in.sin_addr.s_addr, htonl(INADDR_ANY));
  addr_t from;
  len = sizeof(from);
  char c;
  CHECK_EQ(recvfrom(r, &c, 1, 0, &from.sa, &len), 1);
  CHECK_EQ(port_of(&from), port_of(&b));
  CHECK_EQ(from.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  close(s1);
  close(r);
}

static void connected(void) {
  addr_t ra, sa, oa;
  int r = bound(AF_INET, &ra);
  int s = bound(AF_INET, &sa);
  int o = bound(AF_INET, &oa);
  CHECK_SYS(connect(r, &sa.sa, sizeof(sa.in)));
  addr_t p;
  socklen_t len = sizeof(p);
  CHECK_SYS(getpeername(r, &p.sa, &len));
  CHECK(memcmp(&p, &sa, len) == 0);
  /* A connected socket only takes datagrams from its peer. */
  CHECK_EQ(sendto(o, "other", 5, 0, &ra.sa, sizeof(ra.in)), 5);
  CHECK_EQ(sendto(s, "peer", 4, 0, &ra.sa, sizeof(ra.in)), 4);
  char buf[8];
  CHECK_EQ(recv(r, buf, sizeof(buf), 0), 4);
  CHECK(memcmp(buf, "peer", 4) == 0);
  CHECK_ERR(recv(r, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  /* send without an address goes to the peer. */
  CHECK_EQ(send(r, "back", 4, 0), 4);
  CHECK_EQ(recv(s, buf, sizeof(buf), 0), 4);
  /* Disconnecting with AF_UNSPEC forgets the peer. */
  struct sockaddr unspec = {.sa_family = AF_UNSPEC};
  CHECK_SYS(connect(r, &unspec, sizeof(unspec)));
  len = sizeof(p);
  CHECK_ERR(getpeername(r, &p.sa, &len), ENOTCONN);
  /* The address bind chose stays; the port the kernel chose does not. */
  len = sizeof(p);
  CHECK_SYS(getsockname(r, &p.sa, &len));
  CHECK_EQ(port_of(&p), 0);
  CHECK_EQ(p.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  /* A send binds a port before it finds it has no destination. */
  CHECK_ERR(send(r, "x", 1, 0), EDESTADDRREQ);
  len = sizeof(p);
  CHECK_SYS(getsockname(r, &p.sa, &len));
  CHECK(port_of(&p) >= 32768);
  CHECK_EQ(p.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  close(r);
  close(s);
  close(o);
  /* connect binds an unbound socket; disconnect gives the port back. */
  r = bound(AF_INET, &ra);
  s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_SYS(connect(s, &ra.sa, sizeof(ra.in)));
  len = sizeof(p);
  CHECK_SYS(getsockname(s, &p.sa, &len));
  CHECK(port_of(&p) != 0);
  CHECK_EQ(p.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  CHECK_SYS(connect(s, &unspec, sizeof(unspec)));
  len = sizeof(p);
  CHECK_SYS(getsockname(s, &p.sa, &len));
  CHECK_EQ(port_of(&p), 0);
  CHECK_EQ(p.in.sin_addr.s_addr, htonl(INADDR_ANY));
  close(s);
  close(r);
}

static void refused(void) {
  /* Find a port nobody has: bind, note it, close. */
  addr_t a;
  int t = bound(AF_INET, &a);
  close(t);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_SYS(connect(s, &a.sa, sizeof(a.in)));
  CHECK_EQ(send(s, "x", 1, 0), 1);
  /* The port-unreachable error arrives as a pending error. */
  CHECK(revents(s, POLLIN, 1000) & POLLERR);
  CHECK_EQ(getint(s, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
  CHECK_EQ(getint(s, SOL_SOCKET, SO_ERROR), 0);
  CHECK_EQ(send(s, "x", 1, 0), 1);
  CHECK(revents(s, POLLIN, 1000) & POLLERR);
  /* The next send reports it, and the one after succeeds. */
  CHECK_ERR(send(s, "x", 1, 0), ECONNREFUSED);
  CHECK_EQ(send(s, "x", 1, 0), 1);
  CHECK(revents(s, POLLIN, 1000) & POLLERR);
  char c;
  CHECK_ERR(recv(s, &c, 1, 0), ECONNREFUSED);
  close(s);
  /* An unconnected sender is not told. */
  s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_EQ(sendto(s, "x", 1, 0, &a.sa, sizeof(a.in)), 1);
  CHECK_EQ(revents(s, POLLIN, 50), 0);
  CHECK_EQ(sendto(s, "x", 1, 0, &a.sa, sizeof(a.in)), 1);
  close(s);
}

static void sizes(void) {
  addr_t a;
  int r = bound(AF_INET, &a);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  static char big[70000];
  CHECK_ERR(sendto(s, big, 65508, 0, &a.sa, sizeof(a.in)), EMSGSIZE);
  CHECK_EQ(sendto(s, big, 65507, 0, &a.sa, sizeof(a.in)), 65507);
  CHECK_EQ(recv(r, big, sizeof(big), 0), 65507);
  close(s);
  close(r);
  if (!have_ipv6()) return;
  r = bound(AF_INET6, &a);
  s = socket(AF_INET6, SOCK_DGRAM, 0);
  CHECK_ERR(sendto(s, big, 65528, 0, &a.sa, sizeof(a.in6)), EMSGSIZE);
  CHECK_EQ(sendto(s, big, 65527, 0, &a.sa, sizeof(a.in6)), 65527);
  CHECK_EQ(recv(r, big, sizeof(big), 0), 65527);
  close(s);
  close(r);
}

static void shutdown_and_timeouts(void) {
  addr_t a;
  int r = bound(AF_INET, &a);
  CHECK_ERR(shutdown(r, 7), EINVAL);
  /* Unconnected: ENOTCONN, yet the direction is shut. */
  CHECK_ERR(shutdown(r, SHUT_RD), ENOTCONN);
  short ev = revents(r, POLLIN | POLLOUT | POLLRDHUP, 0);
  CHECK_EQ(ev, POLLIN | POLLOUT | POLLRDHUP);
  char c;
  CHECK_EQ(recv(r, &c, 1, 0), 0);
  close(r);
  r = bound(AF_INET, &a);
  CHECK_SYS(connect(r, &a.sa, sizeof(a.in)));
  CHECK_SYS(shutdown(r, SHUT_WR));
  CHECK_ERR(send(r, "x", 1, MSG_NOSIGNAL), EPIPE);
  struct timeval tv = {0, 100000};
  CHECK_SYS(setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
  long long t0 = test_now_ns();
  CHECK_ERR(recv(r, &c, 1, 0), EAGAIN);
  CHECK(test_now_ns() - t0 >= 90000000LL);
  close(r);
}

static void dual_stack(void) {
  /* A dual-stack socket on [::] hears IPv4 senders as v4-mapped. */
  int r = socket(AF_INET6, SOCK_DGRAM, 0);
  addr_t a;
  memset(&a, 0, sizeof(a));
  a.in6.sin6_family = AF_INET6;
  CHECK_SYS(bind(r, &a.sa, sizeof(a.in6)));
  socklen_t len = sizeof(a);
  CHECK_SYS(getsockname(r, &a.sa, &len));
  addr_t d;
  loopback(AF_INET, &d, port_of(&a));
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_EQ(sendto(s, "v4", 2, 0, &d.sa, sizeof(d.in)), 2);
  addr_t from;
  len = sizeof(from);
  char buf[4];
  CHECK_EQ(recvfrom(r, buf, sizeof(buf), 0, &from.sa, &len), 2);
  CHECK_EQ(len, sizeof(struct sockaddr_in6));
  CHECK(IN6_IS_ADDR_V4MAPPED(&from.in6.sin6_addr));
  /* Replying to the v4-mapped address reaches the IPv4 socket. */
  CHECK_EQ(sendto(r, "re", 2, 0, &from.sa, len), 2);
  len = sizeof(from);
  CHECK_EQ(recvfrom(s, buf, sizeof(buf), 0, &from.sa, &len), 2);
  CHECK_EQ(len, sizeof(struct sockaddr_in));
  CHECK_EQ(from.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  CHECK_EQ(port_of(&from), port_of(&a));
  close(r);
  /* With IPV6_V6ONLY it hears nothing over IPv4. */
  r = socket(AF_INET6, SOCK_DGRAM, 0);
  int one = 1;
  CHECK_SYS(setsockopt(r, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)));
  memset(&a, 0, sizeof(a));
  a.in6.sin6_family = AF_INET6;
  CHECK_SYS(bind(r, &a.sa, sizeof(a.in6)));
  len = sizeof(a);
  CHECK_SYS(getsockname(r, &a.sa, &len));
  loopback(AF_INET, &d, port_of(&a));
  CHECK_EQ(sendto(s, "v4", 2, 0, &d.sa, sizeof(d.in)), 2);
  CHECK_EQ(revents(r, POLLIN, 50), 0);
  /* ... and cannot send to v4-mapped addresses. */
  memset(&d, 0, sizeof(d));
  d.in6.sin6_family = AF_INET6;
  d.in6.sin6_port = htons(9);
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &d.in6.sin6_addr);
  CHECK_ERR(sendto(r, "x", 1, 0, &d.sa, sizeof(d.in6)), ENETUNREACH);
  close(r);
  close(s);
  if (!have_ipv6()) return;
  /* Plain IPv6 over ::1. */
  r = bound(AF_INET6, &a);
  s = bound(AF_INET6, &d);
  CHECK_EQ(sendto(s, "six", 3, 0, &a.sa, sizeof(a.in6)), 3);
  len = sizeof(from);
  CHECK_EQ(recvfrom(r, buf, sizeof(buf), 0, &from.sa, &len), 3);
  CHECK_EQ(len, sizeof(struct sockaddr_in6));
  CHECK(IN6_IS_ADDR_LOOPBACK(&from.in6.sin6_addr));
  CHECK_EQ(port_of(&from), port_of(&d));
  close(r);
  close(s);
}

int main(void) {
  test_init();
  RUN(create);
  RUN(datagrams);
  RUN(binding);
  RUN(connected);
  RUN(refused);
  RUN(sizes);
  RUN(shutdown_and_timeouts);
  RUN(dual_stack);
  return 0;
}
