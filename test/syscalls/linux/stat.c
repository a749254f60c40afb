/*
 * stat: stat, fstat, lstat, newfstatat (fstatat) and statx.
 * Checks that every variant reports the same identity and metadata for the
 * same file, that lstat/AT_SYMLINK_NOFOLLOW see the link itself, that link
 * counts and sizes follow link/unlink/write/truncate, that explicitly set
 * times read back exactly, and the usual errors.
 */
#include "test.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static char *dir;

static char *path(const char *name) {
  static char p[4][512];
  static int i;
  i = (i + 1) % 4;
  snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
  return p[i];
}

static void regular_file(void) {
  int fd = open(path("f"), O_RDWR | O_CREAT | O_EXCL, 0640);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, "0123456789", 10), 10);
  struct stat a, b;
  CHECK_SYS(stat(path("f"), &a));
  CHECK_SYS(fstat(fd, &b));
  CHECK(S_ISREG(a.st_mode));
  CHECK_EQ(a.st_mode & 07777, 0640);
  CHECK_EQ(a.st_size, 10);
  CHECK_EQ(a.st_nlink, 1);
  CHECK_EQ(a.st_uid, geteuid());
  CHECK_EQ(a.st_gid, getegid());
  CHECK(a.st_blksize > 0);
  CHECK_EQ(a.st_ino, b.st_ino);
  CHECK_EQ(a.st_dev, b.st_dev);
  CHECK_EQ(a.st_size, b.st_size);
  CHECK_EQ(a.st_mode, b.st_mode);
  CHECK_SYS(ftruncate(fd, 3));
  CHECK_SYS(fstat(fd, &b));
  CHECK_EQ(b.st_size, 3);
  close(fd);
}

static void directory(void) {
  CHECK_SYS(mkdir(path("d"), 0750));
  struct stat st;
  CHECK_SYS(stat(path("d"), &st));
  CHECK(S_ISDIR(st.st_mode));
  CHECK_EQ(st.st_mode & 07777, 0750);
  struct stat parent;
  CHECK_SYS(stat(dir, &parent));
  CHECK(S_ISDIR(parent.st_mode));
  /* "d/.." names the parent. */
  struct stat dotdot;
  CHECK_SYS(stat(path("d/.."), &dotdot));
  CHECK_EQ(dotdot.st_ino, parent.st_ino);
  CHECK_EQ(dotdot.st_dev, parent.st_dev);
}

static void symlinks(void) {
  CHECK_SYS(symlink("f", path("lnk")));
  struct stat l, t, f;
  CHECK_SYS(lstat(path("lnk"), &l));
  CHECK_SYS(stat(path("lnk"), &t));
  CHECK_SYS(stat(path("f"), &f));
  CHECK(S_ISLNK(l.st_mode));
  /* A symlink's size is the length of its target. */
  CHECK_EQ(l.st_size, 1);
  CHECK(S_ISREG(t.st_mode));
  CHECK_EQ(t.st_ino, f.st_ino);
  CHECK(l.st_ino != f.st_ino);
  CHECK_SYS(symlink("nowhere", path("dangling")));
  CHECK_SYS(lstat(path("dangling"), &l));
  CHECK_ERR(stat(path("dangling"), &t), ENOENT);
}

static void hard_links(void) {
  struct stat st;
  CHECK_SYS(link(path("f"), path("f2")));
  CHECK_SYS(stat(path("f"), &st));
  CHECK_EQ(st.st_nlink, 2);
  CHECK_SYS(unlink(path("f2")));
  CHECK_SYS(stat(path("f"), &st));
  CHECK_EQ(st.st_nlink, 1);
  /* An unlinked but open file still answers fstat, with nlink 0. */
  int fd = open(path("gone"), O_RDWR | O_CREAT, 0600);
  CHECK(fd >= 0);
  CHECK_SYS(unlink(path("gone")));
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_nlink, 0);
  close(fd);
}

static void fstatat_flags(void) {
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0);
  struct stat a, b;
  CHECK_SYS(fstatat(dfd, "lnk", &a, 0));
  CHECK(S_ISREG(a.st_mode));
  CHECK_SYS(fstatat(dfd, "lnk", &b, AT_SYMLINK_NOFOLLOW));
  CHECK(S_ISLNK(b.st_mode));
  /* AT_EMPTY_PATH stats dirfd itself. */
  CHECK_SYS(fstatat(dfd, "", &a, AT_EMPTY_PATH));
  CHECK(S_ISDIR(a.st_mode));
  CHECK_ERR(fstatat(dfd, "", &a, 0), ENOENT);
  CHECK_ERR(fstatat(dfd, "f", &a, 0x40000000), EINVAL);
  close(dfd);
}

static void statx_matches(void) {
  struct statx sx;
  struct stat st;
  CHECK_SYS(statx(AT_FDCWD, path("f"), 0, STATX_BASIC_STATS, &sx));
  CHECK_SYS(stat(path("f"), &st));
  CHECK((sx.stx_mask & (STATX_TYPE | STATX_MODE | STATX_INO | STATX_SIZE |
                        STATX_NLINK)) ==
        (STATX_TYPE | STATX_MODE | STATX_INO | STATX_SIZE | STATX_NLINK));
  CHECK_EQ(sx.stx_ino, st.st_ino);
  CHECK_EQ(sx.stx_size, st.st_size);
  CHECK_EQ(sx.stx_mode, st.st_mode);
  CHECK_EQ(sx.stx_nlink, st.st_nlink);
  CHECK_EQ(sx.stx_uid, st.st_uid);
  CHECK_EQ(makedev(sx.stx_dev_major, sx.stx_dev_minor), st.st_dev);
  CHECK_EQ(sx.stx_mtime.tv_sec, st.st_mtim.tv_sec);
  CHECK_EQ(sx.stx_mtime.tv_nsec, st.st_mtim.tv_nsec);
  CHECK_SYS(statx(AT_FDCWD, path("lnk"), AT_SYMLINK_NOFOLLOW,
                  STATX_BASIC_STATS, &sx));
  CHECK(S_ISLNK(sx.stx_mode));
  CHECK_ERR(statx(AT_FDCWD, path("f"), 0, STATX__RESERVED, &sx), EINVAL);
  CHECK_ERR(statx(AT_FDCWD, path("nope"), 0, STATX_BASIC_STATS, &sx), ENOENT);
}

static void set_times(void) {
  struct timespec ts[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
  CHECK_SYS(utimensat(AT_FDCWD, path("f"), ts, 0));
  struct stat st;
  CHECK_SYS(stat(path("f"), &st));
  CHECK_EQ(st.st_atim.tv_sec, 1000000000);
  CHECK_EQ(st.st_mtim.tv_sec, 1200000000);
  /* Nanoseconds are kept where the filesystem has them; /tmp's do. */
  CHECK_EQ(st.st_atim.tv_nsec, 123456789);
  CHECK_EQ(st.st_mtim.tv_nsec, 987654321);
  /* A write sets mtime to "now", which is after 2008. */
  int fd = open(path("f"), O_WRONLY);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, "x", 1), 1);
  CHECK_SYS(fstat(fd, &st));
  CHECK(st.st_mtim.tv_sec > 1200000000);
  close(fd);
}

static void errors(void) {
  struct stat st;
  CHECK_ERR(stat(path("missing"), &st), ENOENT);
  CHECK_ERR(stat(path("f/x"), &st), ENOTDIR);
  CHECK_ERR(stat("", &st), ENOENT);
  CHECK_ERR(fstat(-1, &st), EBADF);
  CHECK_ERR(stat(path("f"), (struct stat *)8), EFAULT);
}

int main(void) {
  test_init();
  dir = test_tmpdir();
  RUN(regular_file);
  RUN(directory);
  RUN(symlinks);
  RUN(hard_links);
  RUN(fstatat_flags);
  RUN(statx_matches);
  RUN(set_times);
  RUN(errors);
  test_rmdir(dir);
  return 0;
}
