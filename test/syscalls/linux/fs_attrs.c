/*
 * fs_attrs: changing and reading file attributes.
 * Checks chmod/fchmod/fchmodat, chown/fchown/lchown/fchownat (-1 keeps an ID,
 * AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH), utimensat (explicit times, UTIME_NOW,
 * UTIME_OMIT, NULL times, AT_SYMLINK_NOFOLLOW, a descriptor with a NULL path,
 * EINVAL), utimes/futimesat/utime, truncate/ftruncate, statfs/fstatfs, and
 * statx's mask and flag handling.
 */
#include "test.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <utime.h>

static char *dir;
static int dfd;
static char fpath[600];

static void setup(void) {
  dir = test_tmpdir();
  dfd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0);
  snprintf(fpath, sizeof(fpath), "%s/f", dir);
  int fd = open(fpath, O_RDWR | O_CREAT, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, "0123456789", 10), 10);
  close(fd);
  CHECK_SYS(symlinkat("f", dfd, "l"));
}

static mode_t mode_of(const char *name, int flags) {
  struct stat st;
  CHECK_SYS(fstatat(dfd, name, &st, flags));
  return st.st_mode & 07777;
}

static void chmods(void) {
  CHECK_SYS(chmod(fpath, 0600));
  CHECK_EQ(mode_of("f", 0), 0600);
  CHECK_SYS(fchmodat(dfd, "l", 0640, 0)); /* follows the link */
  CHECK_EQ(mode_of("f", 0), 0640);
  CHECK_EQ(mode_of("l", AT_SYMLINK_NOFOLLOW), 0777);
  int fd = open(fpath, O_RDONLY);
  CHECK_SYS(fchmod(fd, 01755)); /* higher bits are kept, type bits ignored */
  CHECK_EQ(mode_of("f", 0), 01755);
  CHECK_SYS(fchmod(fd, S_IFDIR | 0644));
  struct stat st;
  CHECK_SYS(fstat(fd, &st));
  CHECK(S_ISREG(st.st_mode));
  CHECK_EQ(st.st_mode & 07777, 0644);
  close(fd);
  CHECK_ERR(fchmod(fd, 0644), EBADF);
  fd = open(fpath, O_PATH);
  CHECK_ERR(fchmod(fd, 0644), EBADF);
  close(fd);
  CHECK_ERR(fchmodat(dfd, "nope", 0644, 0), ENOENT);
}

static void chowns(void) {
  uid_t u = geteuid();
  gid_t g = getegid();
  struct stat st;
  CHECK_SYS(chown(fpath, u, g));
  CHECK_SYS(chown(fpath, -1, -1));
  CHECK_SYS(fchownat(dfd, "l", -1, g, AT_SYMLINK_NOFOLLOW));
  CHECK_SYS(lchown(fpath, u, -1));
  int fd = open(fpath, O_RDONLY);
  CHECK_SYS(fchown(fd, -1, g));
  CHECK_ERR(fchownat(dfd, "f", -1, -1, 0x1), EINVAL);
  CHECK_SYS(fchownat(fd, "", u, g, AT_EMPTY_PATH));
  if (u == 0) {
    CHECK_SYS(fchown(fd, 1234, 5678));
    CHECK_SYS(fstat(fd, &st));
    CHECK_EQ(st.st_uid, 1234);
    CHECK_EQ(st.st_gid, 5678);
    /* -1 leaves an ID as it is. */
    CHECK_SYS(fchownat(dfd, "f", 42, -1, 0));
    CHECK_SYS(fstat(fd, &st));
    CHECK_EQ(st.st_uid, 42);
    CHECK_EQ(st.st_gid, 5678);
    /* The link, not its target. */
    CHECK_SYS(fchownat(dfd, "l", 7, 7, AT_SYMLINK_NOFOLLOW));
    CHECK_SYS(fstatat(dfd, "l", &st, AT_SYMLINK_NOFOLLOW));
    CHECK_EQ(st.st_uid, 7);
    CHECK_SYS(fstat(fd, &st));
    CHECK_EQ(st.st_uid, 42);
    /* Changing the owner clears set-user-ID. */
    CHECK_SYS(fchmod(fd, 04755));
    CHECK_SYS(fchown(fd, 43, -1));
    CHECK_SYS(fstat(fd, &st));
    CHECK_EQ(st.st_mode & 07777, 0755);
    CHECK_SYS(fchown(fd, u, g));
    CHECK_SYS(fchmod(fd, 0644));
  } else {
    CHECK_ERR(fchown(fd, u + 1, -1), EPERM);
  }
  close(fd);
}

static void times(void) {
  struct timespec ts[2] = {{1000, 5}, {2000, 6}};
  struct stat st;
  CHECK_SYS(utimensat(dfd, "f", ts, 0));
  CHECK_SYS(stat(fpath, &st));
  CHECK(st.st_atim.tv_sec == 1000 && st.st_atim.tv_nsec == 5);
  CHECK(st.st_mtim.tv_sec == 2000 && st.st_mtim.tv_nsec == 6);
  /* OMIT leaves one alone; NOW sets it to the current time. */
  ts[0].tv_nsec = UTIME_OMIT;
  ts[1].tv_sec = 0;
  ts[1].tv_nsec = UTIME_NOW;
  time_t before = time(NULL);
  CHECK_SYS(utimensat(dfd, "f", ts, 0));
  CHECK_SYS(stat(fpath, &st));
  CHECK_EQ(st.st_atim.tv_sec, 1000);
  CHECK(st.st_mtim.tv_sec >= before - 1);
  /* NULL: both now. */
  CHECK_SYS(utimensat(dfd, "f", NULL, 0));
  CHECK_SYS(stat(fpath, &st));
  CHECK(st.st_atim.tv_sec >= before - 1);
  /* Both OMIT does nothing, without even looking at the path. */
  ts[0].tv_nsec = ts[1].tv_nsec = UTIME_OMIT;
  CHECK_SYS(utimensat(dfd, "no-such-file", ts, 0));
  /* The link itself. */
  struct timespec lt[2] = {{300, 0}, {400, 0}};
  CHECK_SYS(utimensat(dfd, "l", lt, AT_SYMLINK_NOFOLLOW));
  CHECK_SYS(lstat(dir, &st));
  CHECK_SYS(fstatat(dfd, "l", &st, AT_SYMLINK_NOFOLLOW));
  CHECK_EQ(st.st_mtim.tv_sec, 400);
  CHECK_SYS(stat(fpath, &st));
  CHECK(st.st_mtim.tv_sec != 400);
  /* A descriptor and a NULL path (futimens). */
  int fd = open(fpath, O_RDONLY);
  CHECK_SYS(syscall(SYS_utimensat, fd, NULL, lt, 0));
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_atim.tv_sec, 300);
  CHECK_ERR(syscall(SYS_utimensat, fd, NULL, lt, AT_SYMLINK_NOFOLLOW), EINVAL);
  CHECK_ERR(syscall(SYS_utimensat, AT_FDCWD, NULL, lt, 0), EFAULT);
  close(fd);
  /* Invalid nanoseconds and flags. */
  lt[0].tv_nsec = 1000000000;
  CHECK_ERR(utimensat(dfd, "f", lt, 0), EINVAL);
  lt[0].tv_nsec = 0;
  CHECK_ERR(utimensat(dfd, "f", lt, 0x1), EINVAL);
  /* utimes, futimesat and utime. */
  struct timeval tv[2] = {{11, 1}, {22, 2}};
  CHECK_SYS(utimes(fpath, tv));
  CHECK_SYS(stat(fpath, &st));
  CHECK(st.st_atim.tv_sec == 11 && st.st_atim.tv_nsec == 1000);
  CHECK(st.st_mtim.tv_sec == 22 && st.st_mtim.tv_nsec == 2000);
  tv[0].tv_usec = 1000000;
  CHECK_ERR(utimes(fpath, tv), EINVAL);
  tv[0].tv_usec = 0;
  CHECK_SYS(syscall(SYS_futimesat, dfd, "f", tv));
  CHECK_SYS(stat(fpath, &st));
  CHECK_EQ(st.st_atim.tv_sec, 11);
  CHECK_EQ(st.st_atim.tv_nsec, 0);
  struct utimbuf ub = {33, 44};
  CHECK_SYS(utime(fpath, &ub));
  CHECK_SYS(stat(fpath, &st));
  CHECK(st.st_atime == 33 && st.st_mtime == 44);
  CHECK_SYS(utime(fpath, NULL));
  CHECK_SYS(stat(fpath, &st));
  CHECK(st.st_mtime >= before - 1);
}

static void truncates(void) {
  struct stat st;
  CHECK_SYS(truncate(fpath, 3));
  CHECK_SYS(stat(fpath, &st));
  CHECK_EQ(st.st_size, 3);
  CHECK_ERR(truncate(fpath, -1), EINVAL);
  CHECK_ERR(truncate(dir, 0), EISDIR);
  int fd = open(fpath, O_RDWR);
  CHECK_SYS(ftruncate(fd, 100));
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_size, 100);
  /* The new bytes read as zeros. */
  char buf[4] = {1, 1, 1, 1};
  CHECK_EQ(pread(fd, buf, 4, 50), 4);
  CHECK(buf[0] == 0 && buf[3] == 0);
  CHECK_ERR(ftruncate(fd, -5), EINVAL);
  close(fd);
  fd = open(fpath, O_RDONLY);
  CHECK_ERR(ftruncate(fd, 0), EINVAL);
  close(fd);
  CHECK_ERR(ftruncate(fd, 0), EBADF);
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_ERR(ftruncate(p[1], 0), EINVAL);
  close(p[0]);
  close(p[1]);
}

static void statfs_calls(void) {
  struct statfs a, b;
  CHECK_SYS(statfs(dir, &a));
  int fd = open(fpath, O_RDONLY);
  CHECK_SYS(fstatfs(fd, &b));
  close(fd);
  CHECK_EQ(a.f_type, b.f_type);
  CHECK(a.f_bsize > 0);
  CHECK_EQ(a.f_namelen, 255);
  CHECK_ERR(statfs("/nonexistent-for-test", &a), ENOENT);
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_SYS(fstatfs(p[0], &a));
  CHECK_EQ(a.f_type, 0x50495045); /* PIPEFS_MAGIC */
  close(p[0]);
  close(p[1]);
}

static void statx_masks(void) {
  struct statx sx;
  memset(&sx, 0xff, sizeof(sx));
  CHECK_SYS(statx(dfd, "f", 0, STATX_SIZE, &sx));
  CHECK(sx.stx_mask & STATX_SIZE);
  CHECK_EQ(sx.stx_size, 100);
  /* A zero mask still returns the type and mode (which fields beyond
   * those come unasked varies: Linux 6.13+ fills mtime and ctime only on
   * request). */
  CHECK_SYS(statx(dfd, "f", 0, 0, &sx));
  CHECK((sx.stx_mask & (STATX_TYPE | STATX_MODE)) == (STATX_TYPE | STATX_MODE));
  CHECK(S_ISREG(sx.stx_mode));
  CHECK_SYS(statx(dfd, "f", 0, STATX_BASIC_STATS, &sx));
  CHECK((sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS);
  struct stat st;
  CHECK_SYS(stat(fpath, &st));
  CHECK_EQ(sx.stx_ino, st.st_ino);
  CHECK_EQ(sx.stx_nlink, st.st_nlink);
  CHECK_EQ(makedev(sx.stx_dev_major, sx.stx_dev_minor), st.st_dev);
  /* All sync modes are accepted; both at once are not. */
  CHECK_SYS(statx(dfd, "f", AT_STATX_FORCE_SYNC, STATX_ALL, &sx));
  CHECK_SYS(statx(dfd, "f", AT_STATX_DONT_SYNC, STATX_ALL, &sx));
  CHECK_ERR(statx(dfd, "f", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_ALL, &sx), EINVAL);
  CHECK_ERR(statx(dfd, "f", 0, 0x80000000U, &sx), EINVAL);
  CHECK_ERR(statx(dfd, "f", 0x1, STATX_ALL, &sx), EINVAL);
  /* The link or its target. */
  CHECK_SYS(statx(dfd, "l", AT_SYMLINK_NOFOLLOW, STATX_TYPE, &sx));
  CHECK(S_ISLNK(sx.stx_mode));
  CHECK_SYS(statx(dfd, "l", 0, STATX_TYPE, &sx));
  CHECK(S_ISREG(sx.stx_mode));
  /* AT_EMPTY_PATH on a descriptor, and the mount root attribute. */
  int fd = open(fpath, O_RDONLY);
  CHECK_SYS(statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &sx));
  CHECK_EQ(sx.stx_size, 100);
  CHECK((sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT));
  CHECK_ERR(statx(fd, "", 0, STATX_SIZE, &sx), ENOENT);
  CHECK_ERR(syscall(SYS_statx, fd, NULL, 0, STATX_SIZE, &sx), EFAULT);
  close(fd);
  CHECK_ERR(statx(dfd, "nope", 0, STATX_ALL, &sx), ENOENT);
  CHECK_ERR(statx(dfd, "f", 0, STATX_ALL, (void *)8), EFAULT);
}

int main(void) {
  test_init();
  setup();
  RUN(chmods);
  RUN(chowns);
  RUN(times);
  RUN(truncates);
  RUN(statfs_calls);
  RUN(statx_masks);
  close(dfd);
  test_rmdir(dir);
  return 0;
}
