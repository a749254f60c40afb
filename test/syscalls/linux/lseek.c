/*
 * lseek: lseek with SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA and SEEK_HOLE.
 * Checks the returned offsets, seeking past EOF and the zero-filled gap a
 * later write leaves, EINVAL for negative results and bad whence, ESPIPE
 * on pipes, ENXIO from SEEK_DATA/SEEK_HOLE at or past EOF, and directory
 * rewinding.
 */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>

static char *dir;

static int tmp_fd(const char *name) {
  char p[256];
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  return fd;
}

static void whence(void) {
  int fd = tmp_fd("w");
  CHECK_EQ(write(fd, "0123456789", 10), 10);
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 10);
  CHECK_EQ(lseek(fd, 2, SEEK_SET), 2);
  CHECK_EQ(lseek(fd, 3, SEEK_CUR), 5);
  CHECK_EQ(lseek(fd, -2, SEEK_CUR), 3);
  CHECK_EQ(lseek(fd, -1, SEEK_END), 9);
  char c;
  CHECK_EQ(read(fd, &c, 1), 1);
  CHECK_EQ(c, '9');
  CHECK_EQ(lseek(fd, 0, SEEK_END), 10);
  close(fd);
}

static void errors(void) {
  int fd = tmp_fd("e");
  CHECK_EQ(write(fd, "abc", 3), 3);
  CHECK_ERR(lseek(fd, -1, SEEK_SET), EINVAL);
  CHECK_ERR(lseek(fd, -4, SEEK_END), EINVAL);
  CHECK_ERR(lseek(fd, 0, 42), EINVAL);
  /* A failed seek leaves the offset alone. */
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 3);
  close(fd);
  CHECK_ERR(lseek(fd, 0, SEEK_SET), EBADF);
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_ERR(lseek(p[0], 0, SEEK_CUR), ESPIPE);
  CHECK_ERR(lseek(p[1], 0, SEEK_SET), ESPIPE);
  close(p[0]);
  close(p[1]);
}

static void past_eof(void) {
  int fd = tmp_fd("hole");
  CHECK_EQ(write(fd, "ab", 2), 2);
  /* Seeking past EOF is allowed and does not change the size... */
  CHECK_EQ(lseek(fd, 1 << 20, SEEK_SET), 1 << 20);
  CHECK_EQ(lseek(fd, 0, SEEK_END), 2);
  char c;
  CHECK_EQ(pread(fd, &c, 1, 1 << 20), 0);
  /* ...until a write there, which leaves zeros in between. */
  CHECK_EQ(lseek(fd, 1 << 20, SEEK_SET), 1 << 20);
  CHECK_EQ(write(fd, "Z", 1), 1);
  CHECK_EQ(lseek(fd, 0, SEEK_END), (1 << 20) + 1);
  char buf[4096];
  CHECK_EQ(pread(fd, buf, sizeof(buf), 4096), sizeof(buf));
  for (unsigned i = 0; i < sizeof(buf); i++) CHECK(buf[i] == 0);
  close(fd);
}

static void data_and_holes(void) {
  int fd = tmp_fd("sparse");
  CHECK_EQ(write(fd, "data", 4), 4);
  off_t size = 1 << 20;
  CHECK_SYS(ftruncate(fd, size));
  CHECK_EQ(lseek(fd, 0, SEEK_DATA), 0);
  /* The hole search may be exact or report EOF, but is never inside data
   * and never past the end. */
  off_t hole = lseek(fd, 0, SEEK_HOLE);
  CHECK(hole >= 4 && hole <= size);
  /* Every file has a virtual hole at EOF. */
  CHECK_EQ(lseek(fd, size - 1, SEEK_HOLE), hole <= size - 1 ? size - 1 : size);
  CHECK_ERR(lseek(fd, size, SEEK_DATA), ENXIO);
  CHECK_ERR(lseek(fd, size, SEEK_HOLE), ENXIO);
  CHECK_ERR(lseek(fd, size + 10, SEEK_DATA), ENXIO);
  close(fd);
}

static void directories(void) {
  char p[256];
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s/ent%d", dir, i);
    int fd = open(p, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    close(fd);
  }
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  int n1 = 0, n2 = 0;
  while (readdir(d)) n1++;
  /* rewinddir is lseek(fd, 0, SEEK_SET) on the directory. */
  rewinddir(d);
  while (readdir(d)) n2++;
  CHECK(n1 >= 5);
  CHECK_EQ(n1, n2);
  CHECK_EQ(lseek(dirfd(d), 0, SEEK_SET), 0);
  closedir(d);
}

int main(void) {
  test_init();
  dir = test_tmpdir();
  RUN(whence);
  RUN(errors);
  RUN(past_eof);
  RUN(data_and_holes);
  RUN(directories);
  test_rmdir(dir);
  return 0;
}
