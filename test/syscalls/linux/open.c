/*
 * open: open, openat, creat and their flags.
 * Checks O_CREAT/O_EXCL/O_TRUNC, lowest-free-fd allocation, umask, directory
 * and symlink flags (O_DIRECTORY, O_NOFOLLOW, O_PATH), dirfd-relative paths,
 * and the errors ENOENT, EEXIST, EISDIR, ENOTDIR, ELOOP, ENAMETOOLONG.
 */
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

static char *dir;

static char *path(const char *name) {
  static char p[4][512];
  static int i;
  i = (i + 1) % 4;
  snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
  return p[i];
}

static void create_excl(void) {
  int fd = open(path("f"), O_RDWR | O_CREAT | O_EXCL, 0644);
  CHECK(fd >= 0);
  CHECK_ERR(open(path("f"), O_RDWR | O_CREAT | O_EXCL, 0644), EEXIST);
  /* O_CREAT without O_EXCL opens the existing file. */
  int fd2 = open(path("f"), O_RDWR | O_CREAT, 0644);
  CHECK(fd2 >= 0);
  close(fd2);
  close(fd);
  CHECK_ERR(open(path("missing"), O_RDONLY), ENOENT);
  CHECK_ERR(open(path("nodir/f"), O_RDWR | O_CREAT, 0644), ENOENT);
}

static void trunc_flag(void) {
  int fd = open(path("t"), O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, "12345", 5), 5);
  close(fd);
  fd = open(path("t"), O_RDWR | O_TRUNC);
  CHECK(fd >= 0);
  struct stat st;
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_size, 0);
  close(fd);
}

static void lowest_fd(void) {
  int a = open(path("f"), O_RDONLY);
  int b = open(path("f"), O_RDONLY);
  int c = open(path("f"), O_RDONLY);
  CHECK(a >= 0 && b == a + 1 && c == b + 1);
  close(b);
  /* POSIX requires the lowest unused descriptor. */
  CHECK_EQ(open(path("f"), O_RDONLY), b);
  close(a);
  close(b);
  close(c);
}

static void umask_mode(void) {
  mode_t old = umask(027);
  int fd = open(path("m"), O_RDWR | O_CREAT | O_EXCL, 0777);
  CHECK(fd >= 0);
  struct stat st;
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_mode & 07777, 0750);
  close(fd);
  fd = creat(path("m2"), 0666);
  CHECK(fd >= 0);
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_mode & 07777, 0640);
  /* creat is O_WRONLY. */
  char c;
  CHECK_ERR(read(fd, &c, 1), EBADF);
  close(fd);
  umask(old);
}

static void dir_flags(void) {
  CHECK_SYS(mkdir(path("d"), 0755));
  int fd = open(path("d"), O_RDONLY | O_DIRECTORY);
  CHECK(fd >= 0);
  close(fd);
  CHECK_ERR(open(path("d"), O_WRONLY), EISDIR);
  CHECK_ERR(open(path("d"), O_RDWR), EISDIR);
  CHECK_ERR(open(path("f"), O_RDONLY | O_DIRECTORY), ENOTDIR);
  CHECK_ERR(open(path("f/x"), O_RDONLY), ENOTDIR);
}

static void symlink_flags(void) {
  CHECK_SYS(symlink("f", path("lnk")));
  int fd = open(path("lnk"), O_RDONLY);
  CHECK(fd >= 0);
  close(fd);
  CHECK_ERR(open(path("lnk"), O_RDONLY | O_NOFOLLOW), ELOOP);
  CHECK_SYS(symlink("loop", path("loop")));
  CHECK_ERR(open(path("loop"), O_RDONLY), ELOOP);
  /* O_PATH|O_NOFOLLOW opens the link itself; I/O on it is refused. */
  fd = open(path("lnk"), O_PATH | O_NOFOLLOW);
  CHECK(fd >= 0);
  char c;
  CHECK_ERR(read(fd, &c, 1), EBADF);
  struct stat st;
  CHECK_SYS(fstatat(fd, "", &st, AT_EMPTY_PATH));
  CHECK(S_ISLNK(st.st_mode));
  close(fd);
}

static void openat_dirfd(void) {
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0);
  int fd = openat(dfd, "rel", O_RDWR | O_CREAT | O_EXCL, 0600);
  CHECK(fd >= 0);
  close(fd);
  CHECK_SYS(access(path("rel"), F_OK));
  /* Absolute paths ignore dirfd, even a bad one. */
  fd = openat(-1, path("rel"), O_RDONLY);
  CHECK(fd >= 0);
  close(fd);
  CHECK_ERR(openat(-1, "rel", O_RDONLY), EBADF);
  int ffd = open(path("rel"), O_RDONLY);
  CHECK_ERR(openat(ffd, "x", O_RDONLY), ENOTDIR);
  close(ffd);
  close(dfd);
}

static void name_too_long(void) {
  char name[NAME_MAX + 2];
  memset(name, 'a', sizeof(name) - 1);
  name[sizeof(name) - 1] = 0;
  CHECK_ERR(open(path(name), O_RDONLY | O_CREAT, 0600), ENAMETOOLONG);
}

static void fd_flags(void) {
  int fd = open(path("f"), O_RDWR | O_CLOEXEC | O_NONBLOCK | O_APPEND);
  CHECK(fd >= 0);
  CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  int fl = fcntl(fd, F_GETFL);
  CHECK_EQ(fl & O_ACCMODE, O_RDWR);
  CHECK(fl & O_NONBLOCK);
  CHECK(fl & O_APPEND);
  /* Creation flags are not remembered as status flags. */
  CHECK((fl & (O_CREAT | O_EXCL | O_TRUNC)) == 0);
  close(fd);
}

int main(void) {
  test_init();
  dir = test_tmpdir();
  RUN(create_excl);
  RUN(trunc_flag);
  RUN(lowest_fd);
  RUN(umask_mode);
  RUN(dir_flags);
  RUN(symlink_flags);
  RUN(openat_dirfd);
  RUN(name_too_long);
  RUN(fd_flags);
  test_rmdir(dir);
  return 0;
}
