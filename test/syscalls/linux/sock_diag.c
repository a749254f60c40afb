/*
 * sock_diag: listing TCP and UDP sockets through NETLINK_SOCK_DIAG
 * (sock_diag(7)), as ss does: SOCK_DIAG_BY_FAMILY dumps of AF_INET and
 * AF_INET6 TCP and UDP sockets (states, ports, addresses, queue
 * lengths), the idiag_states filter, an INET_DIAG_REQ_BYTECODE filter,
 * a single-socket lookup, and the errors for a bad family, an unknown
 * protocol, malformed bytecode and a socket that does not exist. The
 * host has sockets of its own; only this test's are checked.
 */
#include "test.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define MAX_SEEN 4096

static struct inet_diag_msg seen[MAX_SEEN];
static int n_seen;

static int diag_socket(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  CHECK_SYS(fd);
  return fd;
}

/* send_req sends one SOCK_DIAG_BY_FAMILY request with an optional
 * bytecode attribute. */
static void send_req(int fd, int flags, int seq, const struct inet_diag_req_v2 *req,
                     const void *bc, int bc_len) {
  char buf[512];
  memset(buf, 0, sizeof(buf));
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  h->nlmsg_len = NLMSG_LENGTH(sizeof(*req));
  h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  h->nlmsg_flags = NLM_F_REQUEST | flags;
  h->nlmsg_seq = seq;
  memcpy(NLMSG_DATA(h), req, sizeof(*req));
  if (bc_len > 0) {
    struct nlattr *a = (struct nlattr *)(buf + NLMSG_ALIGN(h->nlmsg_len));
    a->nla_type = INET_DIAG_REQ_BYTECODE;
    a->nla_len = NLA_HDRLEN + bc_len;
    memcpy((char *)a + NLA_HDRLEN, bc, bc_len);
    h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + NLA_ALIGN(a->nla_len);
  }
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  CHECK_EQ(sendto(fd, buf, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)),
           (ssize_t)h->nlmsg_len);
}

/* dump runs a dump into seen[], returning its length; a request the
 * kernel refuses, or a dump it ends with an error, returns the negated
 * errno instead. */
static int dump(int family, int protocol, unsigned states, const void *bc, int bc_len) {
  static int seq = 100;
  static char buf[65536];
  int fd = diag_socket();
  struct inet_diag_req_v2 req = {.sdiag_family = family, .sdiag_protocol = protocol,
                                 .idiag_states = states};
  send_req(fd, NLM_F_DUMP, ++seq, &req, bc, bc_len);
  n_seen = 0;
  for (;;) {
    int n = recv(fd, buf, sizeof(buf), 0);
    CHECK(n > 0);
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      CHECK_EQ(h->nlmsg_seq, (unsigned)seq);
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        CHECK(e->error < 0);
        close(fd);
        return e->error;
      }
      CHECK(h->nlmsg_flags & NLM_F_MULTI);
      if (h->nlmsg_type == NLMSG_DONE) {
        int status = *(int *)NLMSG_DATA(h);
        CHECK(status <= 0);
        close(fd);
        return status < 0 ? status : n_seen;
      }
      CHECK_EQ(h->nlmsg_type, SOCK_DIAG_BY_FAMILY);
      CHECK(h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg)));
      CHECK(n_seen < MAX_SEEN);
      memcpy(&seen[n_seen++], NLMSG_DATA(h), sizeof(struct inet_diag_msg));
    }
    CHECK_EQ(n, 0);
  }
}

/* find returns the seen socket with these local and remote ports. */
static struct inet_diag_msg *find(int sport, int dport) {
  struct inet_diag_msg *m = NULL;
  for (int i = 0; i < n_seen; i++) {
    if (ntohs(seen[i].id.idiag_sport) == sport && ntohs(seen[i].id.idiag_dport) == dport) {
      CHECK(m == NULL); /* one socket per pair of ports */
      m = &seen[i];
    }
  }
  return m;
}

static int port_of(int fd) {
  struct sockaddr_storage a;
  socklen_t l = sizeof(a);
  CHECK_SYS(getsockname(fd, (struct sockaddr *)&a, &l));
  return ntohs(a.ss_family == AF_INET ? ((struct sockaddr_in *)&a)->sin_port
                                      : ((struct sockaddr_in6 *)&a)->sin6_port);
}

/* A TCP listener on 127.0.0.1 with one accepted connection holding 3
 * unread bytes. */
struct tcp_setup {
  int ln, cl, sv;
  int port, cport;
};

static struct tcp_setup tcp_setup(void) {
  struct tcp_setup s;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof(a);
  s.ln = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(s.ln);
  CHECK_SYS(bind(s.ln, (struct sockaddr *)&a, sizeof(a)));
  CHECK_SYS(listen(s.ln, 5));
  CHECK_SYS(getsockname(s.ln, (struct sockaddr *)&a, &l));
  s.port = ntohs(a.sin_port);
  s.cl = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(s.cl);
  CHECK_SYS(connect(s.cl, (struct sockaddr *)&a, sizeof(a)));
  s.sv = accept(s.ln, NULL, NULL);
  CHECK_SYS(s.sv);
  s.cport = port_of(s.cl);
  CHECK_EQ(write(s.cl, "abc", 3), 3);
  /* Loopback delivery is synchronous on Linux; give it a moment anyway. */
  for (int i = 0; i < 100; i++) {
    int avail = 0;
    CHECK_SYS(ioctl(s.sv, FIONREAD, &avail));
    if (avail == 3) break;
    usleep(1000);
  }
  return s;
}

static void tcp_close(struct tcp_setup *s) {
  close(s->cl);
  close(s->sv);
  close(s->ln);
}

static void tcp_dump(void) {
  struct tcp_setup s = tcp_setup();
  int n = dump(AF_INET, IPPROTO_TCP, ~0u, NULL, 0);
  CHECK(n >= 3);
  struct inet_diag_msg *ln = find(s.port, 0), *sv = find(s.port, s.cport), *cl = find(s.cport, s.port);
  CHECK(ln != NULL && sv != NULL && cl != NULL);
  CHECK_EQ(ln->idiag_family, AF_INET);
  CHECK_EQ(ln->idiag_state, TCP_LISTEN);
  CHECK_EQ(ln->idiag_rqueue, 0u); /* nothing waits to be accepted */
  CHECK_EQ(ln->idiag_wqueue, 5u); /* the backlog */
  CHECK_EQ(ln->id.idiag_src[0], htonl(INADDR_LOOPBACK));
  CHECK_EQ(ln->id.idiag_dst[0], 0u);
  CHECK_EQ(sv->idiag_state, TCP_ESTABLISHED);
  CHECK_EQ(sv->idiag_rqueue, 3u);
  CHECK_EQ(sv->id.idiag_dst[0], htonl(INADDR_LOOPBACK));
  CHECK_EQ(cl->idiag_state, TCP_ESTABLISHED);
  CHECK_EQ(cl->idiag_family, AF_INET);
  CHECK_EQ(cl->idiag_rqueue, 0u);
  /* IPv4 addresses fill only the first word. */
  CHECK_EQ(cl->id.idiag_src[1] | cl->id.idiag_src[2] | cl->id.idiag_src[3], 0u);

  /* A half-closed connection: the server's side has the FIN. */
  CHECK_SYS(shutdown(s.cl, SHUT_WR));
  usleep(20000);
  dump(AF_INET, IPPROTO_TCP, ~0u, NULL, 0);
  CHECK_EQ(find(s.port, s.cport)->idiag_state, TCP_CLOSE_WAIT);
  /* FIN_WAIT1 until the FIN's acknowledgement, which Linux may delay. */
  int st = find(s.cport, s.port)->idiag_state;
  CHECK(st == TCP_FIN_WAIT1 || st == TCP_FIN_WAIT2);
  tcp_close(&s);
}

static void states_filter(void) {
  struct tcp_setup s = tcp_setup();
  dump(AF_INET, IPPROTO_TCP, 1 << TCP_LISTEN, NULL, 0);
  CHECK(find(s.port, 0) != NULL);
  CHECK(find(s.port, s.cport) == NULL && find(s.cport, s.port) == NULL);
  for (int i = 0; i < n_seen; i++) CHECK_EQ(seen[i].idiag_state, TCP_LISTEN);
  dump(AF_INET, IPPROTO_TCP, 1 << TCP_ESTABLISHED, NULL, 0);
  CHECK(find(s.port, 0) == NULL);
  CHECK(find(s.port, s.cport) != NULL && find(s.cport, s.port) != NULL);
  tcp_close(&s);
}

static void bytecode_filter(void) {
  struct tcp_setup s = tcp_setup();
  /* sport = :PORT, as ss compiles it. */
  struct inet_diag_bc_op prog[2] = {{INET_DIAG_BC_S_EQ, 8, 12}, {0, 0, s.port}};
  /* With --network=host the dumps are the host's, where an older
   * connection (in TIME_WAIT, say) may have used the same ports: each
   * check wants ours and only sockets that match. */
  int n = dump(AF_INET, IPPROTO_TCP, ~0u, prog, sizeof(prog));
  CHECK(n >= 2);
  CHECK(find(s.port, 0) != NULL && find(s.port, s.cport) != NULL);
  for (int i = 0; i < n_seen; i++) CHECK_EQ(ntohs(seen[i].id.idiag_sport), s.port);
  /* dport >= PORT && dport <= PORT: the client's side only. */
  struct inet_diag_bc_op range[4] = {
      {INET_DIAG_BC_D_GE, 8, 20}, {0, 0, s.port}, {INET_DIAG_BC_D_LE, 8, 12}, {0, 0, s.port}};
  n = dump(AF_INET, IPPROTO_TCP, ~0u, range, sizeof(range));
  CHECK(n >= 1);
  CHECK(find(s.cport, s.port) != NULL);
  for (int i = 0; i < n_seen; i++) CHECK_EQ(ntohs(seen[i].id.idiag_dport), s.port);
  /* src 127.0.0.1/32 with the client's port. */
  struct {
    struct inet_diag_bc_op op;
    struct inet_diag_hostcond c;
    __be32 addr;
  } __attribute__((packed)) cond = {{INET_DIAG_BC_S_COND, 16, 20}, {AF_INET, 32, s.cport}, htonl(INADDR_LOOPBACK)};
  n = dump(AF_INET, IPPROTO_TCP, ~0u, &cond, sizeof(cond));
  CHECK(n >= 1);
  CHECK(find(s.cport, s.port) != NULL);
  for (int i = 0; i < n_seen; i++) {
    CHECK_EQ(ntohs(seen[i].id.idiag_sport), s.cport);
    CHECK_EQ(seen[i].id.idiag_src[0], htonl(INADDR_LOOPBACK));
  }
  /* Malformed programs. */
  struct inet_diag_bc_op bad_code[1] = {{200, 4, 8}};
  CHECK_EQ(dump(AF_INET, IPPROTO_TCP, ~0u, bad_code, sizeof(bad_code)), -EINVAL);
  struct inet_diag_bc_op bad_jump[2] = {{INET_DIAG_BC_S_EQ, 8, 6}, {0, 0, s.port}};
  CHECK_EQ(dump(AF_INET, IPPROTO_TCP, ~0u, bad_jump, sizeof(bad_jump)), -EINVAL);
  struct inet_diag_bc_op short_op[1] = {{INET_DIAG_BC_S_EQ, 8, 12}};
  CHECK_EQ(dump(AF_INET, IPPROTO_TCP, ~0u, short_op, sizeof(short_op)), -EINVAL);
  tcp_close(&s);
}

static void udp_dump(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof(a);
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_SYS(u);
  CHECK_SYS(bind(u, (struct sockaddr *)&a, sizeof(a)));
  CHECK_SYS(getsockname(u, (struct sockaddr *)&a, &l));
  int port = ntohs(a.sin_port);
  int c = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_SYS(c);
  CHECK_SYS(connect(c, (struct sockaddr *)&a, sizeof(a)));
  int cport = port_of(c);
  CHECK_EQ(send(c, "hello", 5, 0), 5);
  usleep(10000);
  dump(AF_INET, IPPROTO_UDP, ~0u, NULL, 0);
  struct inet_diag_msg *m = find(port, 0), *cm = find(cport, port);
  CHECK(m != NULL && cm != NULL);
  CHECK_EQ(m->idiag_state, TCP_CLOSE);
  CHECK(m->idiag_rqueue > 0); /* the datagram, with whatever overhead the kernel counts */
  CHECK_EQ(cm->idiag_state, TCP_ESTABLISHED);
  /* No UDP socket appears in a TCP dump. */
  dump(AF_INET, IPPROTO_TCP, ~0u, NULL, 0);
  CHECK(find(port, 0) == NULL && find(cport, port) == NULL);
  close(u);
  close(c);
}

static void ipv6_dump(void) {
  /* The wildcard address: hosts may disable IPv6 on lo, leaving no ::1. */
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
  int ln = socket(AF_INET6, SOCK_STREAM, 0);
  CHECK_SYS(ln);
  CHECK_SYS(bind(ln, (struct sockaddr *)&a, sizeof(a)));
  CHECK_SYS(listen(ln, 3));
  int port = port_of(ln);
  dump(AF_INET6, IPPROTO_TCP, ~0u, NULL, 0);
  struct inet_diag_msg *m = find(port, 0);
  CHECK(m != NULL);
  CHECK_EQ(m->idiag_family, AF_INET6);
  CHECK_EQ(m->idiag_state, TCP_LISTEN);
  CHECK(memcmp(m->id.idiag_src, &in6addr_any, 16) == 0);
  /* An IPv6 socket is not in the IPv4 dump. */
  dump(AF_INET, IPPROTO_TCP, ~0u, NULL, 0);
  CHECK(find(port, 0) == NULL);
  close(ln);
}

static void lookup(void) {
  struct tcp_setup s = tcp_setup();
  int fd = diag_socket();
  struct inet_diag_req_v2 req = {.sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP};
  req.id.idiag_sport = htons(s.cport);
  req.id.idiag_dport = htons(s.port);
  req.id.idiag_src[0] = req.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
  req.id.idiag_cookie[0] = req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  send_req(fd, 0, 7, &req, NULL, 0);
  char buf[4096];
  int n = recv(fd, buf, sizeof(buf), 0);
  CHECK(n > 0);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  CHECK(NLMSG_OK(h, n));
  CHECK_EQ(h->nlmsg_type, SOCK_DIAG_BY_FAMILY);
  CHECK_EQ(h->nlmsg_seq, 7u);
  CHECK((h->nlmsg_flags & NLM_F_MULTI) == 0);
  struct inet_diag_msg *m = NLMSG_DATA(h);
  CHECK_EQ(ntohs(m->id.idiag_sport), s.cport);
  CHECK_EQ(m->idiag_state, TCP_ESTABLISHED);
  /* Nothing else follows. */
  CHECK_ERR(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);

  /* A socket that does not exist. */
  tcp_close(&s);
  usleep(20000);
  req.id.idiag_sport = htons(s.port);
  req.id.idiag_dport = htons(1);
  send_req(fd, 0, 8, &req, NULL, 0);
  n = recv(fd, buf, sizeof(buf), 0);
  CHECK(n > 0);
  CHECK_EQ(h->nlmsg_type, NLMSG_ERROR);
  CHECK_EQ(((struct nlmsgerr *)NLMSG_DATA(h))->error, -ENOENT);
  close(fd);
}

static void errors(void) {
  CHECK_EQ(dump(AF_MAX, 0, ~0u, NULL, 0), -EINVAL);
  /* Found once the dump has begun: NLMSG_DONE carries the error. */
  CHECK_EQ(dump(AF_INET, 200, ~0u, NULL, 0), -ENOENT);
  /* A request too short for its family's header. */
  int fd = diag_socket();
  char buf[64] = {0};
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  h->nlmsg_len = NLMSG_LENGTH(4);
  h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  h->nlmsg_seq = 3;
  ((unsigned char *)NLMSG_DATA(h))[0] = AF_INET;
  ((unsigned char *)NLMSG_DATA(h))[1] = IPPROTO_TCP;
  CHECK_EQ(send(fd, buf, h->nlmsg_len, 0), (ssize_t)h->nlmsg_len);
  int n = recv(fd, buf, sizeof(buf), 0);
  CHECK(n > 0);
  CHECK_EQ(h->nlmsg_type, NLMSG_ERROR);
  CHECK_EQ(((struct nlmsgerr *)NLMSG_DATA(h))->error, -EINVAL);
  int proto = 0;
  socklen_t l = sizeof(proto);
  CHECK_SYS(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l));
  CHECK_EQ(proto, NETLINK_SOCK_DIAG);
  close(fd);
}

int main(void) {
  test_init();
  RUN(tcp_dump);
  RUN(states_filter);
  RUN(bytecode_filter);
  RUN(udp_dump);
  RUN(ipv6_dump);
  RUN(lookup);
  RUN(errors);
  return 0;
}
