/*
 * xattr: the extended-attribute calls on a file that has no attributes.
 * Checks that a missing attribute reads as ENODATA through getxattr,
 * lgetxattr and fgetxattr, that a fresh file's "user." list is empty, that
 * a missing path is ENOENT, a name longer than XATTR_NAME_MAX or empty is
 * ERANGE, and a bad fd EBADF. (Whether attributes can be set depends on
 * the file system, so setting is not checked.)
 */
#include "test.h"

#include <fcntl.h>
#include <string.h>
#include <sys/xattr.h>

static char *dir;
static char path[300];

static void missing_attribute(void) {
  char buf[64];
  CHECK_ERR(getxattr(path, "user.appkernel.none", buf, sizeof(buf)), ENODATA);
  CHECK_ERR(lgetxattr(path, "user.appkernel.none", buf, sizeof(buf)), ENODATA);
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  CHECK_ERR(fgetxattr(fd, "user.appkernel.none", buf, sizeof(buf)), ENODATA);
  close(fd);
}

static void empty_user_list(void) {
  char buf[4096];
  ssize_t n = listxattr(path, buf, sizeof(buf));
  CHECK(n >= 0);
  /* Security modules may label files; no "user." attribute exists. */
  for (ssize_t off = 0; off < n; off += strlen(buf + off) + 1) {
    CHECK(strncmp(buf + off, "user.", 5) != 0);
  }
}

static void errors(void) {
  char buf[64];
  char name[300];
  memset(name, 'a', sizeof(name) - 1);
  name[sizeof(name) - 1] = 0;
  memcpy(name, "user.", 5);
  CHECK_ERR(getxattr("/nonexistent/file", "user.x", buf, sizeof(buf)), ENOENT);
  CHECK_ERR(getxattr(path, name, buf, sizeof(buf)), ERANGE);
  CHECK_ERR(getxattr(path, "", buf, sizeof(buf)), ERANGE);
  CHECK_ERR(fgetxattr(-1, "user.x", buf, sizeof(buf)), EBADF);
  CHECK_ERR(listxattr("/nonexistent/file", buf, sizeof(buf)), ENOENT);
}

int main(void) {
  test_init();
  dir = test_tmpdir();
  snprintf(path, sizeof(path), "%s/f", dir);
  int fd = open(path, O_RDWR | O_CREAT, 0600);
  CHECK(fd >= 0);
  close(fd);
  RUN(missing_attribute);
  RUN(empty_user_list);
  RUN(errors);
  unlink(path);
  rmdir(dir);
  return 0;
}
