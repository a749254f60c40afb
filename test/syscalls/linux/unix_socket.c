/*
 * unix_socket: AF_UNIX sockets (unix(7)).
 * Checks socket/socketpair argument decoding, stream byte semantics,
 * datagram and seqpacket message boundaries (MSG_TRUNC, MSG_PEEK),
 * abstract, automatic and pathname names (bind, EADDRINUSE, S_IFSOCK
 * files, getsockname/getpeername lengths), listen/connect/accept with the
 * backlog, shutdown and close (EOF, EPIPE with and without SIGPIPE,
 * ECONNRESET), MSG_DONTWAIT/MSG_WAITALL, poll readiness, and the
 * SOL_SOCKET options SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ERROR,
 * SO_ACCEPTCONN, SO_SNDBUF, SO_RCVBUF and SO_PEERCRED, and SCM_RIGHTS
 * (MSG_CMSG_CLOEXEC, MSG_CTRUNC) and SCM_CREDENTIALS checks.
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

static int getint(int fd, int opt) {
  int v = -1;
  socklen_t l = sizeof(v);
  CHECK_SYS(getsockopt(fd, SOL_SOCKET, opt, &v, &l));
  CHECK_EQ(l, sizeof(v));
  return v;
}

/* abstract_addr fills sa with the abstract name "\0name" and returns its
 * length. */
static socklen_t abstract_addr(struct sockaddr_un *sa, const char *name) {
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  size_t n = strlen(name);
  memcpy(sa->sun_path + 1, name, n);
  return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static void create(void) {
  int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
  for (int i = 0; i < 3; i++) {
    int fd = socket(AF_UNIX, types[i], 0);
    CHECK_SYS(fd);
    CHECK_EQ(getint(fd, SO_TYPE), types[i]);
    CHECK_EQ(getint(fd, SO_DOMAIN), AF_UNIX);
    CHECK_EQ(getint(fd, SO_PROTOCOL), 0);
    CHECK_EQ(getint(fd, SO_ERROR), 0);
    CHECK_EQ(getint(fd, SO_ACCEPTCONN), 0);
    CHECK_EQ(fcntl(fd, F_GETFD), 0);
    CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    close(fd);
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  CHECK_SYS(fd);
  CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
  CHECK_ERR(read(fd, &fd, 1), EINVAL); /* unconnected stream */
  CHECK_ERR(lseek(fd, 0, SEEK_SET), ESPIPE);
  close(fd);
  CHECK_ERR(socket(AF_UNIX, SOCK_STREAM | 0x100000, 0), EINVAL);
  CHECK_ERR(socket(AF_UNIX, 7, 0), ESOCKTNOSUPPORT);
  CHECK_ERR(socket(AF_UNIX, SOCK_STREAM, 5), EPROTONOSUPPORT);
  CHECK_ERR(socket(1000, SOCK_STREAM, 0), EAFNOSUPPORT);
  /* SOCK_RAW is a datagram socket in this family. */
  CHECK_SYS(fd = socket(AF_UNIX, SOCK_RAW, 0));
  CHECK_EQ(getint(fd, SO_TYPE), SOCK_DGRAM);
  close(fd);
  /* Socket calls on a non-socket. */
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_ERR(listen(p[0], 1), ENOTSOCK);
  CHECK_ERR(shutdown(p[0], SHUT_RD), ENOTSOCK);
  close(p[0]);
  close(p[1]);
  CHECK_ERR(listen(1000, 1), EBADF);
}

static void stream_pair(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  CHECK_EQ(write(sv[0], "abc", 3), 3);
  CHECK_EQ(send(sv[0], "def", 3, 0), 3);
  char buf[16];
  /* A stream merges writes. */
  CHECK_EQ(recv(sv[1], buf, 4, MSG_PEEK), 4);
  CHECK(memcmp(buf, "abcd", 4) == 0);
  CHECK_EQ(read(sv[1], buf, sizeof(buf)), 6);
  CHECK(memcmp(buf, "abcdef", 6) == 0);
  CHECK_ERR(recv(sv[1], buf, 1, MSG_DONTWAIT), EAGAIN);
  /* Both directions work, and so do readv/writev. */
  struct iovec iov[2] = {{"xy", 2}, {"z", 1}};
  CHECK_EQ(writev(sv[1], iov, 2), 3);
  CHECK_EQ(read(sv[0], buf, sizeof(buf)), 3);
  CHECK(memcmp(buf, "xyz", 3) == 0);
  /* A stream refuses a destination once connected. */
  struct sockaddr_un sa;
  socklen_t l = abstract_addr(&sa, "appkernel-nowhere");
  CHECK_ERR(sendto(sv[0], "a", 1, 0, (struct sockaddr *)&sa, l), EISCONN);
  /* getpeername of a pair: just the family. */
  l = sizeof(sa);
  CHECK_SYS(getpeername(sv[0], (struct sockaddr *)&sa, &l));
  CHECK_EQ(l, sizeof(sa_family_t));
  CHECK_EQ(sa.sun_family, AF_UNIX);
  /* Closing one end: the other reads EOF, and writes EPIPE. */
  close(sv[1]);
  CHECK_EQ(read(sv[0], buf, sizeof(buf)), 0);
  CHECK_ERR(send(sv[0], "a", 1, MSG_NOSIGNAL), EPIPE);
  close(sv[0]);
}

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig) {
  (void)sig;
  sigpipes++;
}

static void epipe_sigpipe(void) {
  struct sigaction sa = {0}, old;
  sa.sa_handler = on_sigpipe;
  CHECK_SYS(sigaction(SIGPIPE, &sa, &old));
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  CHECK_SYS(shutdown(sv[0], SHUT_WR));
  sigpipes = 0;
  CHECK_ERR(write(sv[0], "a", 1), EPIPE);
  CHECK_EQ(sigpipes, 1);
  CHECK_ERR(send(sv[0], "a", 1, MSG_NOSIGNAL), EPIPE);
  CHECK_EQ(sigpipes, 1);
  CHECK_ERR(send(sv[0], "a", 1, 0), EPIPE);
  CHECK_EQ(sigpipes, 2);
  /* The peer's read direction is shut: it sees EOF. */
  char c;
  CHECK_EQ(read(sv[1], &c, 1), 0);
  /* The other direction still works. */
  CHECK_EQ(write(sv[1], "q", 1), 1);
  CHECK_EQ(read(sv[0], &c, 1), 1);
  CHECK_EQ(c, 'q');
  close(sv[0]);
  close(sv[1]);
  CHECK_SYS(sigaction(SIGPIPE, &old, NULL));
}

static void reset_on_unread(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  CHECK_EQ(write(sv[0], "lost", 4), 4);
  /* sv[1] closes with unread data: sv[0] gets ECONNRESET once, then EOF. */
  close(sv[1]);
  char buf[8];
  CHECK_ERR(read(sv[0], buf, sizeof(buf)), ECONNRESET);
  CHECK_EQ(read(sv[0], buf, sizeof(buf)), 0);
  close(sv[0]);
}

static void dgram_pair(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
  CHECK_EQ(write(sv[0], "hello", 5), 5);
  CHECK_EQ(write(sv[0], "", 0), 0);
  CHECK_EQ(write(sv[0], "world!", 6), 6);
  char buf[16];
  CHECK_EQ(recv(sv[1], buf, sizeof(buf), MSG_PEEK), 5);
  /* Truncation discards the rest; MSG_TRUNC reports the real length. */
  CHECK_EQ(recv(sv[1], buf, 2, MSG_TRUNC), 5);
  CHECK(memcmp(buf, "he", 2) == 0);
  CHECK_EQ(read(sv[1], buf, sizeof(buf)), 0); /* the empty datagram */
  struct msghdr mh = {0};
  struct iovec iov = {buf, 3};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  CHECK_EQ(recvmsg(sv[1], &mh, 0), 3);
  CHECK(mh.msg_flags & MSG_TRUNC);
  CHECK(memcmp(buf, "wor", 3) == 0);
  CHECK_ERR(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  /* A datagram larger than the send buffer does not fit. */
  int small = 4096;
  CHECK_SYS(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
  static char big[16384];
  CHECK_ERR(send(sv[0], big, sizeof(big), 0), EMSGSIZE);
  close(sv[0]);
  close(sv[1]);
}

static void seqpacket_pair(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
  CHECK_EQ(write(sv[0], "one", 3), 3);
  CHECK_EQ(write(sv[0], "three", 5), 5);
  char buf[16];
  CHECK_EQ(read(sv[1], buf, sizeof(buf)), 3);
  CHECK_EQ(recv(sv[1], buf, 2, 0), 2);
  CHECK_ERR(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  close(sv[0]);
  CHECK_EQ(read(sv[1], buf, sizeof(buf)), 0);
  CHECK_ERR(send(sv[1], "x", 1, MSG_NOSIGNAL), EPIPE);
  close(sv[1]);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  CHECK_ERR(send(fd, "x", 1, MSG_NOSIGNAL), ENOTCONN);
  CHECK_ERR(recv(fd, buf, 1, 0), ENOTCONN);
  close(fd);
}

static void abstract_names(void) {
  struct sockaddr_un sa, got;
  socklen_t l = abstract_addr(&sa, "appkernel-abstract-test");
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_SYS(lfd);
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_ERR(connect(c, (struct sockaddr *)&sa, l), ECONNREFUSED);
  CHECK_ERR(listen(lfd, 1), EINVAL); /* unbound */
  CHECK_SYS(bind(lfd, (struct sockaddr *)&sa, l));
  CHECK_ERR(bind(lfd, (struct sockaddr *)&sa, l), EINVAL);
  /* Bound but not listening. */
  CHECK_ERR(connect(c, (struct sockaddr *)&sa, l), ECONNREFUSED);
  int other = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_ERR(bind(other, (struct sockaddr *)&sa, l), EADDRINUSE);
  socklen_t gl = sizeof(got);
  CHECK_SYS(getsockname(lfd, (struct sockaddr *)&got, &gl));
  CHECK_EQ(gl, l);
  CHECK(memcmp(&got, &sa, l) == 0);
  /* A short buffer gets a truncated address and the full length. */
  gl = 4;
  memset(&got, 0x55, sizeof(got));
  CHECK_SYS(getsockname(lfd, (struct sockaddr *)&got, &gl));
  CHECK_EQ(gl, l);
  CHECK_EQ((unsigned char)got.sun_path[2], 0x55);
  CHECK_SYS(listen(lfd, 5));
  CHECK_EQ(getint(lfd, SO_ACCEPTCONN), 1);
  /* Each socket type has its own abstract namespace. */
  int d = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK_ERR(connect(d, (struct sockaddr *)&sa, l), ECONNREFUSED);
  CHECK_SYS(bind(d, (struct sockaddr *)&sa, l));
  close(d);
  struct pollfd pfd = {lfd, POLLIN, 0};
  CHECK_EQ(poll(&pfd, 1, 0), 0);
  CHECK_SYS(connect(c, (struct sockaddr *)&sa, l));
  CHECK_ERR(connect(c, (struct sockaddr *)&sa, l), EISCONN);
  CHECK_EQ(poll(&pfd, 1, 0), 1);
  CHECK_EQ(pfd.revents, POLLIN);
  /* Data sent before accept is waiting on the accepted socket. */
  CHECK_EQ(write(c, "early", 5), 5);
  struct sockaddr_un peer;
  socklen_t pl = sizeof(peer);
  int s = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC | SOCK_NONBLOCK);
  CHECK_SYS(s);
  CHECK_EQ(pl, sizeof(sa_family_t)); /* the client is unbound */
  CHECK_EQ(fcntl(s, F_GETFD), FD_CLOEXEC);
  CHECK(fcntl(s, F_GETFL) & O_NONBLOCK);
  char buf[8];
  CHECK_EQ(read(s, buf, sizeof(buf)), 5);
  CHECK(memcmp(buf, "early", 5) == 0);
  /* The accepted socket has the listener's name; the client's peer too. */
  gl = sizeof(got);
  CHECK_SYS(getsockname(s, (struct sockaddr *)&got, &gl));
  CHECK_EQ(gl, l);
  gl = sizeof(got);
  CHECK_SYS(getpeername(c, (struct sockaddr *)&got, &gl));
  CHECK_EQ(gl, l);
  CHECK(memcmp(&got, &sa, l) == 0);
  CHECK_SYS(fcntl(lfd, F_SETFL, O_NONBLOCK));
  CHECK_ERR(accept(lfd, NULL, NULL), EAGAIN);
  CHECK_ERR(accept4(lfd, NULL, NULL, 0x1), EINVAL);
  CHECK_ERR(accept(c, NULL, NULL), EINVAL);
  close(s);
  close(c);
  close(lfd);
  /* The name is free again once the socket is closed. */
  CHECK_SYS(bind(other, (struct sockaddr *)&sa, l));
  close(other);
}

static void autobind(void) {
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  CHECK_SYS(bind(fd, (struct sockaddr *)&sa, sizeof(sa_family_t)));
  socklen_t l = sizeof(sa);
  CHECK_SYS(getsockname(fd, (struct sockaddr *)&sa, &l));
  CHECK_EQ(l, offsetof(struct sockaddr_un, sun_path) + 6);
  CHECK_EQ(sa.sun_path[0], 0);
  for (int i = 1; i < 6; i++)
    CHECK(strchr("0123456789abcdef", sa.sun_path[i]) != NULL);
  close(fd);
  /* Bad addresses. */
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_ERR(bind(fd, (struct sockaddr *)&sa, 1), EINVAL);
  sa.sun_family = AF_INET;
  CHECK_ERR(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), EINVAL);
  CHECK_ERR(bind(fd, (struct sockaddr *)&sa, sizeof(sa) + 1), EINVAL);
  close(fd);
}

static void dgram_addressed(void) {
  struct sockaddr_un a, b, got;
  socklen_t la = abstract_addr(&a, "appkernel-dgram-a");
  socklen_t lb = abstract_addr(&b, "appkernel-dgram-b");
  int fa = socket(AF_UNIX, SOCK_DGRAM, 0), fb = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK_SYS(bind(fa, (struct sockaddr *)&a, la));
  CHECK_SYS(bind(fb, (struct sockaddr *)&b, lb));
  CHECK_ERR(send(fa, "x", 1, 0), ENOTCONN);
  CHECK_EQ(sendto(fa, "ping", 4, 0, (struct sockaddr *)&b, lb), 4);
  char buf[8];
  socklen_t gl = sizeof(got);
  CHECK_EQ(recvfrom(fb, buf, sizeof(buf), 0, (struct sockaddr *)&got, &gl), 4);
  CHECK_EQ(gl, la);
  CHECK(memcmp(&got, &a, la) == 0);
  /* recvmsg reports the sender in msg_name. */
  CHECK_EQ(sendto(fa, "pong", 4, 0, (struct sockaddr *)&b, lb), 4);
  struct iovec iov = {buf, sizeof(buf)};
  struct msghdr mh = {.msg_name = &got, .msg_namelen = sizeof(got),
                      .msg_iov = &iov, .msg_iovlen = 1};
  CHECK_EQ(recvmsg(fb, &mh, 0), 4);
  CHECK_EQ(mh.msg_namelen, la);
  CHECK_EQ(mh.msg_flags, 0);
  /* Once fb is connected to fa, a third socket may not send to it. */
  CHECK_SYS(connect(fb, (struct sockaddr *)&a, la));
  int fc = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK_ERR(sendto(fc, "x", 1, 0, (struct sockaddr *)&b, lb), EPERM);
  CHECK_EQ(send(fb, "back", 4, 0), 4);
  CHECK_EQ(recv(fa, buf, sizeof(buf), 0), 4);
  gl = sizeof(got);
  CHECK_SYS(getpeername(fb, (struct sockaddr *)&got, &gl));
  CHECK_EQ(gl, la);
  /* AF_UNSPEC dissolves the association. */
  struct sockaddr un = {.sa_family = AF_UNSPEC};
  CHECK_SYS(connect(fb, &un, sizeof(un)));
  CHECK_ERR(getpeername(fb, (struct sockaddr *)&got, &gl), ENOTCONN);
  CHECK_EQ(sendto(fc, "x", 1, 0, (struct sockaddr *)&b, lb), 1);
  close(fc);
  /* Sending to a closed socket's name. */
  close(fb);
  CHECK_ERR(sendto(fa, "x", 1, 0, (struct sockaddr *)&b, lb), ECONNREFUSED);
  close(fa);
}

static void pathname(void) {
  char path[64];
  snprintf(path, sizeof(path), "/tmp/appkernel-unix-%d", (int)getpid());
  unlink(path);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strcpy(sa.sun_path, path);
  socklen_t l = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_ERR(connect(c, (struct sockaddr *)&sa, l), ENOENT);
  CHECK_SYS(bind(lfd, (struct sockaddr *)&sa, l));
  struct stat st;
  CHECK_SYS(stat(path, &st));
  CHECK(S_ISSOCK(st.st_mode));
  int other = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_ERR(bind(other, (struct sockaddr *)&sa, l), EADDRINUSE);
  close(other);
  struct sockaddr_un got;
  socklen_t gl = sizeof(got);
  CHECK_SYS(getsockname(lfd, (struct sockaddr *)&got, &gl));
  CHECK_EQ(gl, l);
  CHECK(strcmp(got.sun_path, path) == 0);
  CHECK_SYS(listen(lfd, 1));
  /* The address length need not include the NUL. */
  CHECK_SYS(connect(c, (struct sockaddr *)&sa, l - 1));
  int s = accept(lfd, NULL, NULL);
  CHECK_SYS(s);
  CHECK_EQ(write(s, "hi", 2), 2);
  char buf[4];
  CHECK_EQ(read(c, buf, sizeof(buf)), 2);
  /* A regular file at a path is not a socket. */
  close(c);
  close(s);
  CHECK_SYS(unlink(path));
  c = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_ERR(connect(c, (struct sockaddr *)&sa, l), ENOENT);
  int f = open(path, O_CREAT | O_WRONLY, 0600);
  CHECK_SYS(f);
  close(f);
  CHECK_ERR(connect(c, (struct sockaddr *)&sa, l), ECONNREFUSED);
  CHECK_SYS(unlink(path));
  close(c);
  close(lfd);
}

static void backlog(void) {
  struct sockaddr_un sa;
  socklen_t l = abstract_addr(&sa, "appkernel-backlog");
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_SYS(bind(lfd, (struct sockaddr *)&sa, l));
  CHECK_SYS(listen(lfd, 0));
  /* Linux takes backlog+1 connections before refusing more. */
  int c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK_SYS(connect(c1, (struct sockaddr *)&sa, l));
  CHECK_ERR(connect(c2, (struct sockaddr *)&sa, l), EAGAIN);
  /* A blocking connect waits until accept makes room. */
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    int c3 = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c3, (struct sockaddr *)&sa, l) != 0) _exit(2);
    if (write(c3, "c3", 2) != 2) _exit(3);
    _exit(0);
  }
  usleep(50000);
  int s1 = accept(lfd, NULL, NULL);
  CHECK_SYS(s1);
  int s3 = accept(lfd, NULL, NULL);
  CHECK_SYS(s3);
  /* SO_PEERCRED: the connecting process, and for the client the process
   * that called listen. */
  struct ucred uc;
  socklen_t ul = sizeof(uc);
  CHECK_SYS(getsockopt(s3, SOL_SOCKET, SO_PEERCRED, &uc, &ul));
  CHECK_EQ(ul, sizeof(uc));
  CHECK_EQ(uc.pid, pid);
  CHECK_EQ(uc.uid, geteuid());
  CHECK_EQ(uc.gid, getegid());
  CHECK_SYS(getsockopt(c1, SOL_SOCKET, SO_PEERCRED, &uc, &ul));
  CHECK_EQ(uc.pid, getpid());
  char buf[4];
  CHECK_EQ(read(s3, buf, sizeof(buf)), 2);
  CHECK(memcmp(buf, "c3", 2) == 0);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* Closing a listener resets connections nobody accepted. */
  CHECK_SYS(connect(c2, (struct sockaddr *)&sa, l));
  close(lfd);
  CHECK_ERR(read(c2, buf, sizeof(buf)), ECONNRESET);
  CHECK_EQ(read(c2, buf, sizeof(buf)), 0);
  close(c1);
  close(c2);
  close(s1);
  close(s3);
}

static void readiness(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  struct pollfd p = {sv[1], POLLIN | POLLOUT | POLLRDHUP, 0};
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLOUT);
  CHECK_EQ(write(sv[0], "a", 1), 1);
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLIN | POLLOUT);
  CHECK_SYS(shutdown(sv[0], SHUT_WR));
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLIN | POLLOUT | POLLRDHUP);
  close(sv[0]);
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
  close(sv[1]);
  /* An unconnected stream socket is writable and hung up. */
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  p.fd = fd;
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLOUT | POLLHUP);
  close(fd);
  /* A blocked reader wakes for data written by another process. */
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    usleep(20000);
    if (write(sv[0], "ab", 2) != 2) _exit(2);
    usleep(20000);
    if (write(sv[0], "cd", 2) != 2) _exit(3);
    _exit(0);
  }
  p = (struct pollfd){sv[1], POLLIN, 0};
  CHECK_EQ(poll(&p, 1, 5000), 1);
  char buf[8];
  /* MSG_WAITALL waits for the second write. */
  CHECK_EQ(recv(sv[1], buf, 4, MSG_WAITALL), 4);
  CHECK(memcmp(buf, "abcd", 4) == 0);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* MSG_WAITALL returns short at EOF. */
  CHECK_EQ(write(sv[0], "e", 1), 1);
  close(sv[0]);
  CHECK_EQ(recv(sv[1], buf, 4, MSG_WAITALL), 1);
  close(sv[1]);
}

static void flow_control(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
  static char chunk[4096];
  long total = 0;
  for (;;) {
    ssize_t n = write(sv[0], chunk, sizeof(chunk));
    if (n < 0) {
      CHECK_EQ(errno, EAGAIN);
      break;
    }
    total += n;
    CHECK(total < (64L << 20));
  }
  CHECK(total > 0);
  struct pollfd p = {sv[0], POLLOUT, 0};
  CHECK_EQ(poll(&p, 1, 0), 0);
  /* Draining makes the writer writable again. */
  long got = 0;
  static char buf[65536];
  for (;;) {
    ssize_t n = read(sv[1], buf, sizeof(buf));
    if (n < 0) {
      CHECK_EQ(errno, EAGAIN);
      break;
    }
    got += n;
  }
  CHECK_EQ(got, total);
  CHECK_EQ(poll(&p, 1, 0), 1);
  close(sv[0]);
  close(sv[1]);
}

static void sockopts(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  int v = 65536;
  CHECK_SYS(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)));
  CHECK_EQ(getint(fd, SO_SNDBUF), 2 * v);
  v = 32768;
  CHECK_SYS(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)));
  CHECK_EQ(getint(fd, SO_RCVBUF), 2 * v);
  CHECK_ERR(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, 2), EINVAL);
  /* A short option buffer gets a truncated value. */
  char c = 0;
  socklen_t l = 1;
  CHECK_SYS(getsockopt(fd, SOL_SOCKET, SO_TYPE, &c, &l));
  CHECK_EQ(l, 1);
  CHECK_EQ(c, SOCK_STREAM);
  CHECK_ERR(getsockopt(fd, SOL_SOCKET, 9999, &v, &l), ENOPROTOOPT);
  CHECK_ERR(shutdown(fd, 7), EINVAL);
  struct ucred uc;
  l = sizeof(uc);
  CHECK_SYS(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l));
  CHECK_EQ(uc.pid, 0);
  CHECK_EQ(uc.uid, (uid_t)-1);
  CHECK_EQ(uc.gid, (gid_t)-1);
  close(fd);
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
  l = sizeof(uc);
  CHECK_SYS(getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &uc, &l));
  CHECK_EQ(uc.pid, getpid());
  CHECK_EQ(uc.uid, geteuid());
  close(sv[0]);
  close(sv[1]);
}

/* send_fds sends one byte with an SCM_RIGHTS message carrying fds. */
static ssize_t send_fds(int sock, const int *fds, int n) {
  char ctl[CMSG_SPACE(8 * sizeof(int))];
  memset(ctl, 0, sizeof(ctl));
  struct iovec iov = {"F", 1};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                      .msg_controllen = CMSG_SPACE(n * sizeof(int))};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(n * sizeof(int));
  memcpy(CMSG_DATA(c), fds, n * sizeof(int));
  return sendmsg(sock, &mh, 0);
}

static void scm_rights(void) {
  int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
  for (int ti = 0; ti < 3; ti++) {
    int sv[2], p[2];
    CHECK_SYS(socketpair(AF_UNIX, types[ti], 0, sv));
    CHECK_SYS(pipe(p));
    CHECK_EQ(send_fds(sv[0], &p[1], 1), 1);
    /* The sender may close its copy: the file is in flight. */
    close(p[1]);
    char ctl[CMSG_SPACE(sizeof(int))], c;
    struct iovec iov = {&c, 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                        .msg_controllen = sizeof(ctl)};
    CHECK_EQ(recvmsg(sv[1], &mh, MSG_CMSG_CLOEXEC), 1);
    CHECK_EQ(c, 'F');
    CHECK_EQ(mh.msg_flags, MSG_CMSG_CLOEXEC);
    CHECK_EQ(mh.msg_controllen, CMSG_SPACE(sizeof(int)));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    CHECK(cm != NULL);
    CHECK_EQ(cm->cmsg_level, SOL_SOCKET);
    CHECK_EQ(cm->cmsg_type, SCM_RIGHTS);
    CHECK_EQ(cm->cmsg_len, CMSG_LEN(sizeof(int)));
    int got;
    memcpy(&got, CMSG_DATA(cm), sizeof(int));
    CHECK_EQ(fcntl(got, F_GETFD), FD_CLOEXEC);
    /* The received descriptor is the same pipe. */
    CHECK_EQ(write(got, "z", 1), 1);
    CHECK_EQ(read(p[0], &c, 1), 1);
    CHECK_EQ(c, 'z');
    close(got);
    char buf[4];
    CHECK_EQ(read(p[0], buf, sizeof(buf)), 0); /* last writer gone */
    close(p[0]);
    close(sv[0]);
    close(sv[1]);
  }
  /* A control buffer with room for one of three: MSG_CTRUNC, and the other
   * two are closed. */
  int sv[2], p[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
  CHECK_SYS(pipe(p));
  int three[3] = {p[1], p[1], p[1]};
  CHECK_EQ(send_fds(sv[0], three, 3), 1);
  close(p[1]);
  /* CMSG_SPACE(sizeof(int)) would hold two descriptors. */
  char ctl[CMSG_SPACE(sizeof(int))], c;
  struct iovec iov = {&c, 1};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                      .msg_controllen = CMSG_LEN(sizeof(int))};
  CHECK_EQ(recvmsg(sv[1], &mh, 0), 1);
  CHECK_EQ(mh.msg_flags, MSG_CTRUNC);
  int got;
  memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
  CHECK_EQ(fcntl(got, F_GETFD), 0);
  close(got);
  char buf[4];
  CHECK_EQ(read(p[0], buf, sizeof(buf)), 0);
  /* No control buffer at all: the files are closed. */
  CHECK_SYS(pipe(p));
  CHECK_EQ(send_fds(sv[0], &p[1], 1), 1);
  close(p[1]);
  CHECK_EQ(recv(sv[1], buf, sizeof(buf), 0), 1);
  CHECK_EQ(read(p[0], buf, sizeof(buf)), 0);
  close(p[0]);
  /* Bad descriptors and bad control messages. */
  int bad = 1000;
  CHECK_ERR(send_fds(sv[0], &bad, 1), EBADF);
  char junk[CMSG_SPACE(4)] = {0};
  struct msghdr jm = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = junk,
                      .msg_controllen = sizeof(junk)};
  struct cmsghdr *jc = CMSG_FIRSTHDR(&jm);
  jc->cmsg_len = CMSG_LEN(4);
  jc->cmsg_level = SOL_SOCKET;
  jc->cmsg_type = 99;
  CHECK_ERR(sendmsg(sv[0], &jm, 0), EINVAL);
  /* SCM_CREDENTIALS with the sender's own identity is accepted. */
  char cbuf[CMSG_SPACE(sizeof(struct ucred))] = {0};
  struct msghdr cm = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                      .msg_controllen = sizeof(cbuf)};
  struct cmsghdr *cc = CMSG_FIRSTHDR(&cm);
  cc->cmsg_len = CMSG_LEN(sizeof(struct ucred));
  cc->cmsg_level = SOL_SOCKET;
  cc->cmsg_type = SCM_CREDENTIALS;
  struct ucred me = {getpid(), getuid(), getgid()};
  memcpy(CMSG_DATA(cc), &me, sizeof(me));
  CHECK_EQ(sendmsg(sv[0], &cm, 0), 1);
  CHECK_EQ(recv(sv[1], buf, sizeof(buf), 0), 1);
  me.pid = getpid() + 1000000;
  memcpy(CMSG_DATA(cc), &me, sizeof(me));
  if (geteuid() != 0) CHECK_ERR(sendmsg(sv[0], &cm, 0), EPERM);
  close(sv[0]);
  close(sv[1]);
  /* Stream reads stop after the bytes that carried files. */
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  CHECK_SYS(pipe(p));
  CHECK_EQ(write(sv[0], "ab", 2), 2);
  CHECK_EQ(send_fds(sv[0], &p[0], 1), 1);
  CHECK_EQ(write(sv[0], "cd", 2), 2);
  mh.msg_controllen = sizeof(ctl);
  iov.iov_base = buf;
  iov.iov_len = sizeof(buf);
  CHECK_EQ(recvmsg(sv[1], &mh, 0), 3);
  CHECK(memcmp(buf, "abF", 3) == 0);
  CHECK_EQ(mh.msg_controllen, CMSG_SPACE(sizeof(int)));
  memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
  close(got);
  CHECK_EQ(read(sv[1], buf, sizeof(buf)), 2);
  close(p[0]);
  close(p[1]);
  close(sv[0]);
  close(sv[1]);
}

int main(void) {
  test_init();
  RUN(create);
  RUN(stream_pair);
  RUN(epipe_sigpipe);
  RUN(reset_on_unread);
  RUN(dgram_pair);
  RUN(seqpacket_pair);
  RUN(abstract_names);
  RUN(autobind);
  RUN(dgram_addressed);
  RUN(pathname);
  RUN(backlog);
  RUN(readiness);
  RUN(flow_control);
  RUN(sockopts);
  RUN(scm_rights);
  return 0;
}
