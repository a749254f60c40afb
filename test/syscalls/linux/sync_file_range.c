/*
 * sync_file_range: argument checks in Linux's order (EBADF, then flags,
 * then the range, then ESPIPE for files without a page cache range:
 * pipes, sockets, character devices), and that each flag combination
 * succeeds on regular files and directories and leaves the data intact.
 */
#include "test.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define WAIT_BEFORE 1
#define WRITE 2
#define WAIT_AFTER 4

static long sfr(int fd, long long off, long long n, unsigned flags) {
  return syscall(SYS_sync_file_range, fd, off, n, flags);
}

static char tmpdir[] = "/tmp/sfr_test_XXXXXX";

static void errors(void) {
  char path[64];
  snprintf(path, sizeof(path), "%s/f", tmpdir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);

  CHECK_ERR(sfr(-1, 0, 0, 0), EBADF);
  CHECK_ERR(sfr(9999, 0, 0, 8), EBADF);
  int op = open(path, O_PATH);
  CHECK(op >= 0);
  CHECK_ERR(sfr(op, 0, 0, WRITE), EBADF);
  close(op);

  CHECK_ERR(sfr(fd, 0, 0, 8), EINVAL);
  CHECK_ERR(sfr(fd, 0, 0, 0xffffffff), EINVAL);
  CHECK_ERR(sfr(fd, -1, 0, 0), EINVAL);
  CHECK_ERR(sfr(fd, 0, -1, 0), EINVAL);
  CHECK_ERR(sfr(fd, 0x7fffffffffffff00LL, 0x1000, WRITE), EINVAL);
  /* Ending exactly at the largest offset is fine. */
  CHECK_SYS(sfr(fd, 0x7fffffffffffff00LL, 0xff, WRITE));

  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_ERR(sfr(p[0], 0, 0, 0), ESPIPE);
  CHECK_ERR(sfr(p[1], 0, 0, WRITE), ESPIPE);
  /* Flags and range come first. */
  CHECK_ERR(sfr(p[1], 0, 0, 8), EINVAL);
  CHECK_ERR(sfr(p[1], -5, 0, 0), EINVAL);
  close(p[0]);
  close(p[1]);
  int s[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
  CHECK_ERR(sfr(s[0], 0, 0, WRITE), ESPIPE);
  close(s[0]);
  close(s[1]);
  int null = open("/dev/null", O_WRONLY);
  CHECK(null >= 0);
  CHECK_ERR(sfr(null, 0, 0, WRITE | WAIT_AFTER), ESPIPE);
  close(null);
  close(fd);
  unlink(path);
  printf("PASS errors\n");
}

static void syncs(void) {
  char path[64];
  snprintf(path, sizeof(path), "%s/g", tmpdir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  char buf[8192];
  memset(buf, 'q', sizeof(buf));
  CHECK_EQ(write(fd, buf, sizeof(buf)), (long)sizeof(buf));
  for (unsigned flags = 0; flags < 8; flags++) {
    CHECK_SYS(sfr(fd, 0, 0, flags));
    CHECK_SYS(sfr(fd, 4096, 4096, flags));
    CHECK_SYS(sfr(fd, 100, 1, flags));
  }
  /* Past the end of the file is not an error. */
  CHECK_SYS(sfr(fd, 1 << 20, 4096, WRITE | WAIT_AFTER));
  char in[8192];
  CHECK_EQ(pread(fd, in, sizeof(in), 0), (long)sizeof(in));
  CHECK_EQ(memcmp(in, buf, sizeof(buf)), 0);
  /* A read-only descriptor may be synced too. */
  int ro = open(path, O_RDONLY);
  CHECK(ro >= 0);
  CHECK_SYS(sfr(ro, 0, 0, WAIT_BEFORE | WRITE | WAIT_AFTER));
  close(ro);
  /* So may a directory. */
  int dir = open(tmpdir, O_RDONLY | O_DIRECTORY);
  CHECK(dir >= 0);
  CHECK_SYS(sfr(dir, 0, 0, WRITE | WAIT_AFTER));
  close(dir);
  close(fd);
  unlink(path);
  printf("PASS syncs\n");
}

int main(void) {
  CHECK(mkdtemp(tmpdir) != NULL);
  errors();
  syncs();
  rmdir(tmpdir);
  return 0;
}
