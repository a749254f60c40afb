/*
 * hostinet_netlink: NETLINK_ROUTE as --network=host provides it: an
 * RTM_GETLINK dump lists lo with its index and flags, an RTM_GETADDR
 * dump lists 127.0.0.1, the socket's own address, protocols other than
 * NETLINK_ROUTE refused, readiness for poll.
 */
#include "test.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

static int nl_socket(void) {
  int s;
  CHECK_SYS(s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  struct sockaddr_nl a = {.nl_family = AF_NETLINK};
  CHECK_SYS(bind(s, (struct sockaddr *)&a, sizeof(a)));
  socklen_t l = sizeof(a);
  CHECK_SYS(getsockname(s, (struct sockaddr *)&a, &l));
  CHECK_EQ(l, sizeof(a));
  CHECK_EQ(a.nl_family, AF_NETLINK);
  CHECK(a.nl_pid != 0); /* the kernel assigned a port id */
  return s;
}

static void dump_request(int s, int type, int family, int seq) {
  struct {
    struct nlmsghdr h;
    struct ifinfomsg i;
  } req;
  memset(&req, 0, sizeof(req));
  req.h.nlmsg_len = sizeof(req);
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = seq;
  req.i.ifi_family = family;
  struct sockaddr_nl k = {.nl_family = AF_NETLINK};
  CHECK_EQ(sendto(s, &req, sizeof(req), 0, (struct sockaddr *)&k, sizeof(k)), sizeof(req));
}

/* walk reads a dump until NLMSG_DONE and calls fn on each message. */
static int walk(int s, int seq, int (*fn)(struct nlmsghdr *)) {
  static char buf[65536];
  int found = 0;
  for (;;) {
    struct sockaddr_nl from;
    socklen_t fl = sizeof(from);
    int n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
    CHECK(n > 0);
    CHECK_EQ(from.nl_pid, 0); /* from the kernel */
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
      CHECK_EQ(h->nlmsg_seq, seq);
      if (h->nlmsg_type == NLMSG_DONE) return found;
      CHECK(h->nlmsg_type != NLMSG_ERROR);
      found |= fn(h);
    }
  }
}

static int is_lo_link(struct nlmsghdr *h) {
  CHECK_EQ(h->nlmsg_type, RTM_NEWLINK);
  struct ifinfomsg *i = NLMSG_DATA(h);
  int len = IFLA_PAYLOAD(h);
  for (struct rtattr *a = IFLA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFLA_IFNAME && strcmp(RTA_DATA(a), "lo") == 0) {
      CHECK(i->ifi_flags & IFF_LOOPBACK);
      CHECK(i->ifi_index > 0);
      return 1;
    }
  }
  return 0;
}

static void getlink_dump(void) {
  int s = nl_socket();
  dump_request(s, RTM_GETLINK, AF_UNSPEC, 41);
  CHECK_EQ(walk(s, 41, is_lo_link), 1);
  close(s);
}

static int is_loopback_addr(struct nlmsghdr *h) {
  CHECK_EQ(h->nlmsg_type, RTM_NEWADDR);
  struct ifaddrmsg *i = NLMSG_DATA(h);
  int len = IFA_PAYLOAD(h);
  for (struct rtattr *a = IFA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFA_LOCAL && i->ifa_family == AF_INET) {
      struct in_addr in;
      memcpy(&in, RTA_DATA(a), sizeof(in));
      if (in.s_addr == htonl(INADDR_LOOPBACK)) return 1;
    }
  }
  return 0;
}

static void getaddr_dump(void) {
  int s = nl_socket();
  dump_request(s, RTM_GETADDR, AF_INET, 42);
  CHECK_EQ(walk(s, 42, is_loopback_addr), 1);
  close(s);
}

static void readiness(void) {
  int s = nl_socket();
  struct pollfd p = {.fd = s, .events = POLLIN};
  CHECK_EQ(poll(&p, 1, 0), 0);
  dump_request(s, RTM_GETLINK, AF_UNSPEC, 43);
  CHECK_EQ(poll(&p, 1, 5000), 1);
  CHECK(p.revents & POLLIN);
  CHECK_EQ(walk(s, 43, is_lo_link), 1);
  close(s);
}

static void protocols(void) {
  CHECK_ERR(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE + 1000), EPROTONOSUPPORT);
  CHECK_ERR(socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE), ESOCKTNOSUPPORT);
  int s;
  CHECK_SYS(s = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE));
  int v;
  socklen_t l = sizeof(v);
  CHECK_SYS(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l));
  CHECK_EQ(v, SOCK_DGRAM);
  CHECK_SYS(getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l));
  CHECK_EQ(v, NETLINK_ROUTE);
  close(s);
}

int main(void) {
  test_init();
  RUN(getlink_dump);
  RUN(getaddr_dump);
  RUN(readiness);
  RUN(protocols);
  return 0;
}
