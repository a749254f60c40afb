/*
 * getdents: getdents64(2) and (amd64) getdents(2).
 * Checks that every entry, "." and ".." included, is reported once with its
 * type, that d_off resumes a listing after lseek, that a buffer too small for
 * one record is EINVAL, that a full buffer stops cleanly and the next call
 * continues, and the errors ENOTDIR and EBADF.
 */
#include "test.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct d64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

static char *dir;
static char path[512];

static void setup(void) {
  dir = test_tmpdir();
  for (int i = 0; i < 40; i++) {
    snprintf(path, sizeof(path), "%s/file%02d", dir, i);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    close(fd);
  }
  snprintf(path, sizeof(path), "%s/sub", dir);
  CHECK_SYS(mkdir(path, 0755));
  snprintf(path, sizeof(path), "%s/link", dir);
  CHECK_SYS(symlink("file00", path));
}

/* list reads the whole directory with a buffer of size bytes and tallies. */
static int list(int fd, size_t size, int seen[40], int *dots, int *sub,
                int *lnk) {
  char buf[8192];
  int calls = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, size);
    CHECK(n >= 0);
    if (n == 0) break;
    calls++;
    for (long off = 0; off < n;) {
      struct d64 *d = (struct d64 *)(buf + off);
      CHECK(d->reclen % 8 == 0 && d->reclen > 19);
      CHECK(d->ino != 0);
      int i;
      if (strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0) {
        CHECK_EQ(d->type, DT_DIR);
        (*dots)++;
      } else if (strcmp(d->name, "sub") == 0) {
        CHECK_EQ(d->type, DT_DIR);
        (*sub)++;
      } else if (strcmp(d->name, "link") == 0) {
        CHECK_EQ(d->type, DT_LNK);
        (*lnk)++;
      } else {
        CHECK(sscanf(d->name, "file%d", &i) == 1 && i >= 0 && i < 40);
        CHECK_EQ(d->type, DT_REG);
        seen[i]++;
      }
      off += d->reclen;
    }
  }
  return calls;
}

static void all_entries(void) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(fd >= 0);
  int seen[40] = {0}, dots = 0, sub = 0, lnk = 0;
  list(fd, 8192, seen, &dots, &sub, &lnk);
  for (int i = 0; i < 40; i++) CHECK_EQ(seen[i], 1);
  CHECK_EQ(dots, 2);
  CHECK_EQ(sub, 1);
  CHECK_EQ(lnk, 1);
  /* At the end it keeps returning 0. */
  char buf[256];
  CHECK_EQ(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0);
  close(fd);
}

static void small_buffers(void) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(fd >= 0);
  char buf[64];
  /* Too small for any record. */
  CHECK_ERR(syscall(SYS_getdents64, fd, buf, 8), EINVAL);
  /* One record at a time still lists everything exactly once. */
  int seen[40] = {0}, dots = 0, sub = 0, lnk = 0;
  int calls = list(fd, 32, seen, &dots, &sub, &lnk);
  CHECK_EQ(calls, 44);
  for (int i = 0; i < 40; i++) CHECK_EQ(seen[i], 1);
  CHECK_EQ(dots + sub + lnk, 4);
  close(fd);
}

static void resume_at_d_off(void) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(fd >= 0);
  char buf[8192];
  long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
  CHECK(n > 0);
  /* Seek to the d_off of the fifth entry: the listing continues with the
   * sixth. */
  struct d64 *d = (struct d64 *)buf;
  for (int i = 0; i < 4; i++) d = (struct d64 *)((char *)d + d->reclen);
  struct d64 *sixth = (struct d64 *)((char *)d + d->reclen);
  char want[256];
  snprintf(want, sizeof(want), "%s", sixth->name);
  CHECK(lseek(fd, d->off, SEEK_SET) == d->off);
  char buf2[512];
  CHECK(syscall(SYS_getdents64, fd, buf2, sizeof(buf2)) > 0);
  CHECK(strcmp(((struct d64 *)buf2)->name, want) == 0);
  /* Rewinding starts over. */
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
  CHECK(syscall(SYS_getdents64, fd, buf2, sizeof(buf2)) > 0);
  CHECK(strcmp(((struct d64 *)buf2)->name, ((struct d64 *)buf)->name) == 0);
  close(fd);
}

static void errors(void) {
  char buf[256];
  snprintf(path, sizeof(path), "%s/file00", dir);
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  CHECK_ERR(syscall(SYS_getdents64, fd, buf, sizeof(buf)), ENOTDIR);
  close(fd);
  CHECK_ERR(syscall(SYS_getdents64, fd, buf, sizeof(buf)), EBADF);
  fd = open(dir, O_PATH);
  CHECK(fd >= 0);
  CHECK_ERR(syscall(SYS_getdents64, fd, buf, sizeof(buf)), EBADF);
  close(fd);
  fd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK_ERR(syscall(SYS_getdents64, fd, (void *)8, sizeof(buf)), EFAULT);
  close(fd);
}

static void legacy_getdents(void) {
#ifdef SYS_getdents
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(fd >= 0);
  char buf[8192];
  int files = 0, dirs = 0;
  for (;;) {
    long n = syscall(SYS_getdents, fd, buf, sizeof(buf));
    CHECK(n >= 0);
    if (n == 0) break;
    for (long off = 0; off < n;) {
      unsigned short reclen = *(unsigned short *)(buf + off + 16);
      char *name = buf + off + 18;
      unsigned char type = buf[off + reclen - 1];
      if (strncmp(name, "file", 4) == 0) {
        CHECK_EQ(type, DT_REG);
        files++;
      } else if (type == DT_DIR) {
        dirs++;
      }
      off += reclen;
    }
  }
  CHECK_EQ(files, 40);
  CHECK_EQ(dirs, 3);
  close(fd);
#endif
}

int main(void) {
  test_init();
  setup();
  RUN(all_entries);
  RUN(small_buffers);
  RUN(resume_at_d_off);
  RUN(errors);
  RUN(legacy_getdents);
  test_rmdir(dir);
  return 0;
}
