/*
 * openat2: openat2(2)'s struct open_how checks and RESOLVE_* restrictions.
 * Checks the size rules (EINVAL below version 0, E2BIG above a page or with
 * non-zero unknown bytes), strict flag and mode validation, O_PATH
 * combinations, RESOLVE_BENEATH and RESOLVE_IN_ROOT confinement, symlink
 * refusal, and RESOLVE_CACHED with O_CREAT.
 */
#include "test.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

struct how {
  uint64_t flags, mode, resolve;
};

#define R_NO_XDEV 0x01
#define R_NO_MAGICLINKS 0x02
#define R_NO_SYMLINKS 0x04
#define R_BENEATH 0x08
#define R_IN_ROOT 0x10
#define R_CACHED 0x20

static char *dir;
static int dfd;

static long o2(int d, const char *p, uint64_t flags, uint64_t mode,
               uint64_t resolve) {
  struct how h = {flags, mode, resolve};
  return syscall(SYS_openat2, d, p, &h, sizeof(h));
}

static void setup(void) {
  dir = test_tmpdir();
  dfd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0);
  CHECK_SYS(mkdirat(dfd, "sub", 0755));
  int fd = openat(dfd, "sub/f", O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0);
  close(fd);
  CHECK_SYS(symlinkat("sub/f", dfd, "rel"));
  CHECK_SYS(symlinkat("/sub/f", dfd, "abs"));
  CHECK_SYS(symlinkat("../..", dfd, "up"));
}

static void basic_open(void) {
  long fd = o2(dfd, "sub/f", O_RDONLY, 0, 0);
  CHECK(fd >= 0);
  close(fd);
  fd = o2(dfd, "new", O_CREAT | O_RDWR | O_CLOEXEC, 0600, 0);
  CHECK(fd >= 0);
  CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  struct stat st;
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_mode & 07777, 0600 & ~umask(022));
  umask(022);
  close(fd);
}

static void size_rules(void) {
  char big[8192];
  memset(big, 0, sizeof(big));
  struct how *h = (struct how *)big;
  h->flags = O_RDONLY;
  CHECK_ERR(syscall(SYS_openat2, dfd, "sub/f", h, 16), EINVAL);
  CHECK_ERR(syscall(SYS_openat2, dfd, "sub/f", h, 0), EINVAL);
  CHECK_ERR(syscall(SYS_openat2, dfd, "sub/f", h, 4097), E2BIG);
  /* A longer struct is fine while its tail is zero. */
  long fd = syscall(SYS_openat2, dfd, "sub/f", h, 64);
  CHECK(fd >= 0);
  close(fd);
  big[40] = 1;
  CHECK_ERR(syscall(SYS_openat2, dfd, "sub/f", h, 64), E2BIG);
  CHECK_ERR(syscall(SYS_openat2, dfd, "sub/f", (void *)8, 24), EFAULT);
}

static void strict_flags(void) {
  /* Unknown open flags and upper bits. */
  CHECK_ERR(o2(dfd, "sub/f", 1ULL << 40, 0, 0), EINVAL);
  CHECK_ERR(o2(dfd, "sub/f", 040000000000ULL, 0, 0), EINVAL);
  /* A mode without O_CREAT, or with bits beyond 07777. */
  CHECK_ERR(o2(dfd, "sub/f", O_RDONLY, 0644, 0), EINVAL);
  CHECK_ERR(o2(dfd, "x", O_CREAT | O_WRONLY, 010644, 0), EINVAL);
  /* O_PATH takes only O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC. */
  CHECK_ERR(o2(dfd, "sub/f", O_PATH | O_RDWR, 0, 0), EINVAL);
  long fd = o2(dfd, "sub", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0);
  CHECK(fd >= 0);
  close(fd);
  /* Unknown resolve bits, and BENEATH with IN_ROOT. */
  CHECK_ERR(o2(dfd, "sub/f", O_RDONLY, 0, 0x400), EINVAL);
  CHECK_ERR(o2(dfd, "sub/f", O_RDONLY, 0, R_BENEATH | R_IN_ROOT), EINVAL);
  CHECK_ERR(o2(dfd, "d", O_CREAT | O_DIRECTORY, 0755, 0), EINVAL);
}

static void beneath(void) {
  long fd = o2(dfd, "sub/f", O_RDONLY, 0, R_BENEATH);
  CHECK(fd >= 0);
  close(fd);
  fd = o2(dfd, "sub/../sub/f", O_RDONLY, 0, R_BENEATH);
  CHECK(fd >= 0);
  close(fd);
  fd = o2(dfd, "rel", O_RDONLY, 0, R_BENEATH);
  CHECK(fd >= 0);
  close(fd);
  CHECK_ERR(o2(dfd, "..", O_RDONLY, 0, R_BENEATH), EXDEV);
  CHECK_ERR(o2(dfd, "sub/../../x", O_RDONLY, 0, R_BENEATH), EXDEV);
  CHECK_ERR(o2(dfd, "/tmp", O_RDONLY, 0, R_BENEATH), EXDEV);
  CHECK_ERR(o2(dfd, "abs", O_RDONLY, 0, R_BENEATH), EXDEV);
  CHECK_ERR(o2(dfd, "up", O_RDONLY, 0, R_BENEATH), EXDEV);
}

static void in_root(void) {
  /* Absolute paths and ".." stay inside dirfd. */
  long fd = o2(dfd, "/sub/f", O_RDONLY, 0, R_IN_ROOT);
  CHECK(fd >= 0);
  close(fd);
  fd = o2(dfd, "abs", O_RDONLY, 0, R_IN_ROOT);
  CHECK(fd >= 0);
  close(fd);
  fd = o2(dfd, "../../../sub/f", O_RDONLY, 0, R_IN_ROOT);
  CHECK(fd >= 0);
  close(fd);
  /* "up" climbs to the root, which is dirfd itself. */
  fd = o2(dfd, "up", O_RDONLY | O_DIRECTORY, 0, R_IN_ROOT);
  CHECK(fd >= 0);
  struct stat a, b;
  CHECK_SYS(fstat(fd, &a));
  CHECK_SYS(fstat(dfd, &b));
  CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
  close(fd);
}

static void no_symlinks(void) {
  CHECK_ERR(o2(dfd, "rel", O_RDONLY, 0, R_NO_SYMLINKS), ELOOP);
  /* Also in the middle of a path. */
  CHECK_SYS(symlinkat("sub", dfd, "subl"));
  CHECK_ERR(o2(dfd, "subl/f", O_RDONLY, 0, R_NO_SYMLINKS), ELOOP);
  long fd = o2(dfd, "subl/f", O_RDONLY, 0, 0);
  CHECK(fd >= 0);
  close(fd);
  /* O_PATH|O_NOFOLLOW opens the link itself, which is allowed. */
  fd = o2(dfd, "rel", O_PATH | O_NOFOLLOW, 0, R_NO_SYMLINKS);
  CHECK(fd >= 0);
  close(fd);
  /* /proc/self/fd links are magic links. */
  char p[64];
  snprintf(p, sizeof(p), "/proc/self/fd/%d", dfd);
  CHECK_ERR(o2(AT_FDCWD, p, O_RDONLY, 0, R_NO_MAGICLINKS), ELOOP);
}

static void cached(void) {
  CHECK_ERR(o2(dfd, "c", O_CREAT | O_WRONLY, 0644, R_CACHED), EAGAIN);
  CHECK_ERR(o2(dfd, "sub/f", O_WRONLY | O_TRUNC, 0, R_CACHED), EAGAIN);
}

int main(void) {
  test_init();
  umask(022);
  setup();
  RUN(basic_open);
  RUN(size_rules);
  RUN(strict_flags);
  RUN(beneath);
  RUN(in_root);
  RUN(no_symlinks);
  RUN(cached);
  close(dfd);
  test_rmdir(dir);
  return 0;
}
