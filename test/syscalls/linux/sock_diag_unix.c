/*
 * sock_diag_unix: listing AF_UNIX sockets through NETLINK_SOCK_DIAG's
 * unix_diag, as ss -x does: a dump's types, states, names (pathname
 * with its NUL, abstract with its leading NUL), inodes matching fstat,
 * peers (0 for a connection not yet accepted), queue lengths
 * (UNIX_DIAG_RQLEN: bytes, the next datagram's length, a listener's
 * pending count and backlog), the pending clients of a listener
 * (UNIX_DIAG_ICONS), shutdown bits, the udiag_states filter, and
 * lookups by inode with and without a cookie. The host has sockets of
 * its own; only this test's are checked.
 */
#include "test.h"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stddef.h>

#define MAX_SEEN 8192
#define TCP_ESTABLISHED 1
#define TCP_CLOSE 7
#define TCP_LISTEN 10

struct entry {
  struct unix_diag_msg m;
  int has_name, name_len;
  char name[110];
  int has_peer;
  unsigned peer;
  int has_rqlen;
  struct unix_diag_rqlen rq;
  int n_icons;
  unsigned icons[8];
  int has_shutdown;
  unsigned char shutdown;
};

static struct entry seen[MAX_SEEN];
static int n_seen;

static unsigned ino_of(int fd) {
  struct stat st;
  CHECK_SYS(fstat(fd, &st));
  CHECK(S_ISSOCK(st.st_mode));
  return (unsigned)st.st_ino;
}

static void parse(struct entry *e, struct nlmsghdr *h) {
  memset(e, 0, sizeof(*e));
  CHECK(h->nlmsg_len >= NLMSG_LENGTH(sizeof(e->m)));
  memcpy(&e->m, NLMSG_DATA(h), sizeof(e->m));
  CHECK_EQ(e->m.udiag_family, AF_UNIX);
  int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(e->m));
  struct nlattr *a = (struct nlattr *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(e->m)));
  while (len >= NLA_HDRLEN) {
    CHECK(a->nla_len >= NLA_HDRLEN && a->nla_len <= len);
    char *v = (char *)a + NLA_HDRLEN;
    int vl = a->nla_len - NLA_HDRLEN;
    switch (a->nla_type) {
      case UNIX_DIAG_NAME:
        CHECK(vl <= (int)sizeof(e->name));
        e->has_name = 1;
        e->name_len = vl;
        memcpy(e->name, v, vl);
        break;
      case UNIX_DIAG_PEER:
        CHECK_EQ(vl, 4);
        e->has_peer = 1;
        memcpy(&e->peer, v, 4);
        break;
      case UNIX_DIAG_RQLEN:
        CHECK_EQ(vl, (int)sizeof(e->rq));
        e->has_rqlen = 1;
        memcpy(&e->rq, v, sizeof(e->rq));
        break;
      case UNIX_DIAG_ICONS:
        CHECK(vl % 4 == 0 && vl / 4 <= 8);
        e->n_icons = vl / 4;
        memcpy(e->icons, v, vl);
        break;
      case UNIX_DIAG_SHUTDOWN:
        CHECK_EQ(vl, 1);
        e->has_shutdown = 1;
        e->shutdown = *(unsigned char *)v;
        break;
    }
    len -= NLA_ALIGN(a->nla_len);
    a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len));
  }
}

static int diag_socket(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  CHECK_SYS(fd);
  return fd;
}

static void send_req(int fd, int flags, int seq, const struct unix_diag_req *req) {
  struct {
    struct nlmsghdr h;
    struct unix_diag_req r;
  } msg;
  memset(&msg, 0, sizeof(msg));
  msg.h.nlmsg_len = NLMSG_LENGTH(sizeof(*req));
  msg.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.h.nlmsg_flags = NLM_F_REQUEST | flags;
  msg.h.nlmsg_seq = seq;
  msg.r = *req;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  CHECK_EQ(sendto(fd, &msg, msg.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)),
           (ssize_t)msg.h.nlmsg_len);
}

static const unsigned show_all = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_ICONS;

/* dump fills seen[] with a dump of the sockets in states. */
static void dump(unsigned states) {
  static int seq = 100;
  static char buf[65536];
  int fd = diag_socket();
  struct unix_diag_req req = {.sdiag_family = AF_UNIX, .udiag_states = states, .udiag_show = show_all};
  send_req(fd, NLM_F_DUMP, ++seq, &req);
  n_seen = 0;
  for (;;) {
    int n = recv(fd, buf, sizeof(buf), 0);
    CHECK(n > 0);
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      CHECK_EQ(h->nlmsg_seq, (unsigned)seq);
      CHECK(h->nlmsg_type != NLMSG_ERROR);
      CHECK(h->nlmsg_flags & NLM_F_MULTI);
      if (h->nlmsg_type == NLMSG_DONE) {
        CHECK_EQ(*(int *)NLMSG_DATA(h), 0);
        close(fd);
        return;
      }
      CHECK_EQ(h->nlmsg_type, SOCK_DIAG_BY_FAMILY);
      CHECK(n_seen < MAX_SEEN);
      parse(&seen[n_seen++], h);
    }
  }
}

static struct entry *find(unsigned ino) {
  for (int i = 0; i < n_seen; i++)
    if (seen[i].m.udiag_ino == ino) return &seen[i];
  return NULL;
}

/* lookup asks for one socket; it returns 0 and fills *e, or the
 * negated errno. */
static int lookup(unsigned ino, unsigned c0, unsigned c1, struct entry *e) {
  static char buf[8192];
  int fd = diag_socket();
  struct unix_diag_req req = {.sdiag_family = AF_UNIX, .udiag_ino = ino, .udiag_show = show_all,
                              .udiag_cookie = {c0, c1}};
  send_req(fd, 0, 7, &req);
  int n = recv(fd, buf, sizeof(buf), 0);
  CHECK(n > 0);
  close(fd);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  CHECK(NLMSG_OK(h, n));
  CHECK_EQ(h->nlmsg_seq, 7);
  if (h->nlmsg_type == NLMSG_ERROR) {
    struct nlmsgerr *err = NLMSG_DATA(h);
    CHECK(err->error < 0);
    return err->error;
  }
  CHECK_EQ(h->nlmsg_type, SOCK_DIAG_BY_FAMILY);
  CHECK_EQ(h->nlmsg_flags & NLM_F_MULTI, 0);
  parse(e, h);
  return 0;
}

static char path[108];
static int lst, cli, acc, cli2;

static void stream_dump(void) {
  snprintf(path, sizeof(path), "/tmp/sdu-%d.sock", getpid());
  unlink(path);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, path);
  lst = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_SYS(lst);
  CHECK_SYS(bind(lst, (struct sockaddr *)&a, sizeof(a)));
  CHECK_SYS(listen(lst, 5));
  cli = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_SYS(connect(cli, (struct sockaddr *)&a, sizeof(a)));
  acc = accept(lst, NULL, NULL);
  CHECK_SYS(acc);
  CHECK_EQ(write(cli, "abc", 3), 3);
  /* A second client waits in the listener's queue. */
  cli2 = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_SYS(connect(cli2, (struct sockaddr *)&a, sizeof(a)));
  int lone = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_SYS(lone);

  dump(~0u);
  struct entry *l = find(ino_of(lst)), *c = find(ino_of(cli)), *s = find(ino_of(acc)),
               *c2 = find(ino_of(cli2)), *u = find(ino_of(lone));
  CHECK(l && c && s && c2 && u);
  int plen = strlen(path) + 1;

  CHECK_EQ(l->m.udiag_type, SOCK_STREAM);
  CHECK_EQ(l->m.udiag_state, TCP_LISTEN);
  CHECK(l->has_name && l->name_len == plen && memcmp(l->name, path, plen) == 0);
  CHECK(!l->has_peer);
  CHECK(l->has_rqlen);
  CHECK_EQ(l->rq.udiag_rqueue, 1);
  CHECK_EQ(l->rq.udiag_wqueue, 5);
  CHECK_EQ(l->n_icons, 1);
  CHECK_EQ(l->icons[0], ino_of(cli2));

  /* The accepted end has the listener's name. */
  CHECK_EQ(s->m.udiag_state, TCP_ESTABLISHED);
  CHECK(s->has_name && s->name_len == plen && memcmp(s->name, path, plen) == 0);
  CHECK(s->has_peer);
  CHECK_EQ(s->peer, ino_of(cli));
  CHECK_EQ(s->rq.udiag_rqueue, 3);

  CHECK_EQ(c->m.udiag_state, TCP_ESTABLISHED);
  CHECK(!c->has_name);
  CHECK(c->has_peer);
  CHECK_EQ(c->peer, ino_of(acc));
  CHECK_EQ(c->rq.udiag_rqueue, 0);

  /* The queued connection's server end has no inode yet. */
  CHECK_EQ(c2->m.udiag_state, TCP_ESTABLISHED);
  CHECK(c2->has_peer);
  CHECK_EQ(c2->peer, 0);

  CHECK_EQ(u->m.udiag_state, TCP_CLOSE);
  CHECK(!u->has_peer && !u->has_name);
  CHECK(u->has_shutdown);
  CHECK_EQ(u->shutdown, 0);
  close(lone);

  /* Once the client closes, the accepted end's peer is 0. */
  int ci = ino_of(cli);
  close(cli);
  dump(~0u);
  CHECK(find(ci) == NULL);
  s = find(ino_of(acc));
  CHECK(s && s->has_peer);
  CHECK_EQ(s->peer, 0);
  CHECK_EQ(s->m.udiag_state, TCP_ESTABLISHED);
}

static void dgram_dump(void) {
  char name[64];
  int nl = snprintf(name, sizeof(name), "%csdu-%d", 0, getpid());
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  memcpy(a.sun_path, name, nl);
  socklen_t alen = offsetof(struct sockaddr_un, sun_path) + nl;
  int r = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK_SYS(bind(r, (struct sockaddr *)&a, alen));
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  int lone = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK_SYS(connect(s, (struct sockaddr *)&a, alen));
  CHECK_EQ(send(s, "xy", 2, 0), 2);
  CHECK_EQ(send(s, "z", 1, 0), 1);

  dump(~0u);
  struct entry *re = find(ino_of(r)), *se = find(ino_of(s)), *le = find(ino_of(lone));
  CHECK(re && se && le);
  CHECK_EQ(re->m.udiag_type, SOCK_DGRAM);
  CHECK(re->has_name && re->name_len == nl && memcmp(re->name, name, nl) == 0);
  CHECK_EQ(re->rq.udiag_rqueue, 2); /* the next datagram */
  CHECK(!re->has_peer);
  CHECK_EQ(se->m.udiag_state, TCP_ESTABLISHED);
  CHECK(se->has_peer);
  CHECK_EQ(se->peer, ino_of(r));
  CHECK_EQ(le->m.udiag_state, TCP_CLOSE);
  close(r);
  close(s);
  close(lone);
}

static void states_filter(void) {
  dump(1u << TCP_LISTEN);
  for (int i = 0; i < n_seen; i++) CHECK_EQ(seen[i].m.udiag_state, TCP_LISTEN);
  CHECK(find(ino_of(lst)) != NULL);
  CHECK(find(ino_of(acc)) == NULL);
  dump(1u << TCP_ESTABLISHED);
  CHECK(find(ino_of(lst)) == NULL);
  CHECK(find(ino_of(acc)) != NULL);
}

static void lookup_by_inode(void) {
  struct entry e;
  unsigned ino = ino_of(lst);
  CHECK_EQ(lookup(ino, 0xffffffffu, 0xffffffffu, &e), 0);
  CHECK_EQ(e.m.udiag_ino, ino);
  CHECK_EQ(e.m.udiag_state, TCP_LISTEN);
  CHECK_EQ(e.rq.udiag_wqueue, 5);
  /* The cookie a lookup reports names the socket; another does not. */
  unsigned c0 = e.m.udiag_cookie[0], c1 = e.m.udiag_cookie[1];
  CHECK_EQ(lookup(ino, c0, c1, &e), 0);
  CHECK_EQ(lookup(ino, c0 + 1, c1, &e), -ESTALE);
  CHECK_EQ(lookup(0, 0xffffffffu, 0xffffffffu, &e), -EINVAL);
  int gone = socket(AF_UNIX, SOCK_STREAM, 0);
  unsigned gi = ino_of(gone);
  close(gone);
  CHECK_EQ(lookup(gi, 0xffffffffu, 0xffffffffu, &e), -ENOENT);
}

static void shutdown_bits(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  CHECK_SYS(shutdown(sv[0], SHUT_WR));
  dump(~0u);
  struct entry *a = find(ino_of(sv[0])), *b = find(ino_of(sv[1]));
  CHECK(a && b);
  CHECK_EQ(a->peer, ino_of(sv[1]));
  CHECK_EQ(b->peer, ino_of(sv[0]));
  CHECK_EQ(a->shutdown, 2);
  CHECK_EQ(b->shutdown, 1);
  close(sv[0]);
  close(sv[1]);
}

int main(void) {
  test_init();
  RUN(stream_dump);
  RUN(dgram_dump);
  RUN(states_filter);
  RUN(lookup_by_inode);
  RUN(shutdown_bits);
  close(lst);
  close(acc);
  close(cli2);
  unlink(path);
  return 0;
}
