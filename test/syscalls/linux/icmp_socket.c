// icmp_socket: ping sockets (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)
// and the IPPROTO_ICMPV6 twin) over loopback: the kernel answers the
// echo request itself, rewrites the identifier to the socket's "port",
// and recv returns the ICMP header and data without the IP header;
// bind/connect/getsockname, the send-side checks, poll, MSG_PEEK and
// MSG_TRUNC, IP_RECVTTL, socket options, and net.ipv4.ping_group_range.
//
// Natively the host usually keeps ping sockets off ("1 0") and lo
// without ::1; the test then moves into a private network namespace
// (as root) where it turns them on, as container engines do.
#include "test.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int have_loopback6(void) {
  int s = socket(AF_INET6, SOCK_DGRAM, 0);
  if (s < 0) return 0;
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
  close(s);
  return ok;
}

static void setup(void) {
  int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  if (s >= 0) close(s);
  if (s >= 0 && have_loopback6()) return;
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
  for (size_t i = 0; i < datalen; i++) buf[8 + i] = (uint8_t)(i * 7 + 3);
  return 8 + datalen;
}

static uint16_t port_of(int s) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  CHECK_SYS(getsockname(s, (struct sockaddr *)&ss, &l));
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int wait_readable(int s) {
  struct pollfd p = {.fd = s, .events = POLLIN};
  return poll(&p, 1, 5000) == 1 && (p.revents & POLLIN);
}

static struct sockaddr_in lo4(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  return a;
}

static void ping_v4_echo(void) {
  int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  CHECK_SYS(s);
  CHECK_EQ(port_of(s), 0);
  uint8_t out[64], in[128];
  size_t n = echo(out, ICMP_ECHO, 0x1234, 7, 40);
  struct sockaddr_in a = lo4();
  CHECK_EQ(sendto(s, out, n, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)n);
  uint16_t id = port_of(s);
  CHECK(id != 0);
  CHECK(wait_readable(s));
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  CHECK_EQ(recvfrom(s, in, sizeof in, 0, (struct sockaddr *)&from, &fl), (ssize_t)n);
  CHECK_EQ(fl, sizeof from);
  CHECK_EQ(from.sin_family, AF_INET);
  CHECK_EQ(from.sin_port, 0);
  CHECK_EQ(ntohl(from.sin_addr.s_addr), INADDR_LOOPBACK);
  CHECK_EQ(in[0], ICMP_ECHOREPLY);
  CHECK_EQ(in[1], 0);
  CHECK_EQ((in[4] << 8) | in[5], id);
  CHECK_EQ((in[6] << 8) | in[7], 7);
  CHECK_EQ(csum(in, n), 0);
  CHECK(memcmp(in + 8, out + 8, n - 8) == 0);
  // Only the reply arrives: the request is not looped back to us.
  CHECK_ERR(recv(s, in, sizeof in, MSG_DONTWAIT), EAGAIN);
  close(s);
}

static void ping_v4_bind_connect(void) {
  int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  CHECK_SYS(s);
  struct sockaddr_in a = lo4();
  a.sin_port = htons(4242);
  CHECK_SYS(bind(s, (struct sockaddr *)&a, sizeof a));
  CHECK_EQ(port_of(s), 4242);
  CHECK_ERR(bind(s, (struct sockaddr *)&a, sizeof a), EINVAL);
  // Ping sockets start with SO_REUSEADDR, and share an identifier
  // unless one of them turns it off.
  int v = -1;
  socklen_t vl = sizeof v;
  CHECK_SYS(getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &vl));
  CHECK_EQ(v, 1);
  int t = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  CHECK_SYS(t);
  CHECK_SYS(bind(t, (struct sockaddr *)&a, sizeof a));
  close(t);
  t = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  CHECK_SYS(t);
  v = 0;
  CHECK_SYS(setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
  CHECK_ERR(bind(t, (struct sockaddr *)&a, sizeof a), EADDRINUSE);
  struct sockaddr_in other = lo4();
  other.sin_addr.s_addr = inet_addr("192.0.2.1");
  CHECK_ERR(bind(t, (struct sockaddr *)&other, sizeof other), EADDRNOTAVAIL);
  close(t);

  uint8_t out[64], in[128];
  size_t n = echo(out, ICMP_ECHO, 0, 1, 16);
  CHECK_ERR(send(s, out, n, 0), EDESTADDRREQ);
  struct sockaddr_in peer = lo4();
  CHECK_SYS(connect(s, (struct sockaddr *)&peer, sizeof peer));
  struct sockaddr_in got;
  socklen_t gl = sizeof got;
  // No destination port: getpeername says not connected.
  CHECK_ERR(getpeername(s, (struct sockaddr *)&got, &gl), ENOTCONN);
  CHECK_EQ(write(s, out, n), (ssize_t)n);
  CHECK(wait_readable(s));
  CHECK_EQ(read(s, in, sizeof in), (ssize_t)n);
  CHECK_EQ(in[0], ICMP_ECHOREPLY);
  CHECK_EQ((in[4] << 8) | in[5], 4242);
  close(s);
}

static void ping_v4_send_checks(void) {
  int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  CHECK_SYS(s);
  uint8_t out[64];
  struct sockaddr_in a = lo4();
  size_t n = echo(out, ICMP_TIMESTAMP, 1, 1, 12);
  CHECK_ERR(sendto(s, out, n, 0, (struct sockaddr *)&a, sizeof a), EINVAL);
  n = echo(out, ICMP_ECHO, 1, 1, 0);
  out[1] = 1;
  CHECK_ERR(sendto(s, out, n, 0, (struct sockaddr *)&a, sizeof a), EINVAL);
  out[1] = 0;
  CHECK_ERR(sendto(s, out, 4, 0, (struct sockaddr *)&a, sizeof a), EINVAL);
  CHECK_ERR(sendto(s, out, n, 0, (struct sockaddr *)&a, 8), EINVAL);
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  CHECK_ERR(sendto(s, out, n, 0, (struct sockaddr *)&a6, sizeof a6), EAFNOSUPPORT);
  CHECK_ERR(sendto(s, out, n, MSG_OOB, (struct sockaddr *)&a, sizeof a), EOPNOTSUPP);
  static uint8_t big[70000];
  CHECK_ERR(sendto(s, big, sizeof big, 0, (struct sockaddr *)&a, sizeof a), EMSGSIZE);
  CHECK_ERR(listen(s, 1), EOPNOTSUPP);
  close(s);
}

static void ping_v4_peek_trunc_ttl(void) {
  int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  CHECK_SYS(s);
  int one = 1;
  CHECK_SYS(setsockopt(s, IPPROTO_IP, IP_RECVTTL, &one, sizeof one));
  uint8_t out[64], in[128];
  struct sockaddr_in a = lo4();
  size_t n = echo(out, ICMP_ECHO, 0, 3, 32);
  CHECK_EQ(sendto(s, out, n, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)n);
  CHECK(wait_readable(s));
  // Unlike UDP and raw sockets, MSG_TRUNC does not make a ping socket
  // return the whole length.
  CHECK_EQ(recv(s, in, 4, MSG_PEEK | MSG_TRUNC), 4);
  int avail = -1;
  CHECK_ERR(ioctl(s, FIONREAD, &avail), ENOTTY);
  struct iovec iov = {.iov_base = in, .iov_len = 10};
  char cbuf[64];
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  CHECK_EQ(recvmsg(s, &m, 0), 10);
  CHECK(m.msg_flags & MSG_TRUNC);
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  CHECK(c != NULL);
  CHECK_EQ(c->cmsg_level, IPPROTO_IP);
  CHECK_EQ(c->cmsg_type, IP_TTL);
  int ttl;
  memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
  CHECK_EQ(ttl, 64);
  CHECK_ERR(recv(s, in, sizeof in, MSG_DONTWAIT), EAGAIN);
  close(s);
}

static void ping_v4_sockopts(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_ICMP);
  CHECK_SYS(s);
  int v;
  socklen_t l = sizeof v;
  CHECK_SYS(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l));
  CHECK_EQ(v, SOCK_DGRAM);
  CHECK_SYS(getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l));
  CHECK_EQ(v, IPPROTO_ICMP);
  CHECK_SYS(getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &l));
  CHECK_EQ(v, AF_INET);
  v = 65536;
  CHECK_SYS(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v));
  CHECK_SYS(getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &l));
  CHECK_EQ(v, 131072);
  CHECK_ERR(setsockopt(s, IPPROTO_IP, IP_HDRINCL, &v, sizeof v), ENOPROTOOPT);
  char b[16];
  CHECK_ERR(recv(s, b, sizeof b, 0), EAGAIN);
  struct pollfd p = {.fd = s, .events = POLLIN | POLLOUT};
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLOUT);
  close(s);
}

static void ping_v6_echo(void) {
  int s = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
  CHECK_SYS(s);
  CHECK_ERR(socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMP), EPROTONOSUPPORT);
  CHECK_ERR(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMPV6), EPROTONOSUPPORT);
  int one = 1;
  CHECK_SYS(setsockopt(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one));
  uint8_t out[64], in[128];
  size_t n = echo(out, ICMP6_ECHO_REQUEST, 0x4321, 9, 24);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  CHECK_EQ(sendto(s, out, n, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)n);
  struct sockaddr_in6 me;
  socklen_t ml = sizeof me;
  CHECK_SYS(getsockname(s, (struct sockaddr *)&me, &ml));
  uint16_t id = ntohs(me.sin6_port);
  CHECK(id != 0);
  CHECK(wait_readable(s));
  struct sockaddr_in6 from;
  struct iovec iov = {.iov_base = in, .iov_len = sizeof in};
  char cbuf[64];
  struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  CHECK_EQ(recvmsg(s, &m, 0), (ssize_t)n);
  CHECK_EQ(from.sin6_family, AF_INET6);
  CHECK(IN6_IS_ADDR_LOOPBACK(&from.sin6_addr));
  CHECK_EQ(in[0], ICMP6_ECHO_REPLY);
  CHECK_EQ((in[4] << 8) | in[5], id);
  CHECK_EQ((in[6] << 8) | in[7], 9);
  CHECK(memcmp(in + 8, out + 8, n - 8) == 0);
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  CHECK(c != NULL);
  CHECK_EQ(c->cmsg_level, IPPROTO_IPV6);
  CHECK_EQ(c->cmsg_type, IPV6_HOPLIMIT);
  int hl;
  memcpy(&hl, CMSG_DATA(c), sizeof hl);
  CHECK_EQ(hl, 64);
  CHECK_ERR(sendto(s, out, n, 0, (struct sockaddr *)&a, 20), EINVAL);
  out[0] = ICMP6_ECHO_REPLY;
  CHECK_ERR(sendto(s, out, n, 0, (struct sockaddr *)&a, sizeof a), EINVAL);
  close(s);
}

static void ping_group_range(void) {
  FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "r");
  CHECK(f != NULL);
  unsigned long lo, hi;
  CHECK_EQ(fscanf(f, "%lu %lu", &lo, &hi), 2);
  fclose(f);
  // socket() succeeded in setup, so our group is in the range.
  CHECK(lo <= (unsigned long)getegid() && (unsigned long)getegid() <= hi);
}

int main(void) {
  test_init();
  setup();
  RUN(ping_v4_echo);
  RUN(ping_v4_bind_connect);
  RUN(ping_v4_send_checks);
  RUN(ping_v4_peek_trunc_ttl);
  RUN(ping_v4_sockopts);
  RUN(ping_v6_echo);
  RUN(ping_group_range);
  return 0;
}
