/*
 * memory: mincore, madvise, msync, mlock/mlock2/mlockall, mremap moves and
 * the permission rules of file mappings.
 * Checks residency reporting and its errors, that MADV_DONTNEED gives back
 * zero pages for private anonymous memory and the file's data for a private
 * file mapping, msync's flag and range checks, mlock family arguments,
 * mremap with MREMAP_FIXED and its argument errors, and that mmap and
 * mprotect refuse what a file's open mode does not allow.
 */
#include "test.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

static long pagesz;
static char *dir;

static char *anon(long pages) {
  char *p = mmap(NULL, pages * pagesz, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  return p;
}

static void mincore_residency(void) {
  char *p = anon(4);
  unsigned char vec[4];
  /* Fresh anonymous memory has no pages until it is touched. */
  CHECK_SYS(mincore(p, 4 * pagesz, vec));
  for (int i = 0; i < 4; i++) CHECK_EQ(vec[i] & 1, 0);
  p[pagesz] = 1;
  p[3 * pagesz] = 1;
  /* Only the touched pages are certain to be resident: a kernel may fill
   * their neighbours too (transparent huge pages, fault-around). */
  CHECK_SYS(mincore(p, 4 * pagesz, vec));
  CHECK_EQ(vec[1] & 1, 1);
  CHECK_EQ(vec[3] & 1, 1);
  /* The length is rounded up to whole pages. */
  CHECK_SYS(mincore(p + pagesz, 1, vec));
  CHECK_EQ(vec[0] & 1, 1);
  CHECK_ERR(mincore(p + 1, pagesz, vec), EINVAL);
  CHECK_ERR(mincore(p, pagesz, (unsigned char *)8), EFAULT);
  CHECK_SYS(munmap(p + 2 * pagesz, pagesz));
  /* A hole in the range is ENOMEM. */
  CHECK_ERR(mincore(p, 4 * pagesz, vec), ENOMEM);
  CHECK_SYS(munmap(p, 4 * pagesz));
}

static void madvise_dontneed(void) {
  char *p = anon(2);
  memset(p, 'x', 2 * pagesz);
  CHECK_SYS(madvise(p, 2 * pagesz, MADV_DONTNEED));
  /* Private anonymous pages come back as zeros. */
  CHECK_EQ(p[0], 0);
  CHECK_EQ(p[2 * pagesz - 1], 0);
  CHECK_ERR(madvise(p + 1, pagesz, MADV_NORMAL), EINVAL);
  CHECK_ERR(madvise(p, pagesz, 12345), EINVAL);
  CHECK_SYS(madvise(p, pagesz, MADV_SEQUENTIAL));
  CHECK_SYS(madvise(p, 0, MADV_DONTNEED));
  CHECK_SYS(munmap(p + pagesz, pagesz));
  /* Advice over a hole applies to the mapped part, then reports ENOMEM. */
  p[0] = 'y';
  CHECK_ERR(madvise(p, 2 * pagesz, MADV_DONTNEED), ENOMEM);
  CHECK_EQ(p[0], 0);
  CHECK_SYS(munmap(p, pagesz));

  /* A private file mapping reads the file again after MADV_DONTNEED. */
  char path[128];
  snprintf(path, sizeof(path), "%s/f", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK_SYS(fd);
  char *buf = malloc(pagesz);
  memset(buf, 'f', pagesz);
  CHECK_EQ(write(fd, buf, pagesz), pagesz);
  free(buf);
  char *m = mmap(NULL, pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(m != MAP_FAILED);
  m[0] = 'z';
  CHECK_SYS(madvise(m, pagesz, MADV_DONTNEED));
  CHECK_EQ(m[0], 'f');
  CHECK_SYS(munmap(m, pagesz));
  CHECK_SYS(close(fd));
}

static void msync_checks(void) {
  char path[128];
  snprintf(path, sizeof(path), "%s/s", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK_SYS(fd);
  CHECK_SYS(ftruncate(fd, pagesz));
  char *m = mmap(NULL, pagesz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED);
  memcpy(m, "synced", 6);
  CHECK_SYS(msync(m, pagesz, MS_SYNC));
  char got[6];
  CHECK_EQ(pread(fd, got, 6, 0), 6);
  CHECK(memcmp(got, "synced", 6) == 0);
  CHECK_SYS(msync(m, pagesz, MS_ASYNC));
  CHECK_ERR(msync(m, pagesz, MS_SYNC | MS_ASYNC), EINVAL);
  CHECK_ERR(msync(m, pagesz, 0x100), EINVAL);
  CHECK_ERR(msync(m + 1, pagesz, MS_SYNC), EINVAL);
  CHECK_SYS(munmap(m, pagesz));
  CHECK_ERR(msync(m, pagesz, MS_SYNC), ENOMEM);
  CHECK_SYS(close(fd));
}

static void mlock_family(void) {
  char *p = anon(2);
  CHECK_SYS(mlock(p, 2 * pagesz));
  /* Locking populates the range. */
  unsigned char vec[2];
  CHECK_SYS(mincore(p, 2 * pagesz, vec));
  CHECK_EQ(vec[0] & 1, 1);
  CHECK_EQ(vec[1] & 1, 1);
  CHECK_SYS(munlock(p, 2 * pagesz));
  CHECK_SYS(syscall(SYS_mlock2, p, pagesz, MLOCK_ONFAULT));
  CHECK_ERR(syscall(SYS_mlock2, p, pagesz, 2), EINVAL);
  CHECK_SYS(munlock(p, pagesz));
  CHECK_SYS(munmap(p + pagesz, pagesz));
  CHECK_ERR(mlock(p, 2 * pagesz), ENOMEM);
  CHECK_SYS(munmap(p, pagesz));
  CHECK_ERR(mlockall(0), EINVAL);
  CHECK_ERR(mlockall(MCL_ONFAULT), EINVAL);
  CHECK_ERR(mlockall(0x80), EINVAL);
  /* MCL_FUTURE alone is not checked against RLIMIT_MEMLOCK, so this works
   * unprivileged too. */
  CHECK_SYS(mlockall(MCL_FUTURE));
  CHECK_SYS(munlockall());
}

static void mremap_fixed(void) {
  char *src = anon(2);
  memset(src, 'a', 2 * pagesz);
  char *dst = anon(4);
  /* MREMAP_FIXED moves onto dst, replacing what was there. */
  char *r = mremap(src, 2 * pagesz, 2 * pagesz, MREMAP_MAYMOVE | MREMAP_FIXED,
                   dst + pagesz);
  CHECK(r == dst + pagesz);
  CHECK_EQ(r[0], 'a');
  CHECK_EQ(r[2 * pagesz - 1], 'a');
  CHECK_EQ(dst[0], 0);
  unsigned char vec[1];
  CHECK_ERR(mincore(src, pagesz, vec), ENOMEM);
  /* Without MREMAP_MAYMOVE, MREMAP_FIXED is EINVAL; so is overlap. */
  CHECK(mremap(r, pagesz, pagesz, MREMAP_FIXED, dst) == MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  CHECK(mremap(r, 2 * pagesz, 2 * pagesz, MREMAP_MAYMOVE | MREMAP_FIXED,
               r + pagesz) == MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  CHECK(mremap(r + 1, pagesz, pagesz, 0) == MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  CHECK(mremap(r, pagesz, 0, MREMAP_MAYMOVE) == MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  CHECK(mremap(r, pagesz, pagesz, 0x80) == MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  CHECK_SYS(munmap(dst, 4 * pagesz));

  /* MREMAP_DONTUNMAP keeps the old range, so the sizes must match. */
  char *a = anon(1);
  CHECK(mremap(a, pagesz, 2 * pagesz, MREMAP_MAYMOVE | MREMAP_DONTUNMAP) ==
        MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  CHECK(mremap(a, pagesz, pagesz, MREMAP_DONTUNMAP) == MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  CHECK_SYS(munmap(a, pagesz));
}

static void file_permissions(void) {
  char path[128];
  snprintf(path, sizeof(path), "%s/p", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK_SYS(fd);
  CHECK_SYS(ftruncate(fd, pagesz));
  CHECK_SYS(close(fd));

  int ro = open(path, O_RDONLY);
  CHECK_SYS(ro);
  /* A writable shared mapping needs a writable file... */
  CHECK(mmap(NULL, pagesz, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) ==
        MAP_FAILED);
  CHECK_EQ(errno, EACCES);
  /* ...and a read-only one can never be made writable. */
  char *m = mmap(NULL, pagesz, PROT_READ, MAP_SHARED, ro, 0);
  CHECK(m != MAP_FAILED);
  CHECK_ERR(mprotect(m, pagesz, PROT_READ | PROT_WRITE), EACCES);
  CHECK_SYS(munmap(m, pagesz));
  /* A private mapping may be written: the changes stay private. */
  m = mmap(NULL, pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
  CHECK(m != MAP_FAILED);
  m[0] = 1;
  CHECK_SYS(munmap(m, pagesz));
  /* An unaligned offset is EINVAL; MAP_SHARED_VALIDATE with an unknown
   * flag is EOPNOTSUPP. */
  CHECK(mmap(NULL, pagesz, PROT_READ, MAP_PRIVATE, ro, 1) == MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  CHECK(mmap(NULL, pagesz, PROT_READ, MAP_SHARED_VALIDATE | 0x800000, ro, 0) ==
        MAP_FAILED);
  CHECK_EQ(errno, EOPNOTSUPP);
  m = mmap(NULL, pagesz, PROT_READ, MAP_SHARED_VALIDATE, ro, 0);
  CHECK(m != MAP_FAILED);
  CHECK_SYS(munmap(m, pagesz));
  CHECK_SYS(close(ro));

  /* Every file mapping needs a file opened for reading. */
  int wo = open(path, O_WRONLY);
  CHECK_SYS(wo);
  CHECK(mmap(NULL, pagesz, PROT_READ, MAP_SHARED, wo, 0) == MAP_FAILED);
  CHECK_EQ(errno, EACCES);
  CHECK_SYS(close(wo));

  /* Shared anonymous memory must not be MAP_SHARED_VALIDATE or grow down. */
  CHECK(mmap(NULL, pagesz, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1,
             0) == MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  CHECK(mmap(NULL, pagesz, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN,
             -1, 0) == MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  /* A pipe cannot be mapped. */
  int pfd[2];
  CHECK_SYS(pipe(pfd));
  CHECK(mmap(NULL, pagesz, PROT_READ, MAP_PRIVATE, pfd[0], 0) == MAP_FAILED);
  CHECK_EQ(errno, ENODEV);
  close(pfd[0]);
  close(pfd[1]);
}

int main(void) {
  test_init();
  pagesz = sysconf(_SC_PAGESIZE);
  dir = test_tmpdir();
  RUN(mincore_residency);
  RUN(madvise_dontneed);
  RUN(msync_checks);
  RUN(mlock_family);
  RUN(mremap_fixed);
  RUN(file_permissions);
  test_rmdir(dir);
  return 0;
}
