/*
 * udp_cmsg: the ancillary data of UDP sockets (ip(7), ipv6(7), socket(7)),
 * over 127.0.0.0/8 and ::1.
 * Receive side: IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, IPV6_RECVPKTINFO,
 * IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS, SO_TIMESTAMP and SO_TIMESTAMPNS:
 * the option values (short values, the IPv4 options on AF_INET6
 * sockets), the control messages and their order, what a v4-mapped
 * datagram gets on an AF_INET6 socket, options turned on after a
 * datagram arrived, MSG_PEEK, and MSG_CTRUNC with short control buffers.
 * Send side: IP_PKTINFO, IP_TTL, IP_TOS, IPV6_PKTINFO, IPV6_HOPLIMIT and
 * IPV6_TCLASS control messages override the socket for one datagram (the
 * receiver sees it), with Linux's errors for bad values and the levels
 * each family skips; TCP and AF_UNIX sockets skip them all, and inet
 * sockets ignore SCM_RIGHTS.
 * IPv6 parts need ::1, which some hosts lack.
 */
#include "test.h"
#include "inet_util.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef SO_TIMESTAMP_NEW
#define SO_TIMESTAMP_NEW 63
#endif
#ifndef SO_TIMESTAMPNS_NEW
#define SO_TIMESTAMPNS_NEW 64
#endif

/* An interface index no host has. */
#define NO_IFINDEX 0x7fff0000

static socklen_t mkaddr(addr_t *a, const char *ip, int port) {
  memset(a, 0, sizeof(*a));
  if (strchr(ip, ':') == NULL) {
    a->in.sin_family = AF_INET;
    a->in.sin_port = htons(port);
    CHECK_EQ(inet_pton(AF_INET, ip, &a->in.sin_addr), 1);
    return sizeof(a->in);
  }
  a->in6.sin6_family = AF_INET6;
  a->in6.sin6_port = htons(port);
  CHECK_EQ(inet_pton(AF_INET6, ip, &a->in6.sin6_addr), 1);
  return sizeof(a->in6);
}

/* bound returns a UDP socket of fam bound to ip, its port in *port. */
static int bound(int fam, const char *ip, int *port) {
  int fd = socket(fam, SOCK_DGRAM, 0);
  CHECK_SYS(fd);
  addr_t a;
  socklen_t len = mkaddr(&a, ip, 0);
  CHECK_SYS(bind(fd, &a.sa, len));
  len = sizeof(a);
  CHECK_SYS(getsockname(fd, &a.sa, &len));
  if (port != NULL) *port = port_of(&a);
  return fd;
}

/* A received datagram and its control messages. */
typedef struct {
  ssize_t n;
  char buf[64];
  addr_t from;
  socklen_t fromlen;
  union {
    char b[512];
    struct cmsghdr align;
  } ctl;
  size_t controllen;
  int flags;
  struct msghdr m;
} rmsg_t;

/* recv_ctl receives one datagram (without waiting) with clen bytes of
 * control buffer (none if 0). */
static ssize_t recv_ctl(int fd, rmsg_t *r, size_t clen, int flags) {
  memset(r, 0, sizeof(*r));
  memset(r->ctl.b, 0xee, sizeof(r->ctl.b));
  struct iovec iov = {r->buf, sizeof(r->buf)};
  r->m.msg_name = &r->from;
  r->m.msg_namelen = sizeof(r->from);
  r->m.msg_iov = &iov;
  r->m.msg_iovlen = 1;
  r->m.msg_control = clen ? r->ctl.b : NULL;
  r->m.msg_controllen = clen;
  r->n = recvmsg(fd, &r->m, flags | MSG_DONTWAIT);
  r->fromlen = r->m.msg_namelen;
  r->controllen = r->m.msg_controllen;
  r->flags = r->m.msg_flags;
  r->m.msg_iov = NULL;
  return r->n;
}

/* recv_all receives one datagram with room for every control message. */
static void recv_all(int fd, rmsg_t *r) {
  struct pollfd p = {fd, POLLIN, 0};
  CHECK_EQ(poll(&p, 1, 1000), 1);
  CHECK_EQ(recv_ctl(fd, r, sizeof(r->ctl.b), 0), 1);
  CHECK_EQ(r->flags, 0);
}

/* nth returns the i-th control message, NULL if there is none. */
static struct cmsghdr *nth(rmsg_t *r, int i) {
  struct cmsghdr *c = CMSG_FIRSTHDR(&r->m);
  while (c != NULL && i-- > 0) c = CMSG_NXTHDR(&r->m, c);
  return c;
}

static int count(rmsg_t *r) {
  int n = 0;
  while (nth(r, n) != NULL) n++;
  return n;
}

/* cm_is checks control message i's level, type and data length. */
static struct cmsghdr *cm_is(rmsg_t *r, int i, int level, int type, size_t len) {
  struct cmsghdr *c = nth(r, i);
  CHECK(c != NULL);
  CHECK_EQ(c->cmsg_level, level);
  CHECK_EQ(c->cmsg_type, type);
  CHECK_EQ(c->cmsg_len, CMSG_LEN(len));
  return c;
}

static int cm_int(rmsg_t *r, int i, int level, int type) {
  int v;
  memcpy(&v, CMSG_DATA(cm_is(r, i, level, type, sizeof(int))), sizeof(v));
  return v;
}

/* check_pktinfo checks an IP_PKTINFO message. */
static void check_pktinfo(rmsg_t *r, int i, int ifindex, const char *spec, const char *addr) {
  struct in_pktinfo p;
  memcpy(&p, CMSG_DATA(cm_is(r, i, IPPROTO_IP, IP_PKTINFO, sizeof(p))), sizeof(p));
  CHECK_EQ(p.ipi_ifindex, ifindex);
  struct in_addr a;
  CHECK_EQ(inet_pton(AF_INET, spec, &a), 1);
  CHECK_EQ(p.ipi_spec_dst.s_addr, a.s_addr);
  CHECK_EQ(inet_pton(AF_INET, addr, &a), 1);
  CHECK_EQ(p.ipi_addr.s_addr, a.s_addr);
}

/* check_pktinfo6 checks an IPV6_PKTINFO message. */
static void check_pktinfo6(rmsg_t *r, int i, int ifindex, const char *addr) {
  struct in6_pktinfo p;
  memcpy(&p, CMSG_DATA(cm_is(r, i, IPPROTO_IPV6, IPV6_PKTINFO, sizeof(p))), sizeof(p));
  CHECK_EQ(p.ipi6_ifindex, ifindex);
  struct in6_addr a;
  CHECK_EQ(inet_pton(AF_INET6, addr, &a), 1);
  CHECK(memcmp(&p.ipi6_addr, &a, sizeof(a)) == 0);
}

static long long realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A control message to send. */
typedef struct {
  int level, type;
  size_t len;
  union {
    int i;
    unsigned char b[40];
    struct in_pktinfo p4;
    struct in6_pktinfo p6;
  } u;
} cm_t;

static cm_t cint(int level, int type, int v) {
  cm_t c = {level, type, sizeof(int), {.i = v}};
  return c;
}

static cm_t cbyte(int level, int type, unsigned char v) {
  cm_t c = {level, type, 1, {.b = {v}}};
  return c;
}

static cm_t cpk4(int ifindex, const char *spec) {
  cm_t c = {IPPROTO_IP, IP_PKTINFO, sizeof(struct in_pktinfo), {.i = 0}};
  c.u.p4.ipi_ifindex = ifindex;
  CHECK_EQ(inet_pton(AF_INET, spec, &c.u.p4.ipi_spec_dst), 1);
  return c;
}

static cm_t cpk6(int ifindex, const char *addr) {
  cm_t c = {IPPROTO_IPV6, IPV6_PKTINFO, sizeof(struct in6_pktinfo), {.i = 0}};
  c.u.p6.ipi6_ifindex = ifindex;
  CHECK_EQ(inet_pton(AF_INET6, addr, &c.u.p6.ipi6_addr), 1);
  return c;
}

/* sendc sends "x" to `to` (NULL: the peer) with the control messages
 * c[0..nc). */
static ssize_t sendc(int fd, const addr_t *to, const cm_t *c, int nc) {
  union {
    char b[512];
    struct cmsghdr align;
  } buf;
  memset(buf.b, 0, sizeof(buf.b));
  size_t off = 0;
  for (int i = 0; i < nc; i++) {
    struct cmsghdr *h = (struct cmsghdr *)(buf.b + off);
    h->cmsg_len = CMSG_LEN(c[i].len);
    h->cmsg_level = c[i].level;
    h->cmsg_type = c[i].type;
    memcpy(CMSG_DATA(h), c[i].u.b, c[i].len);
    off += CMSG_SPACE(c[i].len);
  }
  struct iovec iov = {"x", 1};
  struct msghdr m = {0};
  if (to != NULL) {
    m.msg_name = (void *)to;
    m.msg_namelen = to->sa.sa_family == AF_INET ? sizeof(to->in) : sizeof(to->in6);
  }
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = nc ? buf.b : NULL;
  m.msg_controllen = off;
  return sendmsg(fd, &m, 0);
}

static ssize_t send1(int fd, const addr_t *to, cm_t c) { return sendc(fd, to, &c, 1); }

static void nothing_queued(int fd) {
  char b;
  CHECK_ERR(recv(fd, &b, 1, MSG_DONTWAIT), EAGAIN);
}

static void options(void) {
  int s4 = socket(AF_INET, SOCK_DGRAM, 0), s6 = socket(AF_INET6, SOCK_DGRAM, 0);
  CHECK_SYS(s4);
  CHECK_SYS(s6);
  int ip[] = {IP_PKTINFO, IP_RECVTTL, IP_RECVTOS};
  for (int i = 0; i < 3; i++) {
    int fds[] = {s4, s6};
    for (int j = 0; j < 2; j++) {
      int fd = fds[j];
      CHECK_EQ(getint(fd, IPPROTO_IP, ip[i]), 0);
      setint(fd, IPPROTO_IP, ip[i], 2);
      CHECK_EQ(getint(fd, IPPROTO_IP, ip[i]), 1);
      /* do_ip_setsockopt: no value is 0, a short one a byte. */
      CHECK_SYS(setsockopt(fd, IPPROTO_IP, ip[i], NULL, 0));
      CHECK_EQ(getint(fd, IPPROTO_IP, ip[i]), 0);
      unsigned char b = 1;
      CHECK_SYS(setsockopt(fd, IPPROTO_IP, ip[i], &b, 1));
      CHECK_EQ(getint(fd, IPPROTO_IP, ip[i]), 1);
      /* ip_getsockopt gives a caller without room for an int a byte. */
      unsigned char out[4] = {0xaa, 0xaa, 0xaa, 0xaa};
      socklen_t l = 2;
      CHECK_SYS(getsockopt(fd, IPPROTO_IP, ip[i], out, &l));
      CHECK_EQ(l, 1);
      CHECK_EQ(out[0], 1);
      CHECK_EQ(out[1], 0xaa);
      setint(fd, IPPROTO_IP, ip[i], 0);
    }
  }
  unsigned char b = 9;
  CHECK_SYS(setsockopt(s4, IPPROTO_IP, IP_TTL, &b, 1));
  CHECK_EQ(getint(s4, IPPROTO_IP, IP_TTL), 9);
  CHECK_ERR(setsockopt(s4, IPPROTO_IP, IP_TTL, NULL, 0), EINVAL);
  CHECK_SYS(setsockopt(s4, IPPROTO_IP, IP_TOS, &b, 1));
  CHECK_EQ(getint(s4, IPPROTO_IP, IP_TOS), 9);
  CHECK_SYS(setsockopt(s4, IPPROTO_IP, IP_TOS, NULL, 0));
  CHECK_EQ(getint(s4, IPPROTO_IP, IP_TOS), 0);

  int ip6[] = {IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS};
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(getint(s6, IPPROTO_IPV6, ip6[i]), 0);
    setint(s6, IPPROTO_IPV6, ip6[i], 5);
    CHECK_EQ(getint(s6, IPPROTO_IPV6, ip6[i]), 1);
    /* IPv6's need an int. */
    int v = 0;
    CHECK_ERR(setsockopt(s6, IPPROTO_IPV6, ip6[i], &v, 3), EINVAL);
    CHECK_ERR(setsockopt(s6, IPPROTO_IPV6, ip6[i], NULL, 0), EINVAL);
    CHECK_EQ(getint(s6, IPPROTO_IPV6, ip6[i]), 1);
    setint(s6, IPPROTO_IPV6, ip6[i], 0);
    CHECK_EQ(getint(s6, IPPROTO_IPV6, ip6[i]), 0);
    /* Not at all on an AF_INET socket. */
    CHECK_ERR(setsockopt(s4, IPPROTO_IPV6, ip6[i], &v, sizeof(v)), ENOPROTOOPT);
    socklen_t l = sizeof(v);
    CHECK_ERR(getsockopt(s4, IPPROTO_IPV6, ip6[i], &v, &l), EOPNOTSUPP);
  }

  /* The timestamp options replace each other; turning either off turns
   * both off. */
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMP), 0);
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMPNS), 0);
  setint(s4, SOL_SOCKET, SO_TIMESTAMP, 1);
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMP), 1);
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMPNS), 0);
  setint(s4, SOL_SOCKET, SO_TIMESTAMPNS, 1);
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMP), 0);
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMPNS), 1);
  setint(s4, SOL_SOCKET, SO_TIMESTAMP, 0);
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMP), 0);
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMPNS), 0);
  setint(s4, SOL_SOCKET, SO_TIMESTAMPNS_NEW, 1);
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMPNS), 0);
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMPNS_NEW), 1);
  /* sk_getsockopt does not tell the _NEW ones apart. */
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMP_NEW), 1);
  setint(s4, SOL_SOCKET, SO_TIMESTAMPNS_NEW, 0);
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMP_NEW), 0);
  CHECK_ERR(setsockopt(s4, SOL_SOCKET, SO_TIMESTAMP, &b, 1), EINVAL);
  CHECK_EQ(getint(s4, SOL_SOCKET, SO_TIMESTAMP), 0);
  close(s4);
  close(s6);
}

static void recv4(void) {
  int port;
  int r = bound(AF_INET, "0.0.0.0", &port);
  int s = bound(AF_INET, "127.0.0.1", NULL);
  setint(s, IPPROTO_IP, IP_TTL, 33);
  setint(s, IPPROTO_IP, IP_TOS, 0x28);
  addr_t d;
  mkaddr(&d, "127.0.0.1", port);
  rmsg_t m;
  /* Nothing asked for, nothing given. */
  CHECK_EQ(sendto(s, "x", 1, 0, &d.sa, sizeof(d.in)), 1);
  recv_all(r, &m);
  CHECK_EQ(m.controllen, 0);

  setint(r, SOL_SOCKET, SO_TIMESTAMP, 1);
  setint(r, IPPROTO_IP, IP_RECVTOS, 1);
  setint(r, IPPROTO_IP, IP_RECVTTL, 1);
  setint(r, IPPROTO_IP, IP_PKTINFO, 1);
  long long t0 = realtime_ns();
  CHECK_EQ(sendto(s, "x", 1, 0, &d.sa, sizeof(d.in)), 1);
  recv_all(r, &m);
  long long t1 = realtime_ns();
  /* The timestamp, then IP_PKTINFO, IP_TTL, IP_TOS (one byte). */
  CHECK_EQ(count(&m), 4);
  CHECK_EQ(m.controllen, CMSG_SPACE(sizeof(struct timeval)) + CMSG_SPACE(sizeof(struct in_pktinfo)) +
                             CMSG_SPACE(sizeof(int)) + CMSG_SPACE(1));
  struct timeval tv;
  memcpy(&tv, CMSG_DATA(cm_is(&m, 0, SOL_SOCKET, SCM_TIMESTAMP, sizeof(tv))), sizeof(tv));
  long long at = tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
  CHECK(at >= t0 / 1000 * 1000 - 10000000 && at <= t1 + 10000000);
  check_pktinfo(&m, 1, 1, "127.0.0.1", "127.0.0.1");
  CHECK_EQ(cm_int(&m, 2, IPPROTO_IP, IP_TTL), 33);
  CHECK_EQ(*CMSG_DATA(cm_is(&m, 3, IPPROTO_IP, IP_TOS, 1)), 0x28);

  /* Another loopback address: it is ipi_spec_dst and ipi_addr. */
  mkaddr(&d, "127.0.0.5", port);
  CHECK_EQ(sendto(s, "x", 1, 0, &d.sa, sizeof(d.in)), 1);
  /* MSG_PEEK gets the control messages too. */
  struct pollfd p = {r, POLLIN, 0};
  CHECK_EQ(poll(&p, 1, 1000), 1);
  CHECK_EQ(recv_ctl(r, &m, sizeof(m.ctl.b), MSG_PEEK), 1);
  CHECK_EQ(count(&m), 4);
  check_pktinfo(&m, 1, 1, "127.0.0.5", "127.0.0.5");
  recv_all(r, &m);
  CHECK_EQ(count(&m), 4);
  check_pktinfo(&m, 1, 1, "127.0.0.5", "127.0.0.5");
  CHECK_EQ(m.from.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));

  /* SO_TIMESTAMPNS: a struct timespec. */
  setint(r, SOL_SOCKET, SO_TIMESTAMPNS, 1);
  setint(r, IPPROTO_IP, IP_PKTINFO, 0);
  setint(r, IPPROTO_IP, IP_RECVTOS, 0);
  t0 = realtime_ns();
  CHECK_EQ(sendto(s, "x", 1, 0, &d.sa, sizeof(d.in)), 1);
  recv_all(r, &m);
  t1 = realtime_ns();
  CHECK_EQ(count(&m), 2);
  struct timespec ts;
  memcpy(&ts, CMSG_DATA(cm_is(&m, 0, SOL_SOCKET, SCM_TIMESTAMPNS, sizeof(ts))), sizeof(ts));
  at = ts.tv_sec * 1000000000LL + ts.tv_nsec;
  CHECK(at >= t0 - 10000000 && at <= t1 + 10000000);
  CHECK_EQ(cm_int(&m, 1, IPPROTO_IP, IP_TTL), 33);
  /* The _NEW names are also the control messages' types. */
  setint(r, SOL_SOCKET, SO_TIMESTAMP_NEW, 1);
  CHECK_EQ(sendto(s, "x", 1, 0, &d.sa, sizeof(d.in)), 1);
  recv_all(r, &m);
  CHECK_EQ(count(&m), 2);
  cm_is(&m, 0, SOL_SOCKET, SO_TIMESTAMP_NEW, sizeof(struct timeval));
  setint(r, SOL_SOCKET, SO_TIMESTAMP_NEW, 0);
  setint(r, IPPROTO_IP, IP_RECVTTL, 0);
  close(r);

  /* Options turned on after the datagram arrived: the header's TTL
   * and TOS are still there, but ipv4_pktinfo_prepare only keeps the
   * interface and ipi_spec_dst for a socket that asked then. */
  r = bound(AF_INET, "0.0.0.0", &port);
  mkaddr(&d, "127.0.0.5", port);
  CHECK_EQ(sendto(s, "x", 1, 0, &d.sa, sizeof(d.in)), 1);
  p.fd = r;
  CHECK_EQ(poll(&p, 1, 1000), 1);
  setint(r, IPPROTO_IP, IP_PKTINFO, 1);
  setint(r, IPPROTO_IP, IP_RECVTTL, 1);
  recv_all(r, &m);
  CHECK_EQ(count(&m), 2);
  check_pktinfo(&m, 0, 0, "0.0.0.0", "127.0.0.5");
  CHECK_EQ(cm_int(&m, 1, IPPROTO_IP, IP_TTL), 33);
  /* Defaults: TTL 64, TOS 0. */
  int s2 = bound(AF_INET, "127.0.0.1", NULL);
  setint(r, IPPROTO_IP, IP_RECVTOS, 1);
  CHECK_EQ(sendto(s2, "x", 1, 0, &d.sa, sizeof(d.in)), 1);
  recv_all(r, &m);
  CHECK_EQ(count(&m), 3);
  check_pktinfo(&m, 0, 1, "127.0.0.5", "127.0.0.5");
  CHECK_EQ(cm_int(&m, 1, IPPROTO_IP, IP_TTL), 64);
  CHECK_EQ(*CMSG_DATA(cm_is(&m, 2, IPPROTO_IP, IP_TOS, 1)), 0);
  close(s2);
  close(r);
  close(s);
}

static void recv6(void) {
  if (!have_ipv6()) return;
  int port;
  int r = bound(AF_INET6, "::", &port);
  int s = bound(AF_INET6, "::1", NULL);
  setint(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9);
  setint(s, IPPROTO_IPV6, IPV6_TCLASS, 0x44);
  setint(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
  setint(r, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
  setint(r, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
  setint(r, SOL_SOCKET, SO_TIMESTAMPNS, 1);
  /* IPv4's options say nothing about IPv6 datagrams. */
  setint(r, IPPROTO_IP, IP_PKTINFO, 1);
  setint(r, IPPROTO_IP, IP_RECVTTL, 1);
  setint(r, IPPROTO_IP, IP_RECVTOS, 1);
  addr_t d;
  mkaddr(&d, "::1", port);
  CHECK_EQ(sendto(s, "x", 1, 0, &d.sa, sizeof(d.in6)), 1);
  rmsg_t m;
  recv_all(r, &m);
  /* The timestamp, then IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS. */
  CHECK_EQ(count(&m), 4);
  CHECK_EQ(m.controllen, CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) +
                             2 * CMSG_SPACE(sizeof(int)));
  cm_is(&m, 0, SOL_SOCKET, SCM_TIMESTAMPNS, sizeof(struct timespec));
  check_pktinfo6(&m, 1, 1, "::1");
  CHECK_EQ(cm_int(&m, 2, IPPROTO_IPV6, IPV6_HOPLIMIT), 9);
  CHECK_EQ(cm_int(&m, 3, IPPROTO_IPV6, IPV6_TCLASS), 0x44);
  /* Defaults; the interface is known even if the option came late. */
  int s2 = bound(AF_INET6, "::1", NULL);
  setint(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, 0);
  setint(r, SOL_SOCKET, SO_TIMESTAMPNS, 0);
  CHECK_EQ(sendto(s2, "x", 1, 0, &d.sa, sizeof(d.in6)), 1);
  struct pollfd p = {r, POLLIN, 0};
  CHECK_EQ(poll(&p, 1, 1000), 1);
  setint(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
  recv_all(r, &m);
  CHECK_EQ(count(&m), 3);
  check_pktinfo6(&m, 0, 1, "::1");
  CHECK_EQ(cm_int(&m, 1, IPPROTO_IPV6, IPV6_HOPLIMIT), 64);
  CHECK_EQ(cm_int(&m, 2, IPPROTO_IPV6, IPV6_TCLASS), 0);
  close(s2);
  close(s);
  close(r);
}

/* An AF_INET6 socket and IPv4 traffic (v4-mapped addresses). */
static void mapped(void) {
  int port;
  int r = bound(AF_INET6, "::", &port);
  int s = bound(AF_INET, "127.0.0.1", NULL);
  setint(s, IPPROTO_IP, IP_TTL, 33);
  setint(s, IPPROTO_IP, IP_TOS, 0x28);
  setint(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
  setint(r, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
  setint(r, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
  setint(r, IPPROTO_IP, IP_PKTINFO, 1);
  setint(r, IPPROTO_IP, IP_RECVTTL, 1);
  setint(r, IPPROTO_IP, IP_RECVTOS, 1);
  addr_t d;
  mkaddr(&d, "127.0.0.1", port);
  CHECK_EQ(sendto(s, "x", 1, 0, &d.sa, sizeof(d.in)), 1);
  rmsg_t m;
  recv_all(r, &m);
  /* IPV6_PKTINFO (mapped), then IPv4's; no hop limit or class. */
  CHECK_EQ(count(&m), 4);
  check_pktinfo6(&m, 0, 1, "::ffff:127.0.0.1");
  check_pktinfo(&m, 1, 1, "127.0.0.1", "127.0.0.1");
  CHECK_EQ(cm_int(&m, 2, IPPROTO_IP, IP_TTL), 33);
  CHECK_EQ(*CMSG_DATA(cm_is(&m, 3, IPPROTO_IP, IP_TOS, 1)), 0x28);
  /* IPV6_RECVPKTINFO alone keeps the interface of an IPv4 datagram. */
  setint(r, IPPROTO_IP, IP_PKTINFO, 0);
  setint(r, IPPROTO_IP, IP_RECVTTL, 0);
  setint(r, IPPROTO_IP, IP_RECVTOS, 0);
  mkaddr(&d, "127.0.0.6", port);
  CHECK_EQ(sendto(s, "x", 1, 0, &d.sa, sizeof(d.in)), 1);
  recv_all(r, &m);
  CHECK_EQ(count(&m), 1);
  check_pktinfo6(&m, 0, 1, "::ffff:127.0.0.6");

  /* An AF_INET6 socket sends to a v4-mapped address with its IPv4
   * TTL and TOS, not its hop limit and traffic class. */
  int r4 = bound(AF_INET, "127.0.0.1", &port);
  setint(r4, IPPROTO_IP, IP_RECVTTL, 1);
  setint(r4, IPPROTO_IP, IP_RECVTOS, 1);
  int s6 = bound(AF_INET6, "::", NULL);
  setint(s6, IPPROTO_IP, IP_TTL, 21);
  setint(s6, IPPROTO_IP, IP_TOS, 0x10);
  setint(s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 44);
  setint(s6, IPPROTO_IPV6, IPV6_TCLASS, 0x20);
  mkaddr(&d, "::ffff:127.0.0.1", port);
  CHECK_EQ(sendto(s6, "x", 1, 0, &d.sa, sizeof(d.in6)), 1);
  recv_all(r4, &m);
  CHECK_EQ(count(&m), 2);
  CHECK_EQ(cm_int(&m, 0, IPPROTO_IP, IP_TTL), 21);
  CHECK_EQ(*CMSG_DATA(cm_is(&m, 1, IPPROTO_IP, IP_TOS, 1)), 0x10);
  close(s6);
  close(r4);
  close(s);
  close(r);
}

/* Control buffers too short for what there is: put_cmsg cuts the
 * message that does not fit (its cmsg_len says how much is there) and
 * drops the rest; either sets MSG_CTRUNC. */
static void ctrunc(void) {
  int port;
  int r = bound(AF_INET, "127.0.0.1", &port);
  int s = bound(AF_INET, "127.0.0.1", NULL);
  setint(r, IPPROTO_IP, IP_PKTINFO, 1);
  setint(r, IPPROTO_IP, IP_RECVTTL, 1);
  addr_t d;
  mkaddr(&d, "127.0.0.1", port);
  const size_t p = CMSG_SPACE(sizeof(struct in_pktinfo)); /* 32 */
  struct {
    size_t clen, want_len;
    int ctrunc, n;
    size_t len0, len1;
  } cases[] = {
      {0, 0, 1, 0, 0, 0},
      {12, 0, 1, 0, 0, 0},
      {CMSG_LEN(0), CMSG_LEN(0), 1, 1, CMSG_LEN(0), 0},
      {CMSG_LEN(4), CMSG_LEN(4), 1, 1, CMSG_LEN(4), 0},
      {CMSG_LEN(sizeof(struct in_pktinfo)), CMSG_LEN(sizeof(struct in_pktinfo)), 1, 1,
       CMSG_LEN(sizeof(struct in_pktinfo)), 0},
      {p, p, 1, 1, CMSG_LEN(sizeof(struct in_pktinfo)), 0},
      {p + 12, p, 1, 1, CMSG_LEN(sizeof(struct in_pktinfo)), 0},
      {p + CMSG_LEN(0), p + CMSG_LEN(0), 1, 2, CMSG_LEN(sizeof(struct in_pktinfo)), CMSG_LEN(0)},
      {p + CMSG_LEN(sizeof(int)), p + CMSG_LEN(sizeof(int)), 0, 2, CMSG_LEN(sizeof(struct in_pktinfo)),
       CMSG_LEN(sizeof(int))},
      {p + CMSG_SPACE(sizeof(int)), p + CMSG_SPACE(sizeof(int)), 0, 2, CMSG_LEN(sizeof(struct in_pktinfo)),
       CMSG_LEN(sizeof(int))},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    CHECK_EQ(sendto(s, "x", 1, 0, &d.sa, sizeof(d.in)), 1);
    struct pollfd pf = {r, POLLIN, 0};
    CHECK_EQ(poll(&pf, 1, 1000), 1);
    rmsg_t m;
    CHECK_EQ(recv_ctl(r, &m, cases[i].clen, 0), 1);
    CHECK_EQ(m.controllen, cases[i].want_len);
    CHECK_EQ(m.flags, cases[i].ctrunc ? MSG_CTRUNC : 0);
    struct cmsghdr *c = (struct cmsghdr *)m.ctl.b;
    if (cases[i].n >= 1) {
      CHECK_EQ(c->cmsg_len, cases[i].len0);
      CHECK_EQ(c->cmsg_level, IPPROTO_IP);
      CHECK_EQ(c->cmsg_type, IP_PKTINFO);
    }
    if (cases[i].n >= 2) {
      c = (struct cmsghdr *)(m.ctl.b + p);
      CHECK_EQ(c->cmsg_len, cases[i].len1);
      CHECK_EQ(c->cmsg_type, IP_TTL);
    }
  }
  close(r);
  close(s);
}

static void send4(void) {
  int port;
  int r = bound(AF_INET, "0.0.0.0", &port);
  int s = bound(AF_INET, "127.0.0.1", NULL);
  setint(r, IPPROTO_IP, IP_PKTINFO, 1);
  setint(r, IPPROTO_IP, IP_RECVTTL, 1);
  setint(r, IPPROTO_IP, IP_RECVTOS, 1);
  addr_t d;
  mkaddr(&d, "127.0.0.1", port);
  rmsg_t m;
#define RECV_TTL_TOS(ttl, tos)                               \
  do {                                                       \
    recv_all(r, &m);                                         \
    CHECK_EQ(count(&m), 3);                                  \
    CHECK_EQ(cm_int(&m, 1, IPPROTO_IP, IP_TTL), ttl);        \
    CHECK_EQ(*CMSG_DATA(cm_is(&m, 2, IPPROTO_IP, IP_TOS, 1)), tos); \
  } while (0)

  /* TTL and TOS for this datagram only. */
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IP, IP_TTL, 7)), 1);
  RECV_TTL_TOS(7, 0);
  CHECK_EQ(sendto(s, "x", 1, 0, &d.sa, sizeof(d.in)), 1);
  RECV_TTL_TOS(64, 0);
  CHECK_EQ(getint(s, IPPROTO_IP, IP_TTL), 64);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IP, IP_TTL, 255)), 1);
  RECV_TTL_TOS(255, 0);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IP, IP_TOS, 0x30)), 1);
  RECV_TTL_TOS(64, 0x30);
  CHECK_EQ(send1(s, &d, cbyte(IPPROTO_IP, IP_TOS, 0xff)), 1);
  RECV_TTL_TOS(64, 0xff);
  cm_t two[2] = {cint(IPPROTO_IP, IP_TTL, 5), cint(IPPROTO_IP, IP_TTL, 6)};
  CHECK_EQ(sendc(s, &d, two, 2), 1);
  RECV_TTL_TOS(6, 0);
  setint(s, IPPROTO_IP, IP_TOS, 0x08);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IP, IP_TTL, 3)), 1);
  RECV_TTL_TOS(3, 0x08);
  setint(s, IPPROTO_IP, IP_TOS, 0);

  /* IP_PKTINFO: ipi_spec_dst is the source, ipi_ifindex the way out. */
  CHECK_EQ(send1(s, &d, cpk4(0, "127.0.0.9")), 1);
  recv_all(r, &m);
  CHECK_EQ(m.from.in.sin_addr.s_addr, htonl(0x7f000009));
  check_pktinfo(&m, 0, 1, "127.0.0.1", "127.0.0.1");
  CHECK_EQ(send1(s, &d, cpk4(1, "0.0.0.0")), 1);
  recv_all(r, &m);
  CHECK_EQ(m.from.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  check_pktinfo(&m, 0, 1, "127.0.0.1", "127.0.0.1");
  /* An unspecified ipi_spec_dst is the route's choice, whatever the
   * socket is bound to. */
  int s3 = bound(AF_INET, "127.0.0.3", NULL);
  CHECK_EQ(send1(s3, &d, cpk4(0, "0.0.0.0")), 1);
  recv_all(r, &m);
  CHECK_EQ(m.from.in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  CHECK_EQ(sendto(s3, "x", 1, 0, &d.sa, sizeof(d.in)), 1);
  recv_all(r, &m);
  CHECK_EQ(m.from.in.sin_addr.s_addr, htonl(0x7f000003));
  close(s3);
  /* A connected socket too. */
  int c = bound(AF_INET, "127.0.0.1", NULL);
  CHECK_SYS(connect(c, &d.sa, sizeof(d.in)));
  cm_t both[2] = {cint(IPPROTO_IP, IP_TTL, 3), cpk4(0, "127.0.0.3")};
  CHECK_EQ(sendc(c, NULL, both, 2), 1);
  recv_all(r, &m);
  CHECK_EQ(m.from.in.sin_addr.s_addr, htonl(0x7f000003));
  CHECK_EQ(cm_int(&m, 1, IPPROTO_IP, IP_TTL), 3);
  close(c);

  /* Other levels are skipped: IPv6's on an AF_INET socket, unknown
   * ones, TCP's. */
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, IPV6_HOPLIMIT, 1000)), 1);
  RECV_TTL_TOS(64, 0);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, 999, 0)), 1);
  RECV_TTL_TOS(64, 0);
  CHECK_EQ(send1(s, &d, cint(99, 1, 0)), 1);
  RECV_TTL_TOS(64, 0);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_TCP, 1, 0)), 1);
  RECV_TTL_TOS(64, 0);
  /* SCM_RIGHTS means nothing to an inet socket: no file travels. */
  CHECK_EQ(send1(s, &d, cint(SOL_SOCKET, SCM_RIGHTS, 1)), 1);
  RECV_TTL_TOS(64, 0);

  /* Bad values and unknown types at the level: nothing is sent. */
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IP, IP_TTL, 0)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IP, IP_TTL, 256)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IP, IP_TTL, -1)), EINVAL);
  CHECK_ERR(send1(s, &d, cbyte(IPPROTO_IP, IP_TTL, 7)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IP, IP_TOS, 256)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IP, IP_TOS, -1)), EINVAL);
  cm_t odd = cint(IPPROTO_IP, IP_TOS, 0);
  odd.len = 2;
  CHECK_ERR(send1(s, &d, odd), EINVAL);
  odd = cpk4(0, "0.0.0.0");
  odd.len = 8;
  CHECK_ERR(send1(s, &d, odd), EINVAL);
  odd.len = 16;
  CHECK_ERR(send1(s, &d, odd), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IP, 99, 0)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IP, IP_RECVTTL, 1)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_UDP, 999, 0)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(SOL_SOCKET, 99, 0)), EINVAL);
  cm_t later[2] = {cint(IPPROTO_IP, IP_TTL, 9), cint(IPPROTO_IP, 99, 0)};
  CHECK_ERR(sendc(s, &d, later, 2), EINVAL);
  /* Routing: an interface that does not exist, a source that is not
   * ours, a multicast or broadcast source. */
  CHECK_ERR(send1(s, &d, cpk4(NO_IFINDEX, "0.0.0.0")), ENODEV);
  CHECK_ERR(send1(s, &d, cpk4(0, "192.0.2.200")), ENETUNREACH);
  CHECK_ERR(send1(s, &d, cpk4(0, "224.0.0.1")), EINVAL);
  CHECK_ERR(send1(s, &d, cpk4(0, "255.255.255.255")), EINVAL);
  /* The destination is checked first. */
  CHECK_ERR(send1(s, NULL, cint(IPPROTO_IP, IP_TTL, 0)), EDESTADDRREQ);
  addr_t bad = d;
  bad.in.sin_family = AF_INET6;
  CHECK_ERR(send1(s, &bad, cint(IPPROTO_IP, IP_TTL, 0)), EAFNOSUPPORT);
  nothing_queued(r);
#undef RECV_TTL_TOS
  close(r);
  close(s);
}

static void send6(void) {
  if (!have_ipv6()) return;
  int port;
  int r = bound(AF_INET6, "::", &port);
  int s = bound(AF_INET6, "::1", NULL);
  setint(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9);
  setint(s, IPPROTO_IPV6, IPV6_TCLASS, 0x40);
  setint(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
  setint(r, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
  setint(r, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
  addr_t d;
  mkaddr(&d, "::1", port);
  rmsg_t m;
#define RECV_HOPS_CLASS(hops, tclass)                            \
  do {                                                           \
    recv_all(r, &m);                                             \
    CHECK_EQ(count(&m), 3);                                      \
    check_pktinfo6(&m, 0, 1, "::1");                             \
    CHECK_EQ(cm_int(&m, 1, IPPROTO_IPV6, IPV6_HOPLIMIT), hops);  \
    CHECK_EQ(cm_int(&m, 2, IPPROTO_IPV6, IPV6_TCLASS), tclass);  \
  } while (0)

  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, IPV6_HOPLIMIT, 7)), 1);
  RECV_HOPS_CLASS(7, 0x40);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, IPV6_HOPLIMIT, 0)), 1);
  RECV_HOPS_CLASS(0, 0x40);
  /* -1 is the socket's hop limit. */
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, IPV6_HOPLIMIT, -1)), 1);
  RECV_HOPS_CLASS(9, 0x40);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, IPV6_2292HOPLIMIT, 6)), 1);
  RECV_HOPS_CLASS(6, 0x40);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, IPV6_TCLASS, 0x88)), 1);
  RECV_HOPS_CLASS(9, 0x88);
  /* A traffic class of -1 is not the socket's: Linux keeps it in a
   * byte, so the datagram goes with 0xff. */
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, IPV6_TCLASS, -1)), 1);
  RECV_HOPS_CLASS(9, 0xff);
  CHECK_EQ(sendto(s, "x", 1, 0, &d.sa, sizeof(d.in6)), 1);
  RECV_HOPS_CLASS(9, 0x40);
  cm_t both[2] = {cint(IPPROTO_IPV6, IPV6_TCLASS, 0x12), cint(IPPROTO_IPV6, IPV6_HOPLIMIT, 200)};
  CHECK_EQ(sendc(s, &d, both, 2), 1);
  RECV_HOPS_CLASS(200, 0x12);

  /* IPV6_PKTINFO: the source address and the interface. */
  CHECK_EQ(send1(s, &d, cpk6(0, "::")), 1);
  RECV_HOPS_CLASS(9, 0x40);
  CHECK_EQ(send1(s, &d, cpk6(1, "::1")), 1);
  RECV_HOPS_CLASS(9, 0x40);
  CHECK(IN6_IS_ADDR_LOOPBACK(&m.from.in6.sin6_addr));
  cm_t pk = cpk6(0, "::");
  pk.type = IPV6_2292PKTINFO;
  CHECK_EQ(send1(s, &d, pk), 1);
  RECV_HOPS_CLASS(9, 0x40);
  pk = cpk6(0, "::");
  pk.len = 24; /* longer is fine */
  CHECK_EQ(send1(s, &d, pk), 1);
  RECV_HOPS_CLASS(9, 0x40);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, IPV6_DONTFRAG, 1)), 1);
  RECV_HOPS_CLASS(9, 0x40);
  /* IPv4's level is skipped for an IPv6 destination. */
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IP, IP_TTL, 0)), 1);
  RECV_HOPS_CLASS(9, 0x40);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IP, 99, 0)), 1);
  RECV_HOPS_CLASS(9, 0x40);

  CHECK_ERR(send1(s, &d, cint(IPPROTO_IPV6, IPV6_HOPLIMIT, -2)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IPV6, IPV6_HOPLIMIT, 256)), EINVAL);
  CHECK_ERR(send1(s, &d, cbyte(IPPROTO_IPV6, IPV6_HOPLIMIT, 5)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IPV6, IPV6_TCLASS, -2)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IPV6, IPV6_TCLASS, 256)), EINVAL);
  CHECK_ERR(send1(s, &d, cbyte(IPPROTO_IPV6, IPV6_TCLASS, 5)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IPV6, IPV6_DONTFRAG, 2)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IPV6, 999, 0)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_UDP, 999, 0)), EINVAL);
  pk = cpk6(0, "::");
  pk.len = 16;
  CHECK_ERR(send1(s, &d, pk), EINVAL);
  CHECK_ERR(send1(s, &d, cpk6(NO_IFINDEX, "::")), ENODEV);
  CHECK_ERR(send1(s, &d, cpk6(0, "2001:db8::1")), EINVAL);
  CHECK_ERR(send1(s, &d, cpk6(0, "fe80::1")), EINVAL);
  CHECK_ERR(send1(s, &d, cpk6(0, "::ffff:127.0.0.1")), EINVAL);
  nothing_queued(r);
#undef RECV_HOPS_CLASS
  close(r);
  close(s);
}

/* An AF_INET6 socket sending to a v4-mapped address takes IPv4's
 * control messages, and IPV6_PKTINFO with a v4-mapped address. */
static void send_mapped(void) {
  int port;
  int r = bound(AF_INET6, "::", &port);
  setint(r, IPPROTO_IP, IP_RECVTTL, 1);
  setint(r, IPPROTO_IP, IP_RECVTOS, 1);
  int s = bound(AF_INET6, "::", NULL);
  addr_t d;
  mkaddr(&d, "::ffff:127.0.0.1", port);
  rmsg_t m;
#define RECV_TTL_TOS(ttl, tos)                                       \
  do {                                                               \
    recv_all(r, &m);                                                 \
    CHECK_EQ(count(&m), 2);                                          \
    CHECK_EQ(cm_int(&m, 0, IPPROTO_IP, IP_TTL), ttl);                \
    CHECK_EQ(*CMSG_DATA(cm_is(&m, 1, IPPROTO_IP, IP_TOS, 1)), tos);  \
  } while (0)

  CHECK_EQ(send1(s, &d, cint(IPPROTO_IP, IP_TTL, 11)), 1);
  RECV_TTL_TOS(11, 0);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IP, IP_TOS, 0x14)), 1);
  RECV_TTL_TOS(64, 0x14);
  /* IPv6's hop limit and class are skipped, even bad ones. */
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, IPV6_HOPLIMIT, 12)), 1);
  RECV_TTL_TOS(64, 0);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, IPV6_HOPLIMIT, 1000)), 1);
  RECV_TTL_TOS(64, 0);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, IPV6_TCLASS, 0x50)), 1);
  RECV_TTL_TOS(64, 0);
  CHECK_EQ(send1(s, &d, cint(IPPROTO_IPV6, 999, 0)), 1);
  RECV_TTL_TOS(64, 0);
  CHECK_EQ(send1(s, &d, cpk6(0, "::ffff:127.0.0.7")), 1);
  RECV_TTL_TOS(64, 0);
  struct in6_addr want;
  inet_pton(AF_INET6, "::ffff:127.0.0.7", &want);
  CHECK(memcmp(&m.from.in6.sin6_addr, &want, sizeof(want)) == 0);
  CHECK_EQ(send1(s, &d, cpk4(0, "127.0.0.8")), 1);
  RECV_TTL_TOS(64, 0);
  inet_pton(AF_INET6, "::ffff:127.0.0.8", &want);
  CHECK(memcmp(&m.from.in6.sin6_addr, &want, sizeof(want)) == 0);

  CHECK_ERR(send1(s, &d, cpk6(0, "::1")), EINVAL);
  CHECK_ERR(send1(s, &d, cpk6(0, "::")), EINVAL);
  cm_t pk = cpk6(0, "::ffff:127.0.0.1");
  pk.len = 16;
  CHECK_ERR(send1(s, &d, pk), EINVAL);
  CHECK_ERR(send1(s, &d, cpk6(NO_IFINDEX, "::ffff:0.0.0.0")), ENODEV);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IP, 99, 0)), EINVAL);
  CHECK_ERR(send1(s, &d, cint(IPPROTO_IP, IP_TTL, 0)), EINVAL);
  CHECK_ERR(send1(s, NULL, cint(IPPROTO_IPV6, IPV6_HOPLIMIT, 1000)), EDESTADDRREQ);
  nothing_queued(r);
#undef RECV_TTL_TOS
  close(r);
  close(s);
}

/* TCP and AF_UNIX sockets skip every level but SOL_SOCKET. */
static void other_sockets(void) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(l);
  addr_t a;
  socklen_t len = mkaddr(&a, "127.0.0.1", 0);
  CHECK_SYS(bind(l, &a.sa, len));
  CHECK_SYS(listen(l, 1));
  len = sizeof(a);
  CHECK_SYS(getsockname(l, &a.sa, &len));
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(connect(c, &a.sa, len));
  int srv = accept(l, NULL, NULL);
  CHECK_SYS(srv);
  CHECK_EQ(send1(c, NULL, cint(IPPROTO_IP, IP_TOS, 0x30)), 1);
  CHECK_EQ(send1(c, NULL, cint(IPPROTO_IP, IP_TTL, 0)), 1);
  CHECK_EQ(send1(c, NULL, cint(IPPROTO_IP, 99, 0)), 1);
  CHECK_EQ(send1(c, NULL, cint(IPPROTO_IPV6, 999, 0)), 1);
  CHECK_EQ(send1(c, NULL, cint(SOL_SOCKET, SCM_RIGHTS, 1)), 1);
  CHECK_ERR(send1(c, NULL, cint(SOL_SOCKET, 99, 0)), EINVAL);
  CHECK_EQ(getint(c, IPPROTO_IP, IP_TOS), 0);
  char buf[8];
  size_t got = 0;
  while (got < 5) {
    ssize_t n = recv(srv, buf + got, sizeof(buf) - got, 0);
    CHECK(n > 0);
    got += n;
  }
  CHECK_EQ(got, 5);
  close(srv);
  close(c);
  close(l);

  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
  CHECK_EQ(send1(sv[0], NULL, cint(IPPROTO_IP, IP_TTL, 0)), 1);
  CHECK_EQ(send1(sv[0], NULL, cint(IPPROTO_IPV6, 999, 0)), 1);
  CHECK_ERR(send1(sv[0], NULL, cint(SOL_SOCKET, 99, 0)), EINVAL);
  CHECK_EQ(recv(sv[1], buf, sizeof(buf), 0), 1);
  CHECK_EQ(recv(sv[1], buf, sizeof(buf), 0), 1);
  close(sv[0]);
  close(sv[1]);
}

int main(void) {
  test_init();
  RUN(options);
  RUN(recv4);
  RUN(recv6);
  RUN(mapped);
  RUN(ctrunc);
  RUN(send4);
  RUN(send6);
  RUN(send_mapped);
  RUN(other_sockets);
  return 0;
}
