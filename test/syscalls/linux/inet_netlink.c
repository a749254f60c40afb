/*
 * inet_netlink: the interface table as programs read it: NETLINK_ROUTE
 * sockets (netlink(7), rtnetlink(7)) and the netdevice(7) ioctls.
 * Checks netlink socket creation, binding and port IDs, RTM_GETLINK,
 * RTM_GETADDR and RTM_GETROUTE dumps (NLM_F_MULTI, NLMSG_DONE, sequence
 * numbers, alignment) describing lo with 127.0.0.1/8, a single
 * RTM_GETLINK, errors and acknowledgements (NLMSG_ERROR, NLM_F_ACK),
 * MSG_PEEK|MSG_TRUNC sizing, and SIOCGIFCONF, SIOCGIFFLAGS,
 * SIOCGIFINDEX, SIOCGIFNAME, SIOCGIFADDR, SIOCGIFNETMASK and SIOCGIFMTU.
 * The host may have more interfaces than the sandbox; only lo is
 * checked.
 */
#include "test.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static int nl_socket(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  CHECK_SYS(fd);
  return fd;
}

static void send_req(int fd, int type, int flags, int seq, const void *body, int len) {
  char buf[256];
  memset(buf, 0, sizeof(buf));
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  h->nlmsg_len = NLMSG_LENGTH(len);
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | flags;
  h->nlmsg_seq = seq;
  memcpy(NLMSG_DATA(h), body, len);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  CHECK_EQ(sendto(fd, buf, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)),
           h->nlmsg_len);
}

/* dump collects the messages of a dump up to NLMSG_DONE, calling fn
 * for each; it checks the framing of every message. */
static int dump(int fd, int seq, void (*fn)(struct nlmsghdr *, void *), void *arg) {
  static char buf[65536];
  int n_msgs = 0;
  for (;;) {
    struct sockaddr_nl from;
    socklen_t fl = sizeof(from);
    int n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
    CHECK(n > 0);
    CHECK_EQ(fl, sizeof(from));
    CHECK_EQ(from.nl_family, AF_NETLINK);
    CHECK_EQ(from.nl_pid, 0);
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      CHECK_EQ(h->nlmsg_seq, seq);
      CHECK(h->nlmsg_flags & NLM_F_MULTI);
      CHECK_EQ((unsigned long)h % 4, 0);
      if (h->nlmsg_type == NLMSG_DONE) {
        CHECK_EQ(h->nlmsg_len, NLMSG_LENGTH(sizeof(int)));
        CHECK_EQ(*(int *)NLMSG_DATA(h), 0);
        CHECK_EQ(n, (int)NLMSG_ALIGN(h->nlmsg_len));
        return n_msgs;
      }
      CHECK(h->nlmsg_type != NLMSG_ERROR);
      fn(h, arg);
      n_msgs++;
    }
    CHECK_EQ(n, 0);
  }
}

struct link_seen {
  int lo;
};

static void on_link(struct nlmsghdr *h, void *arg) {
  struct link_seen *s = arg;
  CHECK_EQ(h->nlmsg_type, RTM_NEWLINK);
  struct ifinfomsg *ifi = NLMSG_DATA(h);
  const char *name = NULL;
  unsigned mtu = 0;
  int alen = -1;
  int len = IFLA_PAYLOAD(h);
  for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFLA_IFNAME) name = RTA_DATA(a);
    if (a->rta_type == IFLA_MTU) mtu = *(unsigned *)RTA_DATA(a);
    if (a->rta_type == IFLA_ADDRESS) alen = RTA_PAYLOAD(a);
  }
  CHECK(name != NULL);
  if (strcmp(name, "lo") != 0) return;
  s->lo++;
  CHECK_EQ(ifi->ifi_index, 1);
  CHECK_EQ(ifi->ifi_type, 772); /* ARPHRD_LOOPBACK */
  CHECK(ifi->ifi_flags & IFF_LOOPBACK);
  CHECK(ifi->ifi_flags & IFF_UP);
  CHECK(ifi->ifi_flags & IFF_RUNNING);
  CHECK_EQ(mtu, 65536);
  CHECK_EQ(alen, 6);
}

static void links(void) {
  int fd = nl_socket();
  struct rtgenmsg g = {.rtgen_family = AF_UNSPEC};
  send_req(fd, RTM_GETLINK, NLM_F_DUMP, 42, &g, sizeof(g));
  struct link_seen s = {0};
  CHECK(dump(fd, 42, on_link, &s) >= 1);
  CHECK_EQ(s.lo, 1);
  /* One link by index. */
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = 1};
  send_req(fd, RTM_GETLINK, 0, 43, &ifi, sizeof(ifi));
  char buf[8192];
  int n = recv(fd, buf, sizeof(buf), 0);
  CHECK(n > 0);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  CHECK(NLMSG_OK(h, n));
  CHECK_EQ(h->nlmsg_type, RTM_NEWLINK);
  CHECK_EQ(h->nlmsg_seq, 43);
  CHECK(!(h->nlmsg_flags & NLM_F_MULTI));
  struct link_seen one = {0};
  on_link(h, &one);
  CHECK_EQ(one.lo, 1);
  /* An unknown index: NLMSG_ERROR with -ENODEV and the request. */
  ifi.ifi_index = 0x7fff0000;
  send_req(fd, RTM_GETLINK, 0, 44, &ifi, sizeof(ifi));
  n = recv(fd, buf, sizeof(buf), 0);
  CHECK(n >= (int)NLMSG_LENGTH(sizeof(struct nlmsgerr)));
  CHECK_EQ(h->nlmsg_type, NLMSG_ERROR);
  CHECK_EQ(h->nlmsg_seq, 44);
  struct nlmsgerr *e = NLMSG_DATA(h);
  CHECK_EQ(e->error, -ENODEV);
  CHECK_EQ(e->msg.nlmsg_type, RTM_GETLINK);
  CHECK_EQ(e->msg.nlmsg_seq, 44);
  /* NLM_F_ACK: the answer, then an acknowledgement with error 0. */
  ifi.ifi_index = 1;
  send_req(fd, RTM_GETLINK, NLM_F_ACK, 45, &ifi, sizeof(ifi));
  n = recv(fd, buf, sizeof(buf), 0);
  CHECK_EQ(h->nlmsg_type, RTM_NEWLINK);
  n = recv(fd, buf, sizeof(buf), 0);
  CHECK_EQ(h->nlmsg_type, NLMSG_ERROR);
  CHECK_EQ(e->error, 0);
  CHECK_EQ(e->msg.nlmsg_seq, 45);
  CHECK_ERR(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  close(fd);
}

struct addr_seen {
  int v4;
};

static void on_addr(struct nlmsghdr *h, void *arg) {
  struct addr_seen *s = arg;
  CHECK_EQ(h->nlmsg_type, RTM_NEWADDR);
  struct ifaddrmsg *ifa = NLMSG_DATA(h);
  CHECK_EQ(ifa->ifa_family, AF_INET);
  int len = IFA_PAYLOAD(h);
  struct in_addr local = {0};
  const char *label = NULL;
  for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFA_LOCAL) memcpy(&local, RTA_DATA(a), 4);
    if (a->rta_type == IFA_LABEL) label = RTA_DATA(a);
  }
  if (local.s_addr != htonl(INADDR_LOOPBACK)) return;
  s->v4++;
  CHECK_EQ(ifa->ifa_prefixlen, 8);
  CHECK_EQ(ifa->ifa_index, 1);
  CHECK_EQ(ifa->ifa_scope, RT_SCOPE_HOST);
  CHECK(label != NULL && strcmp(label, "lo") == 0);
}

static void addresses(void) {
  int fd = nl_socket();
  /* Dumps filter by the family of the request. */
  struct ifaddrmsg ifa = {.ifa_family = AF_INET};
  send_req(fd, RTM_GETADDR, NLM_F_DUMP, 7, &ifa, sizeof(ifa));
  struct addr_seen s = {0};
  CHECK(dump(fd, 7, on_addr, &s) >= 1);
  CHECK_EQ(s.v4, 1);
  close(fd);
}

struct route_seen {
  int local8;
};

static void on_route(struct nlmsghdr *h, void *arg) {
  struct route_seen *s = arg;
  CHECK_EQ(h->nlmsg_type, RTM_NEWROUTE);
  struct rtmsg *r = NLMSG_DATA(h);
  CHECK_EQ(r->rtm_family, AF_INET);
  int len = RTM_PAYLOAD(h);
  struct in_addr dst = {0};
  for (struct rtattr *a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == RTA_DST) memcpy(&dst, RTA_DATA(a), 4);
  }
  if (r->rtm_table == RT_TABLE_LOCAL && r->rtm_type == RTN_LOCAL && r->rtm_dst_len == 8 &&
      dst.s_addr == htonl(0x7f000000)) {
    s->local8++;
  }
}

static void routes(void) {
  int fd = nl_socket();
  struct rtmsg r = {.rtm_family = AF_INET};
  send_req(fd, RTM_GETROUTE, NLM_F_DUMP, 9, &r, sizeof(r));
  struct route_seen s = {0};
  CHECK(dump(fd, 9, on_route, &s) >= 1);
  CHECK_EQ(s.local8, 1);
  close(fd);
}

static void sockets(void) {
  CHECK_ERR(socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE), ESOCKTNOSUPPORT);
  CHECK_ERR(socket(AF_NETLINK, SOCK_RAW, 999), EPROTONOSUPPORT);
  int fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
  CHECK_SYS(fd);
  int v;
  socklen_t l = sizeof(v);
  CHECK_SYS(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l));
  CHECK_EQ(v, SOCK_DGRAM);
  CHECK_SYS(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l));
  CHECK_EQ(v, AF_NETLINK);
  CHECK_SYS(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &l));
  CHECK_EQ(v, NETLINK_ROUTE);
  /* Unbound: port 0. Binding to 0 picks a port. */
  struct sockaddr_nl sa;
  l = sizeof(sa);
  CHECK_SYS(getsockname(fd, (struct sockaddr *)&sa, &l));
  CHECK_EQ(l, sizeof(sa));
  CHECK_EQ(sa.nl_family, AF_NETLINK);
  CHECK_EQ(sa.nl_pid, 0);
  struct sockaddr_nl b = {.nl_family = AF_NETLINK};
  CHECK_ERR(bind(fd, (struct sockaddr *)&b, 4), EINVAL);
  CHECK_SYS(bind(fd, (struct sockaddr *)&b, sizeof(b)));
  l = sizeof(sa);
  CHECK_SYS(getsockname(fd, (struct sockaddr *)&sa, &l));
  CHECK(sa.nl_pid != 0);
  /* A taken port ID. */
  int fd2 = nl_socket();
  CHECK_ERR(bind(fd2, (struct sockaddr *)&sa, sizeof(sa)), EADDRINUSE);
  b.nl_pid = 0x7ffffff0;
  CHECK_SYS(bind(fd2, (struct sockaddr *)&b, sizeof(b)));
  l = sizeof(sa);
  CHECK_SYS(getsockname(fd2, (struct sockaddr *)&sa, &l));
  CHECK_EQ(sa.nl_pid, 0x7ffffff0);
  /* Buffer sizes are doubled, as for every socket. */
  v = 32768;
  CHECK_SYS(setsockopt(fd2, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)));
  l = sizeof(v);
  CHECK_SYS(getsockopt(fd2, SOL_SOCKET, SO_RCVBUF, &v, &l));
  CHECK_EQ(v, 65536);
  /* Sizing a reply with MSG_PEEK|MSG_TRUNC, as iproute2 does. */
  struct rtgenmsg g = {.rtgen_family = AF_UNSPEC};
  send_req(fd2, RTM_GETLINK, NLM_F_DUMP, 1, &g, sizeof(g));
  char small[16];
  int n = recv(fd2, small, sizeof(small), MSG_PEEK | MSG_TRUNC);
  CHECK(n > (int)sizeof(small));
  static char buf[65536];
  CHECK_EQ(recv(fd2, buf, sizeof(buf), 0), n);
  /* The reply's port ID is the socket's. */
  CHECK_EQ(((struct nlmsghdr *)buf)->nlmsg_pid, 0x7ffffff0);
  close(fd2);
  close(fd);
}

static void ioctls(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_SYS(fd);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strcpy(ifr.ifr_name, "lo");
  CHECK_SYS(ioctl(fd, SIOCGIFINDEX, &ifr));
  CHECK_EQ(ifr.ifr_ifindex, 1);
  CHECK_SYS(ioctl(fd, SIOCGIFFLAGS, &ifr));
  CHECK(ifr.ifr_flags & IFF_LOOPBACK);
  CHECK(ifr.ifr_flags & IFF_UP);
  CHECK(ifr.ifr_flags & IFF_RUNNING);
  CHECK_SYS(ioctl(fd, SIOCGIFMTU, &ifr));
  CHECK_EQ(ifr.ifr_mtu, 65536);
  CHECK_SYS(ioctl(fd, SIOCGIFADDR, &ifr));
  struct sockaddr_in *in = (struct sockaddr_in *)&ifr.ifr_addr;
  CHECK_EQ(in->sin_family, AF_INET);
  CHECK_EQ(in->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  CHECK_SYS(ioctl(fd, SIOCGIFNETMASK, &ifr));
  CHECK_EQ(in->sin_addr.s_addr, htonl(0xff000000));
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_ifindex = 1;
  CHECK_SYS(ioctl(fd, SIOCGIFNAME, &ifr));
  CHECK(strcmp(ifr.ifr_name, "lo") == 0);
  strcpy(ifr.ifr_name, "nosuchif0");
  CHECK_ERR(ioctl(fd, SIOCGIFINDEX, &ifr), ENODEV);
  /* SIOCGIFCONF: the length needed, then the entries. */
  struct ifconf ifc = {0};
  CHECK_SYS(ioctl(fd, SIOCGIFCONF, &ifc));
  CHECK(ifc.ifc_len >= (int)sizeof(struct ifreq));
  CHECK_EQ(ifc.ifc_len % sizeof(struct ifreq), 0);
  struct ifreq reqs[16];
  ifc.ifc_len = sizeof(reqs);
  ifc.ifc_req = reqs;
  CHECK_SYS(ioctl(fd, SIOCGIFCONF, &ifc));
  int lo = 0;
  for (int i = 0; i < ifc.ifc_len / (int)sizeof(struct ifreq); i++) {
    if (strcmp(reqs[i].ifr_name, "lo") == 0) {
      lo++;
      in = (struct sockaddr_in *)&reqs[i].ifr_addr;
      CHECK_EQ(in->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    }
  }
  CHECK_EQ(lo, 1);
  /* A buffer with room for none: nothing is written. */
  ifc.ifc_len = sizeof(struct ifreq) - 1;
  CHECK_SYS(ioctl(fd, SIOCGIFCONF, &ifc));
  CHECK_EQ(ifc.ifc_len, 0);
  close(fd);
  /* TCP and netlink sockets answer too. */
  int fds[2] = {socket(AF_INET6, SOCK_STREAM, 0), nl_socket()};
  for (int i = 0; i < 2; i++) {
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    CHECK_SYS(ioctl(fds[i], SIOCGIFINDEX, &ifr));
    CHECK_EQ(ifr.ifr_ifindex, 1);
    close(fds[i]);
  }
}

int main(void) {
  test_init();
  RUN(links);
  RUN(addresses);
  RUN(routes);
  RUN(sockets);
  RUN(ioctls);
  return 0;
}
