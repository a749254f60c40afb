/*
 * uname: uname and gethostname.
 * Checks that every field is NUL-terminated, that sysname is "Linux" and
 * machine matches the architecture this binary was built for, that release
 * looks like a kernel version, and that uname agrees with the matching
 * /proc/sys/kernel files.
 */
#include "test.h"

#include <ctype.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

static int read_line(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  long r = read(fd, buf, n - 1);
  close(fd);
  if (r <= 0) return -1;
  buf[r] = 0;
  char *nl = strchr(buf, '\n');
  if (nl) *nl = 0;
  return 0;
}

static void fields(void) {
  struct utsname u;
  memset(&u, 0xff, sizeof(u));
  CHECK_SYS(uname(&u));
  CHECK(memchr(u.sysname, 0, sizeof(u.sysname)) != NULL);
  CHECK(memchr(u.nodename, 0, sizeof(u.nodename)) != NULL);
  CHECK(memchr(u.release, 0, sizeof(u.release)) != NULL);
  CHECK(memchr(u.version, 0, sizeof(u.version)) != NULL);
  CHECK(memchr(u.machine, 0, sizeof(u.machine)) != NULL);
  CHECK(memchr(u.domainname, 0, sizeof(u.domainname)) != NULL);
  CHECK(strcmp(u.sysname, "Linux") == 0);
#if defined(__x86_64__)
  CHECK(strcmp(u.machine, "x86_64") == 0);
#elif defined(__aarch64__)
  CHECK(strcmp(u.machine, "aarch64") == 0);
#endif
  /* Programs parse "major.minor"; it has to be there. */
  CHECK(isdigit((unsigned char)u.release[0]));
  char *dot = strchr(u.release, '.');
  CHECK(dot != NULL && isdigit((unsigned char)dot[1]));
  CHECK(atoi(u.release) >= 3);
  CHECK(u.version[0] != 0);
  CHECK(u.nodename[0] != 0);
  CHECK_ERR(syscall(SYS_uname, (void *)8), EFAULT);
}

static void matches_proc(void) {
  struct utsname u;
  CHECK_SYS(uname(&u));
  char buf[256];
  CHECK_SYS(read_line("/proc/sys/kernel/ostype", buf, sizeof(buf)));
  CHECK(strcmp(buf, u.sysname) == 0);
  CHECK_SYS(read_line("/proc/sys/kernel/osrelease", buf, sizeof(buf)));
  CHECK(strcmp(buf, u.release) == 0);
  CHECK_SYS(read_line("/proc/sys/kernel/hostname", buf, sizeof(buf)));
  CHECK(strcmp(buf, u.nodename) == 0);
  CHECK_SYS(read_line("/proc/sys/kernel/version", buf, sizeof(buf)));
  CHECK(strcmp(buf, u.version) == 0);
}

static void hostname(void) {
  struct utsname u;
  CHECK_SYS(uname(&u));
  char h[256];
  CHECK_SYS(gethostname(h, sizeof(h)));
  CHECK(strcmp(h, u.nodename) == 0);
  /* Too small a buffer is an error, not a silent truncation. */
  char tiny[1];
  CHECK_ERR(gethostname(tiny, sizeof(tiny)), ENAMETOOLONG);
}

int main(void) {
  test_init();
  RUN(fields);
  RUN(matches_proc);
  RUN(hostname);
  return 0;
}
