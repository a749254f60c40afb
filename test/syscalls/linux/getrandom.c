/*
 * getrandom: the getrandom system call and /dev/urandom.
 * Checks that requests are filled, that successive results differ and look
 * random (bit balance), the GRND_NONBLOCK/GRND_RANDOM/GRND_INSECURE flags,
 * zero-length requests, and EINVAL/EFAULT.
 */
#include "test.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/syscall.h>

#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004
#endif

static long sys_getrandom(void *buf, size_t len, unsigned flags) {
  return syscall(SYS_getrandom, buf, len, flags);
}

static int popcount_buf(const unsigned char *b, size_t n) {
  int c = 0;
  for (size_t i = 0; i < n; i++) c += __builtin_popcount(b[i]);
  return c;
}

static void fills_and_differs(void) {
  unsigned char a[32], b[32];
  memset(a, 0, sizeof(a));
  memset(b, 0, sizeof(b));
  CHECK_EQ(sys_getrandom(a, sizeof(a), 0), 32);
  CHECK_EQ(sys_getrandom(b, sizeof(b), 0), 32);
  /* 256 random bits colliding is impossible in practice. */
  CHECK(memcmp(a, b, sizeof(a)) != 0);
  static const unsigned char zero[32];
  CHECK(memcmp(a, zero, sizeof(a)) != 0);
  /* An odd length: the byte after the request stays untouched. */
  unsigned char c[8];
  memset(c, 0xee, sizeof(c));
  CHECK_EQ(sys_getrandom(c, 5, 0), 5);
  CHECK_EQ(c[5], 0xee);
}

static void looks_random(void) {
  enum { N = 4096 };
  static unsigned char buf[N];
  CHECK_EQ(sys_getrandom(buf, N, 0), N);
  /* 32768 bits: 45%..55% ones is about 18 standard deviations wide. */
  int ones = popcount_buf(buf, N);
  CHECK(ones > N * 8 * 45 / 100 && ones < N * 8 * 55 / 100);
  int counts[256] = {0};
  for (int i = 0; i < N; i++) counts[buf[i]]++;
  /* Expected 16 per value; no value should appear 60+ times. */
  for (int i = 0; i < 256; i++) CHECK(counts[i] < 60);
}

static void large_request(void) {
  size_t n = 1 << 20;
  unsigned char *buf = calloc(1, n);
  CHECK(buf != NULL);
  /* Up to 32 MiB minus one is served in one call when not interrupted. */
  CHECK_EQ(sys_getrandom(buf, n, 0), n);
  int ones = popcount_buf(buf + n - 4096, 4096);
  CHECK(ones > 4096 * 8 * 45 / 100 && ones < 4096 * 8 * 55 / 100);
  free(buf);
}

static void flags(void) {
  unsigned char b[16];
  CHECK_EQ(sys_getrandom(b, sizeof(b), GRND_NONBLOCK), 16);
  /* GRND_RANDOM may return fewer bytes but never none without blocking. */
  long r = sys_getrandom(b, sizeof(b), GRND_RANDOM | GRND_NONBLOCK);
  CHECK(r > 0 && r <= 16);
  CHECK_EQ(sys_getrandom(b, sizeof(b), GRND_INSECURE), 16);
  CHECK_EQ(sys_getrandom(b, 0, 0), 0);
  CHECK_ERR(sys_getrandom(b, sizeof(b), 0x80), EINVAL);
  /* INSECURE and RANDOM are mutually exclusive. */
  CHECK_ERR(sys_getrandom(b, sizeof(b), GRND_INSECURE | GRND_RANDOM), EINVAL);
  CHECK_ERR(sys_getrandom((void *)8, 16, 0), EFAULT);
  /* The libc wrapper is the same call. */
  CHECK_EQ(getrandom(b, sizeof(b), 0), 16);
}

static void dev_urandom(void) {
  int fd = open("/dev/urandom", O_RDONLY);
  CHECK(fd >= 0);
  unsigned char a[64], b[64];
  CHECK_EQ(read(fd, a, sizeof(a)), 64);
  CHECK_EQ(read(fd, b, sizeof(b)), 64);
  CHECK(memcmp(a, b, sizeof(a)) != 0);
  close(fd);
}

int main(void) {
  test_init();
  RUN(fills_and_differs);
  RUN(looks_random);
  RUN(large_request);
  RUN(flags);
  RUN(dev_urandom);
  return 0;
}
