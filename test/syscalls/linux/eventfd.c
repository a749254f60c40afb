/*
 * eventfd: eventfd and eventfd2 flags, 8-byte reads and writes, the counter
 * and semaphore modes, the overflow limit (0xfffffffffffffffe) and blocking
 * on it, EAGAIN, poll readiness, and what fstat and /proc/self/fd show.
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static const uint64_t max_count = 0xfffffffffffffffeULL;

static void create_flags(void) {
  int e = eventfd(0, 0);
  CHECK(e >= 0);
  CHECK_EQ(fcntl(e, F_GETFD), 0);
  CHECK_EQ(fcntl(e, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR);
  close(e);
  e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  CHECK_EQ(fcntl(e, F_GETFD), FD_CLOEXEC);
  CHECK_EQ(fcntl(e, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);
  close(e);
  CHECK_ERR(eventfd(0, 0x4), EINVAL);
  /* eventfd(2), the old call, has no flags argument. */
  e = syscall(SYS_eventfd, 5);
  CHECK(e >= 0);
  uint64_t v;
  CHECK_EQ(read(e, &v, 8), 8);
  CHECK_EQ(v, 5);
  close(e);
}

static void anon_inode(void) {
  int e = eventfd(0, 0);
  struct stat st;
  CHECK_SYS(fstat(e, &st));
  CHECK_EQ(st.st_mode, 0600);
  CHECK_EQ(st.st_nlink, 1);
  char path[64], link[64] = {0};
  snprintf(path, sizeof(path), "/proc/self/fd/%d", e);
  CHECK(readlink(path, link, sizeof(link) - 1) > 0);
  CHECK_EQ(strcmp(link, "anon_inode:[eventfd]"), 0);
  uint64_t v;
  CHECK_ERR(pread(e, &v, 8, 0), ESPIPE);
  close(e);
}

static void counter(void) {
  int e = eventfd(10, EFD_NONBLOCK);
  uint64_t v = 5;
  CHECK_EQ(write(e, &v, 8), 8);
  /* A larger buffer still moves exactly 8 bytes. */
  uint64_t big[2] = {0, 0x55};
  CHECK_EQ(read(e, big, sizeof(big)), 8);
  CHECK_EQ(big[0], 15);
  CHECK_EQ(big[1], 0x55);
  CHECK_ERR(read(e, &v, 8), EAGAIN);
  CHECK_ERR(read(e, &v, 7), EINVAL);
  CHECK_ERR(write(e, &v, 7), EINVAL);
  v = UINT64_MAX;
  CHECK_ERR(write(e, &v, 8), EINVAL);
  /* Writing 0 is allowed and changes nothing. */
  v = 0;
  CHECK_EQ(write(e, &v, 8), 8);
  CHECK_ERR(read(e, &v, 8), EAGAIN);
  close(e);
}

static void semaphore(void) {
  int e = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
  uint64_t v;
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(read(e, &v, 8), 8);
    CHECK_EQ(v, 1);
  }
  CHECK_ERR(read(e, &v, 8), EAGAIN);
  close(e);
}

static void overflow(void) {
  int e = eventfd(0, EFD_NONBLOCK);
  uint64_t v = max_count;
  CHECK_EQ(write(e, &v, 8), 8);
  struct pollfd p = {.fd = e, .events = POLLIN | POLLOUT};
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLIN);
  v = 1;
  CHECK_ERR(write(e, &v, 8), EAGAIN);
  CHECK_EQ(read(e, &v, 8), 8);
  CHECK(v == max_count);
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLOUT);
  /* max_count - 1 leaves room for exactly one more. */
  v = max_count - 1;
  CHECK_EQ(write(e, &v, 8), 8);
  v = 1;
  CHECK_EQ(write(e, &v, 8), 8);
  CHECK_ERR(write(e, &v, 8), EAGAIN);
  close(e);
}

static void *read_later(void *arg) {
  usleep(20 * 1000);
  uint64_t v;
  CHECK_EQ(read(*(int *)arg, &v, 8), 8);
  return NULL;
}

static void *write_later(void *arg) {
  usleep(20 * 1000);
  uint64_t v = 7;
  CHECK_EQ(write(*(int *)arg, &v, 8), 8);
  return NULL;
}

static void blocking(void) {
  int e = eventfd(0, 0);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, write_later, &e), 0);
  uint64_t v;
  CHECK_EQ(read(e, &v, 8), 8);
  CHECK_EQ(v, 7);
  pthread_join(th, NULL);
  /* A full counter makes a writer wait for a reader. */
  v = max_count;
  CHECK_EQ(write(e, &v, 8), 8);
  CHECK_EQ(pthread_create(&th, NULL, read_later, &e), 0);
  v = 2;
  CHECK_EQ(write(e, &v, 8), 8);
  pthread_join(th, NULL);
  CHECK_EQ(read(e, &v, 8), 8);
  CHECK_EQ(v, 2);
  close(e);
}

int main(void) {
  test_init();
  RUN(create_flags);
  RUN(anon_inode);
  RUN(counter);
  RUN(semaphore);
  RUN(overflow);
  RUN(blocking);
  return 0;
}
