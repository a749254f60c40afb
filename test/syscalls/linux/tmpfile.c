/*
 * open(2) with O_TMPFILE on a tmpfs (/dev/shm) and on /tmp: an unnamed
 * regular file with no links, "/dir/#INO (deleted)" in /proc/self/fd,
 * absent from the directory; linkat through /proc/self/fd/N with
 * AT_SYMLINK_FOLLOW or by descriptor with AT_EMPTY_PATH names it (once);
 * O_EXCL forbids that; flag and file-system errors.
 */
#include "test.h"

#include <sys/stat.h>

static char dirs[2][128];

static int listed(const char *dir, const char *name) {
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  int found = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) found |= strcmp(e->d_name, name) == 0;
  closedir(d);
  return found;
}

static void basics(const char *dir) {
  mode_t old = umask(022);
  int fd = open(dir, O_TMPFILE | O_RDWR, 0666);
  umask(old);
  CHECK(fd >= 0);
  struct stat st;
  CHECK_SYS(fstat(fd, &st));
  CHECK(S_ISREG(st.st_mode));
  CHECK_EQ(st.st_mode & 07777, 0644);
  CHECK_EQ(st.st_nlink, 0);
  CHECK_EQ(st.st_size, 0);
  char link[64], buf[256], want[256];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  snprintf(want, sizeof(want), "%s/#%llu (deleted)", dir, (unsigned long long)st.st_ino);
  CHECK(strcmp(buf, want) == 0);
  snprintf(want, sizeof(want), "#%llu", (unsigned long long)st.st_ino);
  CHECK(!listed(dir, want));
  CHECK_EQ(write(fd, "data", 4), 4);
  CHECK_EQ(pread(fd, buf, 10, 0), 4);

  /* Naming it through /proc/self/fd. */
  char name[160];
  snprintf(name, sizeof(name), "%s/named", dir);
  CHECK_SYS(linkat(AT_FDCWD, link, AT_FDCWD, name, AT_SYMLINK_FOLLOW));
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_nlink, 1);
  CHECK(listed(dir, "named"));
  int r = open(name, O_RDONLY);
  CHECK(r >= 0);
  CHECK_EQ(read(r, buf, 10), 4);
  CHECK(memcmp(buf, "data", 4) == 0);
  close(r);
  /* The descriptor still shows the original name. */
  n = readlink(link, buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  CHECK(strstr(buf, " (deleted)") != NULL);
  /* Linked once, unlinked again: no second chance. */
  CHECK_SYS(unlink(name));
  CHECK_ERR(linkat(AT_FDCWD, link, AT_FDCWD, name, AT_SYMLINK_FOLLOW), ENOENT);
  close(fd);

  /* By descriptor (needs CAP_DAC_READ_SEARCH, which root has). */
  if (geteuid() == 0) {
    fd = open(dir, O_TMPFILE | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK_SYS(linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH));
    CHECK_SYS(stat(name, &st));
    CHECK_EQ(st.st_nlink, 1);
    CHECK_ERR(linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH), EEXIST);
    CHECK_SYS(unlink(name));
    close(fd);
  }

  /* O_EXCL: never linkable. */
  fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL, 0600);
  CHECK(fd >= 0);
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  CHECK_ERR(linkat(AT_FDCWD, link, AT_FDCWD, name, AT_SYMLINK_FOLLOW), ENOENT);
  CHECK_ERR(access(name, F_OK), ENOENT);
  close(fd);
}

static void basics_tmpfs(void) { basics(dirs[0]); }
static void basics_tmp(void) { basics(dirs[1]); }

static void errors(void) {
  const char *dir = dirs[0];
  CHECK_ERR(open(dir, O_TMPFILE | O_RDONLY, 0600), EINVAL);
  CHECK_ERR(open(dir, O_TMPFILE | O_RDWR | O_CREAT, 0600), EINVAL);
  /* __O_TMPFILE without O_DIRECTORY. */
  CHECK_ERR(open(dir, (O_TMPFILE & ~O_DIRECTORY) | O_RDWR, 0600), EINVAL);
  CHECK_ERR(open("/dev/null", O_TMPFILE | O_RDWR, 0600), ENOTDIR);
  char missing[160];
  snprintf(missing, sizeof(missing), "%s/missing", dir);
  CHECK_ERR(open(missing, O_TMPFILE | O_RDWR, 0600), ENOENT);
  CHECK_ERR(open("/proc", O_TMPFILE | O_RDWR, 0600), EOPNOTSUPP);
  /* Only the first open is special: reopening through /proc/self/fd is
   * an ordinary open of the file. */
  int fd = open(dir, O_TMPFILE | O_RDWR, 0600);
  CHECK(fd >= 0);
  char link[64];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  int r = open(link, O_RDONLY);
  CHECK(r >= 0);
  close(r);
  close(fd);
}

int main(void) {
  test_init();
  char *t = test_tmpdir();
  snprintf(dirs[1], sizeof(dirs[1]), "%s", t);
  snprintf(dirs[0], sizeof(dirs[0]), "/dev/shm/appkernel-tmpfile-%d", getpid());
  CHECK_SYS(mkdir(dirs[0], 0755));
  RUN(basics_tmpfs);
  RUN(basics_tmp);
  RUN(errors);
  rmdir(dirs[0]);
  test_rmdir(t);
  return 0;
}
