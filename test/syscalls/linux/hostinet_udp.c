/*
 * hostinet_udp: UDP over 127.0.0.1 and read-only interface queries as
 * --network=host provides them: sendto/recvfrom with source addresses,
 * datagram boundaries, MSG_PEEK and MSG_TRUNC, connected sockets and
 * ECONNREFUSED, IP_PKTINFO control messages, FIONREAD, epoll readiness,
 * SCM_RIGHTS ignored, SIOCGIFCONF/SIOCGIFINDEX/SIOCGIFNAME/SIOCGIFFLAGS
 * on lo.
 */
#include "test.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static int bound(struct sockaddr_in *a) {
  int s;
  CHECK_SYS(s = socket(AF_INET, SOCK_DGRAM, 0));
  memset(a, 0, sizeof(*a));
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_SYS(bind(s, (struct sockaddr *)a, sizeof(*a)));
  socklen_t l = sizeof(*a);
  CHECK_SYS(getsockname(s, (struct sockaddr *)a, &l));
  CHECK(a->sin_port != 0);
  return s;
}

static void datagrams(void) {
  struct sockaddr_in ra, sa;
  int r = bound(&ra), s = bound(&sa);
  CHECK_EQ(sendto(s, "one", 3, 0, (struct sockaddr *)&ra, sizeof(ra)), 3);
  CHECK_EQ(sendto(s, "second", 6, 0, (struct sockaddr *)&ra, sizeof(ra)), 6);
  char buf[16];
  struct sockaddr_in from;
  socklen_t fl = sizeof(from);
  CHECK_EQ(recvfrom(r, buf, sizeof(buf), MSG_PEEK, (struct sockaddr *)&from, &fl), 3);
  int avail;
  CHECK_SYS(ioctl(r, FIONREAD, &avail));
  CHECK_EQ(avail, 3);
  CHECK_EQ(recvfrom(r, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 3);
  CHECK_EQ(fl, sizeof(from));
  CHECK_EQ(from.sin_port, sa.sin_port);
  CHECK(memcmp(buf, "one", 3) == 0);
  /* A truncated datagram: MSG_TRUNC returns its real length. */
  CHECK_EQ(recv(r, buf, 2, MSG_TRUNC), 6);
  CHECK(memcmp(buf, "se", 2) == 0);
  CHECK_ERR(recv(r, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  /* recvmsg reports the truncation in msg_flags. */
  CHECK_EQ(sendto(s, "abcdef", 6, 0, (struct sockaddr *)&ra, sizeof(ra)), 6);
  struct iovec iov = {.iov_base = buf, .iov_len = 4};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  CHECK_EQ(recvmsg(r, &m, 0), 4);
  CHECK(m.msg_flags & MSG_TRUNC);
  /* An empty datagram is a datagram. */
  CHECK_EQ(sendto(s, "", 0, 0, (struct sockaddr *)&ra, sizeof(ra)), 0);
  CHECK_EQ(recv(r, buf, sizeof(buf), 0), 0);
  close(r);
  close(s);
}

static void connected_udp(void) {
  struct sockaddr_in ra, sa;
  int r = bound(&ra), s = bound(&sa);
  CHECK_SYS(connect(s, (struct sockaddr *)&ra, sizeof(ra)));
  CHECK_EQ(send(s, "hi", 2, 0), 2);
  char buf[4];
  CHECK_EQ(recv(r, buf, sizeof(buf), 0), 2);
  struct sockaddr_in p;
  socklen_t pl = sizeof(p);
  CHECK_SYS(getpeername(s, (struct sockaddr *)&p, &pl));
  CHECK_EQ(p.sin_port, ra.sin_port);
  /* The peer goes away: ICMP port unreachable comes back as an error. */
  close(r);
  CHECK_EQ(send(s, "x", 1, 0), 1);
  int e = 0;
  for (int i = 0; i < 1000; i++) {
    if (recv(s, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno != EAGAIN) {
      e = errno;
      break;
    }
    usleep(1000);
  }
  CHECK_EQ(e, ECONNREFUSED);
  close(s);
}

static void pktinfo(void) {
  struct sockaddr_in ra, sa;
  int r = bound(&ra), s = bound(&sa);
  int one = 1;
  CHECK_SYS(setsockopt(r, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)));
  CHECK_EQ(sendto(s, "pk", 2, 0, (struct sockaddr *)&ra, sizeof(ra)), 2);
  char buf[4];
  char ctl[256];
  struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
  CHECK_EQ(recvmsg(r, &m, 0), 2);
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  CHECK(c != NULL);
  CHECK_EQ(c->cmsg_level, IPPROTO_IP);
  CHECK_EQ(c->cmsg_type, IP_PKTINFO);
  CHECK_EQ(c->cmsg_len, CMSG_LEN(sizeof(struct in_pktinfo)));
  struct in_pktinfo pi;
  memcpy(&pi, CMSG_DATA(c), sizeof(pi));
  CHECK_EQ(pi.ipi_addr.s_addr, htonl(INADDR_LOOPBACK));
  CHECK_EQ(m.msg_flags & MSG_CTRUNC, 0);
  /* Too small a control buffer: MSG_CTRUNC. */
  CHECK_EQ(sendto(s, "pk", 2, 0, (struct sockaddr *)&ra, sizeof(ra)), 2);
  struct msghdr m2 = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(struct cmsghdr) + 4};
  CHECK_EQ(recvmsg(r, &m2, 0), 2);
  CHECK(m2.msg_flags & MSG_CTRUNC);
  /* No control buffer at all. */
  CHECK_EQ(sendto(s, "pk", 2, 0, (struct sockaddr *)&ra, sizeof(ra)), 2);
  struct msghdr m3 = {.msg_iov = &iov, .msg_iovlen = 1};
  CHECK_EQ(recvmsg(r, &m3, 0), 2);
  CHECK_EQ(m3.msg_controllen, 0);
  close(r);
  close(s);
}

static void no_rights(void) {
  struct sockaddr_in ra, sa;
  int r = bound(&ra), s = bound(&sa);
  char ctl[CMSG_SPACE(sizeof(int))];
  memset(ctl, 0, sizeof(ctl));
  struct iovec iov = {.iov_base = "r", .iov_len = 1};
  struct msghdr m = {.msg_name = &ra, .msg_namelen = sizeof(ra), .msg_iov = &iov, .msg_iovlen = 1,
                     .msg_control = ctl, .msg_controllen = sizeof(ctl)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int fd = 0;
  memcpy(CMSG_DATA(c), &fd, sizeof(fd));
  /* Linux ignores SCM_RIGHTS on inet sockets; no file travels. */
  CHECK_EQ(sendmsg(s, &m, 0), 1);
  char buf[4];
  char rctl[64];
  struct iovec riov = {.iov_base = buf, .iov_len = sizeof(buf)};
  struct msghdr rm = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rctl, .msg_controllen = sizeof(rctl)};
  CHECK_EQ(recvmsg(r, &rm, 0), 1);
  CHECK_EQ(rm.msg_controllen, 0);
  close(r);
  close(s);
}

static void readiness(void) {
  struct sockaddr_in ra, sa;
  int r = bound(&ra), s = bound(&sa);
  int ep;
  CHECK_SYS(ep = epoll_create1(0));
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 3};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, r, &ev));
  struct epoll_event out;
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
  CHECK_EQ(sendto(s, "e", 1, 0, (struct sockaddr *)&ra, sizeof(ra)), 1);
  CHECK_EQ(epoll_wait(ep, &out, 1, 5000), 1);
  CHECK_EQ(out.data.u32, 3);
  CHECK(out.events & EPOLLIN);
  /* Edge-triggered: no new edge, no event. */
  CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
  char b;
  CHECK_EQ(recv(r, &b, 1, 0), 1);
  close(ep);
  close(r);
  close(s);
}

static void interfaces(void) {
  int s;
  CHECK_SYS(s = socket(AF_INET, SOCK_DGRAM, 0));
  struct ifconf ic = {.ifc_len = 0, .ifc_buf = NULL};
  CHECK_SYS(ioctl(s, SIOCGIFCONF, &ic));
  CHECK(ic.ifc_len > 0);
  CHECK_EQ(ic.ifc_len % sizeof(struct ifreq), 0);
  struct ifreq reqs[64];
  ic.ifc_len = sizeof(reqs);
  ic.ifc_req = reqs;
  CHECK_SYS(ioctl(s, SIOCGIFCONF, &ic));
  int lo = -1;
  for (int i = 0; i < ic.ifc_len / (int)sizeof(struct ifreq); i++)
    if (strcmp(reqs[i].ifr_name, "lo") == 0) lo = i;
  CHECK(lo >= 0);
  struct sockaddr_in *a = (struct sockaddr_in *)&reqs[lo].ifr_addr;
  CHECK_EQ(a->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strcpy(ifr.ifr_name, "lo");
  CHECK_SYS(ioctl(s, SIOCGIFINDEX, &ifr));
  int idx = ifr.ifr_ifindex;
  CHECK(idx > 0);
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_ifindex = idx;
  CHECK_SYS(ioctl(s, SIOCGIFNAME, &ifr));
  CHECK(strcmp(ifr.ifr_name, "lo") == 0);
  CHECK_SYS(ioctl(s, SIOCGIFFLAGS, &ifr));
  CHECK(ifr.ifr_flags & IFF_LOOPBACK);
  CHECK(ifr.ifr_flags & IFF_UP);
  memset(&ifr, 0, sizeof(ifr));
  strcpy(ifr.ifr_name, "nosuchif0");
  CHECK_ERR(ioctl(s, SIOCGIFINDEX, &ifr), ENODEV);
  CHECK_ERR(ioctl(s, SIOCGIFCONF, (void *)8), EFAULT);
  close(s);
}

int main(void) {
  test_init();
  RUN(datagrams);
  RUN(connected_udp);
  RUN(pktinfo);
  RUN(no_rights);
  RUN(readiness);
  RUN(interfaces);
  return 0;
}
