// icmp_socket_raw: raw ICMP and ICMPv6 sockets over loopback. They need
// CAP_NET_RAW; an IPv4 one receives every ICMP message with its IP
// header (on lo both the echo request and the kernel's reply), sends
// the application's ICMP message (checksum included) under a header the
// kernel builds, and filters by type with ICMP_FILTER; an ICMPv6 one
// receives messages without the IP header, has its checksum computed
// by the kernel (IPV6_CHECKSUM is 2) and filters with ICMP6_FILTER. A
// raw socket also sees a ping socket's traffic.
//
// Natively the test runs in a private network namespace when the host
// has no ::1 (lo there has it, and ping sockets are turned on there),
// which also keeps foreign ICMP away.
#include "test.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ICMP_FILTER
#define ICMP_FILTER 1 // <linux/icmp.h>, which clashes with netinet
#endif

static void setup(void) {
  int s = socket(AF_INET6, SOCK_DGRAM, 0);
  CHECK_SYS(s);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
  close(s);
  if (ok) return;
  CHECK_SYS(unshare(CLONE_NEWNET));
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_SYS(u);
  struct ifreq ifr = {0};
  strcpy(ifr.ifr_name, "lo");
  CHECK_SYS(ioctl(u, SIOCGIFFLAGS, &ifr));
  ifr.ifr_flags |= IFF_UP;
  CHECK_SYS(ioctl(u, SIOCSIFFLAGS, &ifr));
  close(u);
  FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "w");
  CHECK(f != NULL);
  fprintf(f, "0 2147483647\n");
  CHECK(fclose(f) == 0);
}

static uint16_t csum(const void *p, size_t n) {
  const uint8_t *b = p;
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += (b[i] << 8) | b[i + 1];
  if (n & 1) s += b[n - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

static size_t echo(uint8_t *buf, uint8_t type, uint16_t id, uint16_t seq, size_t datalen) {
  memset(buf, 0, 8);
  buf[0] = type;
  buf[4] = id >> 8, buf[5] = id & 0xff;
  buf[6] = seq >> 8, buf[7] = seq & 0xff;
  for (size_t i = 0; i < datalen; i++) buf[8 + i] = (uint8_t)(i * 5 + 1);
  return 8 + datalen;
}

static int wait_readable(int s) {
  struct pollfd p = {.fd = s, .events = POLLIN};
  return poll(&p, 1, 5000) == 1 && (p.revents & POLLIN);
}

// recv_ident receives the next message whose echo identifier is id,
// skipping others; off is where the ICMP header starts.
static ssize_t recv_ident(int s, uint8_t *buf, size_t len, size_t off, uint16_t id) {
  for (int i = 0; i < 100; i++) {
    CHECK(wait_readable(s));
    ssize_t n = recv(s, buf, len, 0);
    CHECK_SYS(n);
    if ((size_t)n >= off + 8 && ((buf[off + 4] << 8) | buf[off + 5]) == id) return n;
  }
  CHECK(0);
  return -1;
}

static void raw_v4_request_and_reply(void) {
  int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  CHECK_SYS(s);
  uint8_t out[64], in[256];
  size_t n = echo(out, ICMP_ECHO, 0x5151, 1, 36);
  uint16_t c = csum(out, n);
  out[2] = c >> 8, out[3] = c & 0xff;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK_EQ(sendto(s, out, n, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)n);
  for (int k = 0; k < 2; k++) {
    ssize_t got = recv_ident(s, in, sizeof in, 20, 0x5151);
    CHECK_EQ(got, (ssize_t)(20 + n));
    struct iphdr *ip = (struct iphdr *)in;
    CHECK_EQ(ip->version, 4);
    CHECK_EQ(ip->ihl, 5);
    CHECK_EQ(ip->protocol, IPPROTO_ICMP);
    CHECK_EQ(ntohs(ip->tot_len), 20 + n);
    CHECK_EQ(ip->ttl, 64);
    CHECK_EQ(ntohl(ip->saddr), INADDR_LOOPBACK);
    CHECK_EQ(ntohl(ip->daddr), INADDR_LOOPBACK);
    CHECK_EQ(csum(in, 20), 0);
    // First our request, then the kernel's reply.
    CHECK_EQ(in[20], k == 0 ? ICMP_ECHO : ICMP_ECHOREPLY);
    CHECK_EQ(csum(in + 20, n), 0);
    CHECK(memcmp(in + 28, out + 8, n - 8) == 0);
  }
  int v = -1;
  socklen_t l = sizeof v;
  CHECK_SYS(getsockopt(s, IPPROTO_IP, IP_HDRINCL, &v, &l));
  CHECK_EQ(v, 0);
  CHECK_SYS(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l));
  CHECK_EQ(v, SOCK_RAW);
  struct sockaddr_in me;
  socklen_t ml = sizeof me;
  CHECK_SYS(getsockname(s, (struct sockaddr *)&me, &ml));
  CHECK_EQ(ntohs(me.sin_port), IPPROTO_ICMP);
  close(s);
}

static void raw_v4_filter_sees_ping(void) {
  int r = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  CHECK_SYS(r);
  uint32_t f = ~(1u << ICMP_ECHOREPLY);
  CHECK_SYS(setsockopt(r, SOL_RAW, ICMP_FILTER, &f, sizeof f));
  uint32_t g = 0;
  socklen_t gl = sizeof g;
  CHECK_SYS(getsockopt(r, SOL_RAW, ICMP_FILTER, &g, &gl));
  CHECK_EQ(g, f);
  // A ping socket's exchange: the raw socket gets only the reply,
  // with the identifier the kernel chose.
  int p = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  CHECK_SYS(p);
  uint8_t out[64], in[256];
  size_t n = echo(out, ICMP_ECHO, 0x7777, 2, 8);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK_EQ(sendto(p, out, n, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)n);
  struct sockaddr_in me;
  socklen_t ml = sizeof me;
  CHECK_SYS(getsockname(p, (struct sockaddr *)&me, &ml));
  uint16_t id = ntohs(me.sin_port);
  ssize_t got = recv_ident(r, in, sizeof in, 20, id);
  CHECK_EQ(got, (ssize_t)(20 + n));
  CHECK_EQ(in[20], ICMP_ECHOREPLY);
  CHECK_ERR(recv(r, in, sizeof in, MSG_DONTWAIT), EAGAIN);
  close(p);
  close(r);
}

static void raw_v6_checksum_and_filter(void) {
  int s = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
  CHECK_SYS(s);
  int v = 0;
  socklen_t l = sizeof v;
  CHECK_SYS(getsockopt(s, SOL_RAW, IPV6_CHECKSUM, &v, &l));
  CHECK_EQ(v, 2);
  v = 4;
  CHECK_ERR(setsockopt(s, IPPROTO_IPV6, IPV6_CHECKSUM, &v, sizeof v), EINVAL);
  v = 3;
  CHECK_ERR(setsockopt(s, SOL_RAW, IPV6_CHECKSUM, &v, sizeof v), EINVAL);
  struct icmp6_filter f;
  ICMP6_FILTER_SETBLOCKALL(&f);
  ICMP6_FILTER_SETPASS(ICMP6_ECHO_REQUEST, &f);
  ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
  CHECK_SYS(setsockopt(s, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f));
  struct icmp6_filter g;
  socklen_t gl = sizeof g;
  CHECK_SYS(getsockopt(s, IPPROTO_ICMPV6, ICMP6_FILTER, &g, &gl));
  CHECK_EQ(gl, sizeof g);
  CHECK(memcmp(&f, &g, sizeof f) == 0);
  int one = 1;
  CHECK_SYS(setsockopt(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one));

  uint8_t out[64], in[256];
  size_t n = echo(out, ICMP6_ECHO_REQUEST, 0x6262, 3, 20);
  // Leave the checksum zero: the kernel fills it in.
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  CHECK_EQ(sendto(s, out, n, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)n);
  for (int k = 0; k < 2; k++) {
    ssize_t got = recv_ident(s, in, sizeof in, 0, 0x6262);
    CHECK_EQ(got, (ssize_t)n);
    CHECK_EQ(in[0], k == 0 ? ICMP6_ECHO_REQUEST : ICMP6_ECHO_REPLY);
    // The checksum with the pseudo-header (::1 to ::1, length, 58).
    uint8_t ph[40 + 128] = {0};
    ph[15] = 1, ph[31] = 1;
    ph[35] = (uint8_t)n;
    ph[39] = IPPROTO_ICMPV6;
    memcpy(ph + 40, in, n);
    CHECK_EQ(csum(ph, 40 + n), 0);
    CHECK(memcmp(in + 8, out + 8, n - 8) == 0);
  }
  // Too short to hold the checksum.
  CHECK_ERR(sendto(s, out, 3, 0, (struct sockaddr *)&a, sizeof a), EINVAL);
  close(s);
}

static void raw_needs_cap(void) {
  CHECK_ERR(socket(AF_INET, SOCK_RAW, 0), EPROTONOSUPPORT);
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    CHECK_SYS(setgid(65534));
    CHECK_SYS(setuid(65534));
    CHECK_ERR(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), EPERM);
    CHECK_ERR(socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), EPERM);
    _exit(0);
  }
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void) {
  test_init();
  setup();
  RUN(raw_v4_request_and_reply);
  RUN(raw_v4_filter_sees_ping);
  RUN(raw_v6_checksum_and_filter);
  RUN(raw_needs_cap);
  return 0;
}
