/*
 * inet_util.h: addresses and option helpers shared by the inet socket
 * tests (inet_tcp.c, inet_udp.c, udp_cmsg.c). Include after test.h.
 */
#ifndef APPKERNEL_INET_UTIL_H
#define APPKERNEL_INET_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef union {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
  struct sockaddr_storage ss;
} addr_t;

/* loopback fills a with the loopback address of fam and port. */
static inline socklen_t loopback(int fam, addr_t *a, int port) {
  memset(a, 0, sizeof(*a));
  if (fam == AF_INET) {
    a->in.sin_family = AF_INET;
    a->in.sin_port = htons(port);
    a->in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof(a->in);
  }
  a->in6.sin6_family = AF_INET6;
  a->in6.sin6_port = htons(port);
  a->in6.sin6_addr = in6addr_loopback;
  return sizeof(a->in6);
}

static inline int port_of(const addr_t *a) {
  return ntohs(a->sa.sa_family == AF_INET ? a->in.sin_port : a->in6.sin6_port);
}

/*
 * have_ipv6 reports whether ::1 exists. Hosts may disable IPv6; the
 * sandbox always has ::1, so the IPv6 checks then run in the sandbox
 * only.
 */
static inline int have_ipv6(void) {
  int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return 0;
  addr_t a;
  socklen_t len = loopback(AF_INET6, &a, 0);
  int ok = bind(fd, &a.sa, len) == 0;
  close(fd);
  return ok;
}

static inline int getint(int fd, int level, int opt) {
  int v = -1;
  socklen_t l = sizeof(v);
  CHECK_SYS(getsockopt(fd, level, opt, &v, &l));
  CHECK_EQ(l, sizeof(v));
  return v;
}

static inline void setint(int fd, int level, int opt, int v) {
  CHECK_SYS(setsockopt(fd, level, opt, &v, sizeof(v)));
}

#endif
