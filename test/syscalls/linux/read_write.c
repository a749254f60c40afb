/*
 * read_write: read, write, pread64, pwrite64, readv, writev.
 * Checks data round-trips, file offset rules (pread/pwrite leave it alone,
 * O_APPEND always writes at the end), EOF, and the errors for bad fds,
 * wrong access modes and bad user buffers.
 */
#include "test.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>

static char *dir;

static int tmpfile_rw(const char *name, int flags) {
  char p[256];
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | flags, 0600);
  CHECK(fd >= 0);
  return fd;
}

static void basic_roundtrip(void) {
  int fd = tmpfile_rw("basic", 0);
  CHECK_EQ(write(fd, "hello, world", 12), 12);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 12);
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
  char buf[32] = {0};
  CHECK_EQ(read(fd, buf, sizeof(buf)), 12);
  CHECK(memcmp(buf, "hello, world", 12) == 0);
  /* At EOF read returns 0, not an error. */
  CHECK_EQ(read(fd, buf, sizeof(buf)), 0);
  /* Zero-length I/O succeeds and moves nothing. */
  CHECK_EQ(read(fd, buf, 0), 0);
  CHECK_EQ(write(fd, buf, 0), 0);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 12);
  close(fd);
}

static void short_read(void) {
  int fd = tmpfile_rw("short", 0);
  CHECK_EQ(write(fd, "abcdef", 6), 6);
  CHECK_EQ(lseek(fd, 4, SEEK_SET), 4);
  char buf[16];
  CHECK_EQ(read(fd, buf, sizeof(buf)), 2);
  CHECK(memcmp(buf, "ef", 2) == 0);
  close(fd);
}

static void pread_pwrite(void) {
  int fd = tmpfile_rw("pio", 0);
  CHECK_EQ(write(fd, "0123456789", 10), 10);
  CHECK_EQ(lseek(fd, 3, SEEK_SET), 3);
  char buf[8] = {0};
  CHECK_EQ(pread(fd, buf, 4, 5), 4);
  CHECK(memcmp(buf, "5678", 4) == 0);
  CHECK_EQ(pwrite(fd, "XY", 2, 1), 2);
  /* Neither call may move the file offset. */
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 3);
  CHECK_EQ(pread(fd, buf, 3, 0), 3);
  CHECK(memcmp(buf, "0XY", 3) == 0);
  /* pread past EOF is a 0-byte read. */
  CHECK_EQ(pread(fd, buf, 4, 100), 0);
  CHECK_ERR(pread(fd, buf, 4, -1), EINVAL);
  /* pwrite past EOF extends the file with a zero-filled gap. */
  CHECK_EQ(pwrite(fd, "Z", 1, 20), 1);
  CHECK_EQ(lseek(fd, 0, SEEK_END), 21);
  CHECK_EQ(pread(fd, buf, 2, 10), 2);
  CHECK(buf[0] == 0 && buf[1] == 0);
  close(fd);
}

static void vectored(void) {
  int fd = tmpfile_rw("vec", 0);
  struct iovec w[3] = {
      {"abc", 3}, {NULL, 0}, {"defgh", 5}};
  CHECK_EQ(writev(fd, w, 3), 8);
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
  char a[2], b[4], c[8];
  struct iovec r[3] = {{a, 2}, {b, 4}, {c, 8}};
  CHECK_EQ(readv(fd, r, 3), 8);
  CHECK(memcmp(a, "ab", 2) == 0);
  CHECK(memcmp(b, "cdef", 4) == 0);
  CHECK(memcmp(c, "gh", 2) == 0);
  CHECK_EQ(preadv(fd, r, 1, 6), 2);
  CHECK(memcmp(a, "gh", 2) == 0);
  /* Raw syscall: glibc's prototype rejects a negative count at compile time. */
  CHECK_ERR(syscall(SYS_readv, fd, r, -1), EINVAL);
  close(fd);
}

static void append_mode(void) {
  int fd = tmpfile_rw("append", O_APPEND);
  CHECK_EQ(write(fd, "aaaa", 4), 4);
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
  CHECK_EQ(write(fd, "bb", 2), 2);
  /* O_APPEND moves the offset to the end before every write. */
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 6);
  char buf[8] = {0};
  CHECK_EQ(pread(fd, buf, 8, 0), 6);
  CHECK(memcmp(buf, "aaaabb", 6) == 0);
  close(fd);
}

static void access_modes(void) {
  char p[256];
  snprintf(p, sizeof(p), "%s/modes", dir);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  char buf[4];
  CHECK_ERR(read(fd, buf, 1), EBADF);
  CHECK_EQ(write(fd, "x", 1), 1);
  close(fd);
  fd = open(p, O_RDONLY);
  CHECK(fd >= 0);
  CHECK_ERR(write(fd, "x", 1), EBADF);
  CHECK_EQ(read(fd, buf, 4), 1);
  close(fd);
  CHECK_ERR(read(fd, buf, 1), EBADF);
  CHECK_ERR(write(-1, "x", 1), EBADF);
}

static void bad_buffers(void) {
  int fd = tmpfile_rw("fault", 0);
  CHECK_EQ(write(fd, "data", 4), 4);
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
  /* A page we own but cannot touch is a reliable bad address. */
  void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  CHECK_ERR(read(fd, p, 4), EFAULT);
  CHECK_ERR(write(fd, p, 4), EFAULT);
  munmap(p, 4096);
  close(fd);
}

int main(void) {
  test_init();
  dir = test_tmpdir();
  RUN(basic_roundtrip);
  RUN(short_read);
  RUN(pread_pwrite);
  RUN(vectored);
  RUN(append_mode);
  RUN(access_modes);
  RUN(bad_buffers);
  test_rmdir(dir);
  return 0;
}
