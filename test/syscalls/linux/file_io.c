/*
 * file_io: the less common I/O calls on open files.
 * Checks preadv2/pwritev2 (offset -1 means the file offset, RWF_APPEND,
 * RWF_NOWAIT on an empty pipe, unknown flags EOPNOTSUPP), readv/writev
 * limits, sendfile with and without an offset, fallocate, fsync, fdatasync,
 * sync, syncfs, readahead, posix_fadvise, and the generic ioctls FIONREAD,
 * FIONBIO, FIOCLEX/FIONCLEX and FIOASYNC.
 */
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#ifndef RWF_HIPRI
#define RWF_HIPRI 0x01
#define RWF_NOWAIT 0x08
#define RWF_APPEND 0x10
#endif

static char *dir;
static char path[512];

static int fresh(const char *content) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  if (content) CHECK_EQ(write(fd, content, strlen(content)), (long)strlen(content));
  return fd;
}

static void preadv2_offsets(void) {
  int fd = fresh("0123456789");
  char a[4] = {0}, b[3] = {0};
  struct iovec iov[2] = {{a, 3}, {b, 2}};
  CHECK_EQ(lseek(fd, 2, SEEK_SET), 2);
  /* -1: at the file offset, which moves. */
  CHECK_EQ(preadv2(fd, iov, 2, -1, 0), 5);
  CHECK(memcmp(a, "234", 3) == 0 && memcmp(b, "56", 2) == 0);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 7);
  /* An explicit offset leaves it alone. */
  CHECK_EQ(preadv2(fd, iov, 1, 0, RWF_HIPRI), 3);
  CHECK(memcmp(a, "012", 3) == 0);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 7);
  CHECK_ERR(preadv2(fd, iov, 1, -2, 0), EINVAL);
  CHECK_ERR(preadv(fd, iov, 1, -1), EINVAL);
  close(fd);
}

static void pwritev2_flags(void) {
  int fd = fresh("abc");
  struct iovec iov = {"XY", 2};
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
  CHECK_EQ(pwritev2(fd, &iov, 1, -1, 0), 2);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 2);
  /* RWF_APPEND writes at the end whatever the offset says. */
  CHECK_EQ(pwritev2(fd, &iov, 1, 0, RWF_APPEND), 2);
  char buf[16] = {0};
  CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 5);
  CHECK(memcmp(buf, "XYcXY", 5) == 0);
  /* Unknown flags. */
  CHECK_ERR(pwritev2(fd, &iov, 1, 0, 0x10000), EOPNOTSUPP);
  CHECK_ERR(preadv2(fd, &iov, 1, 0, 0x10000), EOPNOTSUPP);
  close(fd);
}

static void nowait_pipe(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  char c;
  struct iovec iov = {&c, 1};
  /* The pipe is blocking, but RWF_NOWAIT makes this one read not wait. */
  CHECK_ERR(preadv2(p[0], &iov, 1, -1, RWF_NOWAIT), EAGAIN);
  CHECK_EQ(write(p[1], "z", 1), 1);
  CHECK_EQ(preadv2(p[0], &iov, 1, -1, RWF_NOWAIT), 1);
  CHECK_EQ(c, 'z');
  /* Pipes have no offset. */
  CHECK_ERR(preadv2(p[0], &iov, 1, 0, 0), ESPIPE);
  CHECK_ERR(pread(p[0], &c, 1, 0), ESPIPE);
  CHECK_ERR(pwrite(p[1], &c, 1, 0), ESPIPE);
  close(p[0]);
  close(p[1]);
}

static void iov_limits(void) {
  int fd = fresh("hello");
  static struct iovec many[1025];
  char c;
  for (int i = 0; i < 1025; i++) {
    many[i].iov_base = &c;
    many[i].iov_len = 1;
  }
  CHECK_ERR(readv(fd, many, 1025), EINVAL);
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
  CHECK_EQ(readv(fd, many, 1024), 5);
  CHECK_EQ(readv(fd, many, 0), 0);
  struct iovec neg = {&c, (size_t)-1};
  CHECK_ERR(readv(fd, &neg, 1), EINVAL);
  /* A fault after some bytes reports the bytes. */
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
  char a[2];
  struct iovec part[2] = {{a, 2}, {(void *)8, 3}};
  CHECK_EQ(readv(fd, part, 2), 2);
  close(fd);
}

static void sendfile_calls(void) {
  int in = fresh("sendfile data!");
  char out_path[600];
  snprintf(out_path, sizeof(out_path), "%s/out", dir);
  int out = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(out >= 0);
  off_t off = 4;
  CHECK_EQ(sendfile(out, in, &off, 5), 5);
  CHECK_EQ(off, 9);
  /* With an offset the input's file offset does not move. */
  CHECK_EQ(lseek(in, 0, SEEK_CUR), 14);
  CHECK_EQ(lseek(in, 0, SEEK_SET), 0);
  CHECK_EQ(sendfile(out, in, NULL, 100), 14);
  CHECK_EQ(lseek(in, 0, SEEK_CUR), 14);
  CHECK_EQ(sendfile(out, in, NULL, 100), 0);
  char buf[32] = {0};
  CHECK_EQ(pread(out, buf, sizeof(buf), 0), 19);
  CHECK(memcmp(buf, "file sendfile data!", 19) == 0);
  /* Into a pipe. */
  int p[2];
  CHECK_SYS(pipe(p));
  off = 0;
  CHECK_EQ(sendfile(p[1], in, &off, 4), 4);
  CHECK_EQ(read(p[0], buf, sizeof(buf)), 4);
  CHECK(memcmp(buf, "send", 4) == 0);
  /* Errors: an O_APPEND output, a write-only input, an offset on a pipe. */
  int app = open(out_path, O_WRONLY | O_APPEND);
  CHECK_ERR(sendfile(app, in, NULL, 1), EINVAL);
  close(app);
  CHECK_ERR(sendfile(out, p[1], NULL, 1), EBADF);
  CHECK_ERR(sendfile(in, p[0], &off, 1), ESPIPE);
  close(p[0]);
  close(p[1]);
  close(in);
  close(out);
}

static void fallocate_calls(void) {
  int fd = fresh(NULL);
  CHECK_SYS(fallocate(fd, 0, 0, 10000));
  struct stat st;
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_size, 10000);
  CHECK_SYS(fallocate(fd, FALLOC_FL_KEEP_SIZE, 10000, 5000));
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_size, 10000);
  CHECK_ERR(fallocate(fd, 0, -1, 10), EINVAL);
  CHECK_ERR(fallocate(fd, 0, 0, 0), EINVAL);
  close(fd);
  fd = open(path, O_RDONLY);
  CHECK_ERR(fallocate(fd, 0, 0, 10), EBADF);
  close(fd);
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_ERR(fallocate(p[1], 0, 0, 10), ESPIPE);
  close(p[0]);
  close(p[1]);
}

static void sync_and_advice(void) {
  int fd = fresh("x");
  CHECK_SYS(fsync(fd));
  CHECK_SYS(fdatasync(fd));
  CHECK_SYS(syncfs(fd));
  sync();
  CHECK_SYS(readahead(fd, 0, 4096));
  CHECK_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL), 0);
  CHECK_EQ(posix_fadvise(fd, 0, 0, 99), EINVAL);
  CHECK_EQ(posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL), EINVAL);
  close(fd);
  CHECK_ERR(fsync(fd), EBADF);
  CHECK_ERR(syncfs(fd), EBADF);
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_ERR(fsync(p[0]), EINVAL);
  CHECK_EQ(posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL), ESPIPE);
  CHECK_ERR(readahead(p[0], 0, 10), EINVAL);
  close(p[0]);
  close(p[1]);
  fd = open(path, O_WRONLY);
  CHECK_ERR(readahead(fd, 0, 10), EBADF);
  close(fd);
}

static void ioctls(void) {
  int fd = fresh("0123456789");
  int n = -1;
  CHECK_EQ(lseek(fd, 3, SEEK_SET), 3);
  CHECK_SYS(ioctl(fd, FIONREAD, &n));
  CHECK_EQ(n, 7);
  CHECK_SYS(ioctl(fd, FIOCLEX));
  CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  CHECK_SYS(ioctl(fd, FIONCLEX));
  CHECK_EQ(fcntl(fd, F_GETFD), 0);
  int on = 1;
  CHECK_SYS(ioctl(fd, FIONBIO, &on));
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
  on = 0;
  CHECK_SYS(ioctl(fd, FIONBIO, &on));
  CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
  CHECK_ERR(ioctl(fd, FIONBIO, (void *)8), EFAULT);
  /* Regular files have no terminal or asynchronous-I/O requests. */
  on = 1;
  CHECK_ERR(ioctl(fd, FIOASYNC, &on), ENOTTY);
  CHECK_ERR(ioctl(fd, TIOCGPGRP, &n), ENOTTY);
  close(fd);
  CHECK_ERR(ioctl(fd, FIONREAD, &n), EBADF);
  fd = open(path, O_PATH);
  CHECK_ERR(ioctl(fd, FIOCLEX), EBADF);
  close(fd);

  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_EQ(write(p[1], "abc", 3), 3);
  CHECK_SYS(ioctl(p[0], FIONREAD, &n));
  CHECK_EQ(n, 3);
  on = 1;
  CHECK_SYS(ioctl(p[0], FIOASYNC, &on));
  CHECK(fcntl(p[0], F_GETFL) & O_ASYNC);
  on = 0;
  CHECK_SYS(ioctl(p[0], FIOASYNC, &on));
  CHECK(!(fcntl(p[0], F_GETFL) & O_ASYNC));
  close(p[0]);
  close(p[1]);
}

int main(void) {
  test_init();
  dir = test_tmpdir();
  snprintf(path, sizeof(path), "%s/f", dir);
  RUN(preadv2_offsets);
  RUN(pwritev2_flags);
  RUN(nowait_pipe);
  RUN(iov_limits);
  RUN(sendfile_calls);
  RUN(fallocate_calls);
  RUN(sync_and_advice);
  RUN(ioctls);
  test_rmdir(dir);
  return 0;
}
