/*
 * mmsg: sendmmsg(2) and recvmmsg(2) on UDP (127.0.0.1) and AF_UNIX
 * datagram sockets.
 * Checks that sendmmsg sends each message as its own datagram and fills
 * msg_len, that recvmmsg receives up to vlen datagrams with their lengths
 * and sender addresses, MSG_DONTWAIT (EAGAIN when nothing is queued,
 * otherwise what is there), MSG_WAITFORONE (blocks for the first message
 * only), a timeout (a batch ends once it has passed; the time left is
 * written back), vlen 0, EINVAL for an invalid timeout, EFAULT and
 * ENOTSOCK/EBADF.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

static int udp_pair(int *rx, struct sockaddr_in *a) {
  *rx = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_SYS(*rx);
  memset(a, 0, sizeof(*a));
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(*a);
  CHECK_SYS(bind(*rx, (struct sockaddr *)a, len));
  CHECK_SYS(getsockname(*rx, (struct sockaddr *)a, &len));
  int tx = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_SYS(tx);
  CHECK_SYS(connect(tx, (struct sockaddr *)a, sizeof(*a)));
  return tx;
}

static void send_recv(void) {
  int rx;
  struct sockaddr_in a;
  int tx = udp_pair(&rx, &a);
  char m0[] = "one", m1[] = "second", m2[] = "3";
  struct iovec iov[3] = {{m0, 3}, {m1, 6}, {m2, 1}};
  struct mmsghdr msgs[3];
  memset(msgs, 0, sizeof(msgs));
  for (int i = 0; i < 3; i++) {
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_len = 999;
  }
  CHECK_EQ(sendmmsg(tx, msgs, 3, 0), 3);
  CHECK_EQ(msgs[0].msg_len, 3);
  CHECK_EQ(msgs[1].msg_len, 6);
  CHECK_EQ(msgs[2].msg_len, 1);
  CHECK_EQ(sendmmsg(tx, msgs, 0, 0), 0);

  char bufs[4][16];
  struct iovec riov[4];
  struct sockaddr_in from[4];
  struct mmsghdr r[4];
  memset(r, 0, sizeof(r));
  for (int i = 0; i < 4; i++) {
    riov[i].iov_base = bufs[i];
    riov[i].iov_len = sizeof(bufs[i]);
    r[i].msg_hdr.msg_iov = &riov[i];
    r[i].msg_hdr.msg_iovlen = 1;
    r[i].msg_hdr.msg_name = &from[i];
    r[i].msg_hdr.msg_namelen = sizeof(from[i]);
  }
  /* vlen 2 takes two of the three; the rest stays queued. */
  CHECK_EQ(recvmmsg(rx, r, 2, 0, NULL), 2);
  CHECK_EQ(r[0].msg_len, 3);
  CHECK(memcmp(bufs[0], "one", 3) == 0);
  CHECK_EQ(r[1].msg_len, 6);
  CHECK(memcmp(bufs[1], "second", 6) == 0);
  CHECK_EQ(r[0].msg_hdr.msg_namelen, sizeof(struct sockaddr_in));
  CHECK_EQ(from[0].sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  /* MSG_DONTWAIT takes what is there. */
  CHECK_EQ(recvmmsg(rx, r, 4, MSG_DONTWAIT, NULL), 1);
  CHECK_EQ(r[0].msg_len, 1);
  CHECK_ERR(recvmmsg(rx, r, 4, MSG_DONTWAIT, NULL), EAGAIN);
  close(tx);
  close(rx);
}

static void wait_for_one(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
  CHECK_EQ(send(sv[0], "ab", 2, 0), 2);
  CHECK_EQ(send(sv[0], "cde", 3, 0), 3);
  char b[4][8];
  struct iovec iov[4];
  struct mmsghdr r[4];
  memset(r, 0, sizeof(r));
  for (int i = 0; i < 4; i++) {
    iov[i].iov_base = b[i];
    iov[i].iov_len = sizeof(b[i]);
    r[i].msg_hdr.msg_iov = &iov[i];
    r[i].msg_hdr.msg_iovlen = 1;
  }
  /* Two queued, vlen 4: returns the two instead of blocking. */
  CHECK_EQ(recvmmsg(sv[1], r, 4, MSG_WAITFORONE, NULL), 2);
  CHECK_EQ(r[0].msg_len, 2);
  CHECK_EQ(r[1].msg_len, 3);
  close(sv[0]);
  close(sv[1]);
}

static void timeout(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
  char b[8];
  struct iovec iov = {b, sizeof(b)};
  struct mmsghdr r[2];
  memset(r, 0, sizeof(r));
  for (int i = 0; i < 2; i++) {
    r[i].msg_hdr.msg_iov = &iov;
    r[i].msg_hdr.msg_iovlen = 1;
  }
  /* A zero timeout ends the batch after the first message. */
  CHECK_EQ(send(sv[0], "x", 1, 0), 1);
  CHECK_EQ(send(sv[0], "y", 1, 0), 1);
  struct timespec ts = {0, 0};
  CHECK_EQ(recvmmsg(sv[1], r, 2, 0, &ts), 1);
  CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0);
  /* A long one leaves time, written back. */
  CHECK_EQ(send(sv[0], "z", 1, 0), 1);
  ts.tv_sec = 100;
  ts.tv_nsec = 0;
  CHECK_EQ(recvmmsg(sv[1], r, 2, MSG_DONTWAIT, &ts), 2);
  CHECK(ts.tv_sec >= 90 && ts.tv_sec <= 100);
  ts.tv_nsec = 1000000000;
  CHECK_ERR(recvmmsg(sv[1], r, 2, 0, &ts), EINVAL);
  ts.tv_sec = -1;
  ts.tv_nsec = 0;
  CHECK_ERR(recvmmsg(sv[1], r, 2, 0, &ts), EINVAL);
  close(sv[0]);
  close(sv[1]);
}

static void errors(void) {
  int sv[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
  CHECK_ERR(sendmmsg(sv[0], (struct mmsghdr *)8, 1, 0), EFAULT);
  CHECK_ERR(recvmmsg(sv[1], (struct mmsghdr *)8, 1, MSG_DONTWAIT, NULL), EFAULT);
  struct mmsghdr m;
  memset(&m, 0, sizeof(m));
  CHECK_ERR(sendmmsg(0x7fff, &m, 1, 0), EBADF);
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_ERR(sendmmsg(p[0], &m, 1, 0), ENOTSOCK);
  CHECK_ERR(recvmmsg(p[0], &m, 1, 0, NULL), ENOTSOCK);
  /* An error after the first message ends the batch quietly. */
  struct mmsghdr two[2];
  memset(two, 0, sizeof(two));
  char c = 'q';
  struct iovec iov = {&c, 1};
  two[0].msg_hdr.msg_iov = &iov;
  two[0].msg_hdr.msg_iovlen = 1;
  two[1].msg_hdr.msg_iov = (struct iovec *)8;
  two[1].msg_hdr.msg_iovlen = 1;
  CHECK_EQ(sendmmsg(sv[0], two, 2, 0), 1);
  close(p[0]);
  close(p[1]);
  close(sv[0]);
  close(sv[1]);
}

int main(void) {
  test_init();
  RUN(send_recv);
  RUN(wait_for_one);
  RUN(timeout);
  RUN(errors);
  return 0;
}
