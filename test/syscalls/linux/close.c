/*
 * close: close and close_range.
 * Checks that a closed fd is gone (EBADF), that closing one of several
 * references leaves the open file alive, that closing the last writer of a
 * pipe delivers EOF, and close_range's range and CLOEXEC modes.
 */
#include "test.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>

static void basic(void) {
  int fd = open("/dev/null", O_RDONLY);
  CHECK(fd >= 0);
  CHECK_SYS(close(fd));
  CHECK_ERR(close(fd), EBADF);
  CHECK_ERR(fcntl(fd, F_GETFD), EBADF);
  CHECK_ERR(close(-1), EBADF);
  CHECK_ERR(close(1 << 20), EBADF);
}

static void other_refs_survive(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  int w2 = dup(p[1]);
  CHECK(w2 >= 0);
  CHECK_SYS(close(p[1]));
  /* The pipe is still writable through the duplicate. */
  CHECK_EQ(write(w2, "x", 1), 1);
  char c;
  CHECK_EQ(read(p[0], &c, 1), 1);
  CHECK_SYS(close(w2));
  /* The last writer is gone: EOF. */
  CHECK_EQ(read(p[0], &c, 1), 0);
  close(p[0]);
}

static void range(void) {
  int fds[5];
  /* Push the fds high so the range cannot touch stdio. */
  for (int i = 0; i < 5; i++) {
    fds[i] = fcntl(0, F_DUPFD, 100 + i);
    CHECK_EQ(fds[i], 100 + i);
  }
  CHECK_SYS(syscall(SYS_close_range, 101, 103, 0));
  CHECK(fcntl(100, F_GETFD) >= 0);
  CHECK_ERR(fcntl(101, F_GETFD), EBADF);
  CHECK_ERR(fcntl(103, F_GETFD), EBADF);
  CHECK(fcntl(104, F_GETFD) >= 0);
  CHECK_ERR(syscall(SYS_close_range, 5, 4, 0), EINVAL);
  /* ~0U is "to the end of the table". */
  CHECK_SYS(syscall(SYS_close_range, 100, ~0U, 0));
  CHECK_ERR(fcntl(100, F_GETFD), EBADF);
  CHECK_ERR(fcntl(104, F_GETFD), EBADF);
}

static void range_cloexec(void) {
  int fds[2];
  fds[0] = fcntl(0, F_DUPFD, 200);
  fds[1] = fcntl(0, F_DUPFD, 201);
  CHECK_EQ(fds[0], 200);
  CHECK_EQ(fds[1], 201);
  CHECK_SYS(syscall(SYS_close_range, 200, 201, CLOSE_RANGE_CLOEXEC));
  CHECK_EQ(fcntl(200, F_GETFD), FD_CLOEXEC);
  CHECK_EQ(fcntl(201, F_GETFD), FD_CLOEXEC);
  CHECK_ERR(syscall(SYS_close_range, 200, 201, 0x80000000u), EINVAL);
  close(200);
  close(201);
}

int main(void) {
  test_init();
  RUN(basic);
  RUN(other_refs_survive);
  RUN(range);
  RUN(range_cloexec);
  return 0;
}
