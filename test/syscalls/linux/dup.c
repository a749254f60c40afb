/*
 * dup: dup, dup2, dup3, fcntl(F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD/F_SETFD,
 * F_GETFL/F_SETFL).
 * Checks lowest-fd allocation, that duplicates share the open file
 * description (offset and status flags) but not the per-fd CLOEXEC flag,
 * dup2's silent close of the target, dup2/dup3 on the same fd, and the
 * errors EBADF/EINVAL.
 */
#include "test.h"

#include <fcntl.h>
#include <sys/resource.h>

static char *dir;

static int tmp_fd(void) {
  char p[256];
  snprintf(p, sizeof(p), "%s/f", dir);
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  return fd;
}

static void dup_shares_description(void) {
  int fd = tmp_fd();
  int d = dup(fd);
  CHECK(d >= 0 && d != fd);
  CHECK_EQ(write(fd, "hello", 5), 5);
  /* One offset for both. */
  CHECK_EQ(lseek(d, 0, SEEK_CUR), 5);
  CHECK_EQ(lseek(d, 1, SEEK_SET), 1);
  char c;
  CHECK_EQ(read(fd, &c, 1), 1);
  CHECK_EQ(c, 'e');
  /* Status flags live in the description too. */
  CHECK_SYS(fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK));
  CHECK(fcntl(d, F_GETFL) & O_APPEND);
  CHECK(fcntl(d, F_GETFL) & O_NONBLOCK);
  /* F_SETFL cannot change the access mode. */
  CHECK_SYS(fcntl(fd, F_SETFL, O_RDONLY));
  CHECK_EQ(fcntl(d, F_GETFL) & O_ACCMODE, O_RDWR);
  /* CLOEXEC does not: it is per descriptor, and dup clears it. */
  CHECK_SYS(fcntl(fd, F_SETFD, FD_CLOEXEC));
  CHECK_EQ(fcntl(d, F_GETFD), 0);
  int d2 = dup(fd);
  CHECK_EQ(fcntl(d2, F_GETFD), 0);
  close(d2);
  close(d);
  close(fd);
  CHECK_ERR(dup(fd), EBADF);
}

static void lowest_free(void) {
  int fd = tmp_fd();
  int a = dup(fd), b = dup(fd);
  CHECK_EQ(b, a + 1);
  close(a);
  CHECK_EQ(dup(fd), a);
  close(a);
  close(b);
  close(fd);
}

static void dup2_rules(void) {
  int fd = tmp_fd();
  int other = open("/dev/null", O_RDONLY);
  CHECK(other >= 0);
  /* dup2 onto an open fd closes it first, silently. */
  CHECK_EQ(dup2(fd, other), other);
  CHECK_EQ(write(other, "x", 1), 1);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 1);
  /* Same fd: nothing happens, but the fd must be valid. */
  CHECK_SYS(fcntl(fd, F_SETFD, FD_CLOEXEC));
  CHECK_EQ(dup2(fd, fd), fd);
  CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  close(other);
  CHECK_ERR(dup2(other, other), EBADF);
  CHECK_ERR(dup2(-1, 300), EBADF);
  CHECK_ERR(dup2(fd, -1), EBADF);
  struct rlimit rl;
  CHECK_SYS(getrlimit(RLIMIT_NOFILE, &rl));
  CHECK_ERR(dup2(fd, rl.rlim_cur), EBADF);
  /* A high target is fine below the limit. */
  CHECK_EQ(dup2(fd, 500), 500);
  CHECK_EQ(fcntl(500, F_GETFD), 0);
  close(500);
  close(fd);
}

static void dup3_rules(void) {
  int fd = tmp_fd();
  CHECK_EQ(dup3(fd, 400, O_CLOEXEC), 400);
  CHECK_EQ(fcntl(400, F_GETFD), FD_CLOEXEC);
  CHECK_EQ(dup3(fd, 400, 0), 400);
  CHECK_EQ(fcntl(400, F_GETFD), 0);
  CHECK_ERR(dup3(fd, fd, 0), EINVAL);
  CHECK_ERR(dup3(fd, 401, O_NONBLOCK), EINVAL);
  close(400);
  close(fd);
}

static void fcntl_dupfd(void) {
  int fd = tmp_fd();
  int d = fcntl(fd, F_DUPFD, 300);
  CHECK_EQ(d, 300);
  CHECK_EQ(fcntl(d, F_GETFD), 0);
  /* The minimum is a floor: the next one takes 301. */
  CHECK_EQ(fcntl(fd, F_DUPFD, 300), 301);
  int c = fcntl(fd, F_DUPFD_CLOEXEC, 300);
  CHECK_EQ(c, 302);
  CHECK_EQ(fcntl(c, F_GETFD), FD_CLOEXEC);
  CHECK_ERR(fcntl(fd, F_DUPFD, -1), EINVAL);
  struct rlimit rl;
  CHECK_SYS(getrlimit(RLIMIT_NOFILE, &rl));
  CHECK_ERR(fcntl(fd, F_DUPFD, rl.rlim_cur), EINVAL);
  close(300);
  close(301);
  close(302);
  CHECK_ERR(fcntl(-1, F_GETFD), EBADF);
  close(fd);
}

static void fd_limit(void) {
  struct rlimit old, rl;
  CHECK_SYS(getrlimit(RLIMIT_NOFILE, &old));
  rl = old;
  rl.rlim_cur = 64;
  CHECK_SYS(setrlimit(RLIMIT_NOFILE, &rl));
  int fd = tmp_fd();
  int n = 0;
  /* Fill the table: the first failure is EMFILE. */
  for (;;) {
    int d = dup(fd);
    if (d < 0) {
      CHECK_EQ(errno, EMFILE);
      break;
    }
    CHECK(d < 64);
    n++;
  }
  CHECK(n > 0);
  for (int i = 3; i < 64; i++)
    if (i != fd) close(i);
  close(fd);
  CHECK_SYS(setrlimit(RLIMIT_NOFILE, &old));
}

int main(void) {
  test_init();
  dir = test_tmpdir();
  RUN(dup_shares_description);
  RUN(lowest_free);
  RUN(dup2_rules);
  RUN(dup3_rules);
  RUN(fcntl_dupfd);
  RUN(fd_limit);
  test_rmdir(dir);
  return 0;
}
