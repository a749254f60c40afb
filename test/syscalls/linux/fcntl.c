/*
 * fcntl: fcntl(2) commands other than locking, plus the lock queries that
 * hold when no lock is taken.
 * Checks F_GETFL/F_SETFL (only O_APPEND, O_NONBLOCK, O_ASYNC, O_DIRECT and
 * O_NOATIME change; the access mode stays), F_GETFD/F_SETFD, F_DUPFD and
 * F_DUPFD_CLOEXEC with a minimum, F_GETPIPE_SZ/F_SETPIPE_SZ, F_GETLK on an
 * unlocked file and unlocking, what O_PATH descriptors accept, and EINVAL for
 * unknown commands.
 */
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

static char *dir;
static char path[512];

static void status_flags(void) {
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  CHECK(fd >= 0);
  int fl = fcntl(fd, F_GETFL);
  CHECK(fl >= 0);
  CHECK_EQ(fl & O_ACCMODE, O_RDWR);
  CHECK_EQ(fl & (O_APPEND | O_NONBLOCK), 0);
  /* The access mode and creation flags cannot be changed. */
  CHECK_SYS(fcntl(fd, F_SETFL, O_RDONLY | O_APPEND | O_NONBLOCK | O_TRUNC | O_CREAT));
  fl = fcntl(fd, F_GETFL);
  CHECK_EQ(fl & O_ACCMODE, O_RDWR);
  CHECK_EQ(fl & (O_APPEND | O_NONBLOCK), O_APPEND | O_NONBLOCK);
  CHECK_EQ(fl & (O_TRUNC | O_CREAT), 0);
  /* O_APPEND takes effect. */
  CHECK_EQ(write(fd, "ab", 2), 2);
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
  CHECK_EQ(write(fd, "cd", 2), 2);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 4);
  CHECK_SYS(fcntl(fd, F_SETFL, 0));
  CHECK_EQ(fcntl(fd, F_GETFL) & (O_APPEND | O_NONBLOCK), 0);
  /* Status flags belong to the open file, so dups share them. */
  int fd2 = dup(fd);
  CHECK_SYS(fcntl(fd2, F_SETFL, O_NONBLOCK));
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
  close(fd2);
  close(fd);
}

static void fd_flags(void) {
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  CHECK_EQ(fcntl(fd, F_GETFD), 0);
  CHECK_SYS(fcntl(fd, F_SETFD, FD_CLOEXEC));
  CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  /* Descriptor flags are per descriptor. */
  int fd2 = dup(fd);
  CHECK_EQ(fcntl(fd2, F_GETFD), 0);
  CHECK_SYS(fcntl(fd, F_SETFD, 0));
  CHECK_EQ(fcntl(fd, F_GETFD), 0);
  close(fd2);
  close(fd);
  CHECK_ERR(fcntl(fd, F_GETFD), EBADF);
}

static void dupfd(void) {
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  int d = fcntl(fd, F_DUPFD, 100);
  CHECK(d >= 100);
  CHECK_EQ(fcntl(d, F_GETFD), 0);
  int e = fcntl(fd, F_DUPFD_CLOEXEC, 100);
  CHECK(e > d);
  CHECK_EQ(fcntl(e, F_GETFD), FD_CLOEXEC);
  /* The lowest free one at or above the minimum. */
  close(d);
  CHECK_EQ(fcntl(fd, F_DUPFD, 100), d);
  CHECK_ERR(fcntl(fd, F_DUPFD, -1), EINVAL);
  CHECK_ERR(fcntl(fd, F_DUPFD, INT_MAX), EINVAL);
  close(d);
  close(e);
  close(fd);
}

static void pipe_size(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_EQ(fcntl(p[0], F_GETPIPE_SZ), 65536);
  /* Rounded up to a power-of-two number of pages. */
  CHECK_EQ(fcntl(p[1], F_SETPIPE_SZ, 5000), 8192);
  CHECK_EQ(fcntl(p[0], F_GETPIPE_SZ), 8192);
  CHECK_EQ(fcntl(p[1], F_SETPIPE_SZ, 1), 4096);
  int fd = open(path, O_RDONLY);
  CHECK_ERR(fcntl(fd, F_GETPIPE_SZ), EBADF);
  CHECK_ERR(fcntl(fd, F_SETPIPE_SZ, 4096), EBADF);
  close(fd);
  close(p[0]);
  close(p[1]);
}

static void unlocked_queries(void) {
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0);
  struct flock fl;
  memset(&fl, 0, sizeof(fl));
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  CHECK_SYS(fcntl(fd, F_GETLK, &fl));
  CHECK_EQ(fl.l_type, F_UNLCK);
  /* Unlocking what is not locked succeeds. */
  fl.l_type = F_UNLCK;
  CHECK_SYS(fcntl(fd, F_SETLK, &fl));
  /* Bad lock types and whences. */
  fl.l_type = 7;
  CHECK_ERR(fcntl(fd, F_GETLK, &fl), EINVAL);
  fl.l_type = F_RDLCK;
  fl.l_whence = 9;
  CHECK_ERR(fcntl(fd, F_SETLK, &fl), EINVAL);
  CHECK_ERR(fcntl(fd, F_GETLK, (void *)8), EFAULT);
  close(fd);
  /* A write lock needs a writable descriptor. */
  fd = open(path, O_RDONLY);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  CHECK_ERR(fcntl(fd, F_SETLK, &fl), EBADF);
  CHECK_EQ(fcntl(fd, F_GETLEASE), F_UNLCK);
  close(fd);
}

static void opath(void) {
  int fd = open(path, O_PATH);
  CHECK(fd >= 0);
  CHECK_EQ(fcntl(fd, F_GETFL) & O_PATH, O_PATH);
  CHECK_SYS(fcntl(fd, F_SETFD, FD_CLOEXEC));
  CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  int d = fcntl(fd, F_DUPFD, 0);
  CHECK(d >= 0);
  close(d);
  CHECK_ERR(fcntl(fd, F_SETFL, O_NONBLOCK), EBADF);
  CHECK_ERR(fcntl(fd, F_GETPIPE_SZ), EBADF);
  close(fd);
}

static void unknown_cmd(void) {
  int fd = open(path, O_RDONLY);
  CHECK_ERR(fcntl(fd, 9999), EINVAL);
  close(fd);
}

int main(void) {
  test_init();
  dir = test_tmpdir();
  snprintf(path, sizeof(path), "%s/f", dir);
  RUN(status_flags);
  RUN(fd_flags);
  RUN(dupfd);
  RUN(pipe_size);
  RUN(unlocked_queries);
  RUN(opath);
  RUN(unknown_cmd);
  test_rmdir(dir);
  return 0;
}
