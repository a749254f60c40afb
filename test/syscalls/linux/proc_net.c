/*
 * proc_net: /proc/net (a link to /proc/self/net) in Linux's formats.
 * Checks that /proc/net/tcp lists a listener on 127.0.0.1 (state 0A,
 * port in hex, its owner and inode) and both ends of a connection to it
 * (state 01), that /proc/net/udp lists a bound UDP socket (state 07),
 * the tcp6/udp6 headers, that /proc/net/dev lists lo, that if_inet6
 * lists ::1 when the system has IPv6, the route header, and that
 * /proc/net/unix lists a listening abstract AF_UNIX socket. Listed for
 * the sandbox's own stack (net=none, net=sandbox): with --network=host the
 * Sentry cannot see the host's sockets and the tables are headers only.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static char buf[1 << 20];

/* slurp reads path whole into buf and returns it. */
static const char *slurp(const char *path) {
  int fd = open(path, O_RDONLY);
  CHECK_SYS(fd);
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
    CHECK_SYS(r);
    if (r == 0) break;
    n += r;
  }
  buf[n] = 0;
  close(fd);
  return buf;
}

static int starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void net_link(void) {
  char target[64];
  ssize_t n = readlink("/proc/net", target, sizeof(target));
  CHECK_SYS(n);
  CHECK_EQ(n, 8);
  CHECK(memcmp(target, "self/net", 8) == 0);
  struct stat st;
  CHECK_SYS(stat("/proc/self/net/tcp", &st));
  CHECK(S_ISREG(st.st_mode));
}

static void tcp_table(void) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(l);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  CHECK_SYS(bind(l, (struct sockaddr *)&a, len));
  CHECK_SYS(getsockname(l, (struct sockaddr *)&a, &len));
  CHECK_SYS(listen(l, 5));
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_SYS(c);
  CHECK_SYS(connect(c, (struct sockaddr *)&a, sizeof(a)));
  struct sockaddr_in ca;
  len = sizeof(ca);
  CHECK_SYS(getsockname(c, (struct sockaddr *)&ca, &len));
  int s = accept(l, NULL, NULL);
  CHECK_SYS(s);

  const char *t = slurp("/proc/net/tcp");
  const char *hdr = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
  CHECK(starts_with(t, hdr));
  /* The header is padded to 149 columns. */
  CHECK(strchr(t, '\n') - t == 149);
  char want[256];
  snprintf(want, sizeof(want), ": 0100007F:%04X 00000000:0000 0A ", ntohs(a.sin_port));
  const char *line = strstr(t, want);
  CHECK(line != NULL);
  /* The listener's owner and inode are its file's (ss -p and lsof
   * match them to descriptors). */
  struct stat st;
  CHECK_SYS(fstat(l, &st));
  snprintf(want, sizeof(want), " %5u        0 %lu ", (unsigned)geteuid(), (unsigned long)st.st_ino);
  const char *eol = strchr(line, '\n');
  const char *at = strstr(line, want);
  CHECK(at != NULL && at < eol);
  snprintf(want, sizeof(want), ": 0100007F:%04X 0100007F:%04X 01 ", ntohs(ca.sin_port), ntohs(a.sin_port));
  CHECK(strstr(t, want) != NULL);
  snprintf(want, sizeof(want), ": 0100007F:%04X 0100007F:%04X 01 ", ntohs(a.sin_port), ntohs(ca.sin_port));
  CHECK(strstr(t, want) != NULL);

  /* Closed sockets leave the table (the listener at once). */
  close(s);
  close(c);
  close(l);
  t = slurp("/proc/net/tcp");
  snprintf(want, sizeof(want), ": 0100007F:%04X 00000000:0000 0A ", ntohs(a.sin_port));
  CHECK(strstr(t, want) == NULL);

  t = slurp("/proc/net/tcp6");
  CHECK(starts_with(t, "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"));
}

static void udp_table(void) {
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_SYS(u);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  CHECK_SYS(bind(u, (struct sockaddr *)&a, len));
  CHECK_SYS(getsockname(u, (struct sockaddr *)&a, &len));
  const char *t = slurp("/proc/net/udp");
  CHECK(starts_with(t, "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops"));
  CHECK(strchr(t, '\n') - t == 127);
  char want[256];
  snprintf(want, sizeof(want), ": 0100007F:%04X 00000000:0000 07 ", ntohs(a.sin_port));
  CHECK(strstr(t, want) != NULL);
  close(u);
  t = slurp("/proc/net/udp6");
  CHECK(starts_with(t, "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"));
}

static void dev(void) {
  const char *t = slurp("/proc/net/dev");
  CHECK(starts_with(t, "Inter-|   Receive                                                |  Transmit\n"
                       " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"));
  CHECK(strstr(t, "\n    lo: ") != NULL);
}

static int have_ipv6(void) {
  int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return 0;
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  close(fd);
  return ok;
}

static void if_inet6(void) {
  const char *t = slurp("/proc/net/if_inet6");
  if (!have_ipv6()) return;
  CHECK(strstr(t, "00000000000000000000000000000001 01 80 10 80       lo\n") != NULL);
}

static void route_unix(void) {
  const char *t = slurp("/proc/net/route");
  CHECK(starts_with(t, "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"));
  CHECK(strchr(t, '\n') - t == 127);
  t = slurp("/proc/net/unix");
  CHECK(starts_with(t, "Num       RefCount Protocol Flags    Type St Inode Path\n"));

  /* A listening abstract socket shows with the listening flag
   * (__SO_ACCEPTCON), stream type, state SS_UNCONNECTED, its inode and
   * its name with '@' for the leading NUL. */
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_SYS(fd);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  int len = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "appkernel-procnet-%d", (int)getpid());
  CHECK_SYS(bind(fd, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + 1 + len));
  CHECK_SYS(listen(fd, 1));
  struct stat st;
  CHECK_SYS(fstat(fd, &st));
  char want[256];
  snprintf(want, sizeof(want), ": 00000002 00000000 00010000 0001 01 %5lu @%s\n", (unsigned long)st.st_ino, sa.sun_path + 1);
  t = slurp("/proc/net/unix");
  CHECK(strstr(t, want) != NULL);
  close(fd);
}

int main(void) {
  test_init();
  RUN(net_link);
  RUN(tcp_table);
  RUN(udp_table);
  RUN(dev);
  RUN(if_inet6);
  RUN(route_unix);
  return 0;
}
