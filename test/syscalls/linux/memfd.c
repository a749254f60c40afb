/*
 * memfd_create(2) and file seals: an anonymous read-write file (mode
 * 0777, no links, "/memfd:NAME (deleted)" in /proc/self/fd) that can be
 * written, mapped shared and reopened through /proc; MFD_CLOEXEC,
 * MFD_ALLOW_SEALING, MFD_NOEXEC_SEAL; name and flag errors; F_ADD_SEALS
 * and F_GET_SEALS with SEAL, SHRINK, GROW, WRITE and FUTURE_WRITE
 * enforced on write, truncate, fallocate, mmap and mprotect.
 */
#include "test.h"

#include <sys/mman.h>
#include <sys/wait.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

static void basics(void) {
  mode_t old = umask(022);
  int fd = memfd_create("hello", 0);
  umask(old);
  CHECK(fd >= 0);
  struct stat st;
  CHECK_SYS(fstat(fd, &st));
  CHECK(S_ISREG(st.st_mode));
  CHECK_EQ(st.st_mode & 07777, 0777);
  CHECK_EQ(st.st_nlink, 0);
  CHECK_EQ(st.st_size, 0);
  CHECK_EQ(st.st_uid, geteuid());
  char link[64], buf[256];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  CHECK(strcmp(buf, "/memfd:hello (deleted)") == 0);
  CHECK_EQ(fcntl(fd, F_GETFD), 0);
  CHECK_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
  CHECK_EQ(write(fd, "abcdef", 6), 6);
  CHECK_EQ(pread(fd, buf, 10, 2), 4);
  CHECK(memcmp(buf, "cdef", 4) == 0);
  /* Reopening through /proc gives the same file. */
  int r = open(link, O_RDONLY);
  CHECK(r >= 0);
  CHECK_EQ(read(r, buf, 10), 6);
  close(r);
  /* Shared mappings see write(2) and the other way round. */
  CHECK_SYS(ftruncate(fd, 4096));
  char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED);
  CHECK_EQ(m[0], 'a');
  m[1] = 'X';
  CHECK_EQ(pread(fd, buf, 2, 0), 2);
  CHECK_EQ(buf[1], 'X');
  CHECK_SYS(munmap(m, 4096));
  /* Without MFD_ALLOW_SEALING the file is sealed against sealing. */
  CHECK_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL);
  CHECK_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
  close(fd);

  fd = memfd_create("cloexec", MFD_CLOEXEC);
  CHECK(fd >= 0);
  CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  close(fd);
  /* An empty name is fine. */
  fd = memfd_create("", 0);
  CHECK(fd >= 0);
  close(fd);
}

static void errors(void) {
  CHECK_ERR(memfd_create("x", 0x100), EINVAL);
  CHECK_ERR(memfd_create("x", MFD_EXEC | MFD_NOEXEC_SEAL), EINVAL);
  char name[300];
  memset(name, 'a', sizeof(name));
  name[249] = 0;
  int fd = memfd_create(name, 0);
  CHECK(fd >= 0);
  close(fd);
  name[249] = 'a';
  name[250] = 0;
  CHECK_ERR(memfd_create(name, 0), EINVAL);
  CHECK_ERR(memfd_create((char *)8, 0), EFAULT);
  /* Seals are for shmem files: a pipe has none. */
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_ERR(fcntl(p[1], F_GET_SEALS), EINVAL);
  CHECK_ERR(fcntl(p[1], F_ADD_SEALS, F_SEAL_WRITE), EINVAL);
  /* Adding seals needs a writable description. */
  CHECK_ERR(fcntl(p[0], F_ADD_SEALS, F_SEAL_WRITE), EPERM);
  close(p[0]);
  close(p[1]);
}

static int sealable(void) {
  int fd = memfd_create("s", MFD_ALLOW_SEALING);
  CHECK(fd >= 0);
  CHECK_EQ(fcntl(fd, F_GET_SEALS), 0);
  return fd;
}

static void seal_rules(void) {
  int fd = sealable();
  CHECK_ERR(fcntl(fd, F_ADD_SEALS, 0x1000), EINVAL);
  CHECK_SYS(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
  CHECK_SYS(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
  CHECK_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW);
  /* A read-only reopen can read the seals but not add any. */
  char link[64];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  int r = open(link, O_RDONLY);
  CHECK(r >= 0);
  CHECK_EQ(fcntl(r, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW);
  CHECK_ERR(fcntl(r, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
  close(r);
  CHECK_SYS(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
  CHECK_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
  CHECK_ERR(fcntl(fd, F_ADD_SEALS, 0), EPERM);
  CHECK_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  close(fd);
}

static void shrink_and_grow(void) {
  int fd = sealable();
  char buf[8192] = {0};
  CHECK_SYS(ftruncate(fd, 5000));
  CHECK_SYS(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
  CHECK_ERR(ftruncate(fd, 4000), EPERM);
  CHECK_SYS(ftruncate(fd, 5000));
  CHECK_SYS(ftruncate(fd, 6000));
  CHECK_SYS(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
  CHECK_ERR(ftruncate(fd, 6001), EPERM);
  CHECK_ERR(ftruncate(fd, 5000), EPERM);
  /* Writes inside the file are fine, past its end they are not. */
  CHECK_EQ(pwrite(fd, buf, 100, 0), 100);
  CHECK_EQ(pwrite(fd, buf, 6000, 0), 6000);
  CHECK_ERR(pwrite(fd, buf, 1, 6000), EPERM);
  CHECK_ERR(pwrite(fd, buf, 500, 5900), EPERM);
  /* A write running past the end stops at the page holding the end. */
  CHECK_EQ(pwrite(fd, buf, 6000, 2000), 4096 - 2000);
  CHECK_ERR(fallocate(fd, 0, 0, 7000), EPERM);
  CHECK_ERR(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 7000), EPERM);
  CHECK_SYS(fallocate(fd, 0, 0, 6000));
  CHECK_SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 100));
  /* O_TRUNC is a shrink too. */
  char link[64];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  CHECK_ERR(open(link, O_RDWR | O_TRUNC), EPERM);
  close(fd);
}

static void write_seal(void) {
  int fd = sealable();
  CHECK_SYS(ftruncate(fd, 4096));
  char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED);
  /* Not while a writable shared mapping exists. */
  CHECK_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
  CHECK_SYS(munmap(m, 4096));
  /* Private and read-only shared mappings do not count. */
  char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(p != MAP_FAILED);
  CHECK_SYS(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  CHECK_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_WRITE);
  /* The private copy stays writable. */
  p[0] = 'p';
  CHECK_SYS(munmap(p, 4096));
  CHECK_ERR(write(fd, "x", 1), EPERM);
  CHECK_ERR(pwrite(fd, "x", 1, 0), EPERM);
  CHECK_ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 10), EPERM);
  CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
  CHECK_EQ(errno, EPERM);
  char *ro = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(ro != MAP_FAILED);
  CHECK_ERR(mprotect(ro, 4096, PROT_READ | PROT_WRITE), EACCES);
  CHECK_SYS(munmap(ro, 4096));
  /* Truncation is the business of SHRINK and GROW only. */
  CHECK_SYS(ftruncate(fd, 8192));
  char c;
  CHECK_EQ(pread(fd, &c, 1, 0), 1);
  close(fd);
}

static void future_write_seal(void) {
  int fd = sealable();
  CHECK_SYS(ftruncate(fd, 4096));
  char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED);
  /* Unlike F_SEAL_WRITE, existing writable mappings may stay. */
  CHECK_SYS(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
  m[0] = 'm';
  char c;
  CHECK_EQ(pread(fd, &c, 1, 0), 1);
  CHECK_EQ(c, 'm');
  CHECK_ERR(write(fd, "x", 1), EPERM);
  CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
  CHECK_EQ(errno, EPERM);
  CHECK_SYS(munmap(m, 4096));
  close(fd);
}

static void noexec_seal(void) {
  int fd = memfd_create("nx", MFD_NOEXEC_SEAL);
  CHECK(fd >= 0);
  struct stat st;
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_mode & 07777, 0666);
  CHECK_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_EXEC);
  CHECK_ERR(fchmod(fd, 0777), EPERM);
  CHECK_SYS(fchmod(fd, 0644));
  /* Sealing stays allowed. */
  CHECK_SYS(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
  close(fd);
  fd = memfd_create("x", MFD_EXEC | MFD_ALLOW_SEALING);
  CHECK(fd >= 0);
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_mode & 0777, 0777);
  /* Sealing an executable file against exec seals it against writes. */
  CHECK_SYS(fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC));
  CHECK_EQ(fcntl(fd, F_GET_SEALS),
           F_SEAL_EXEC | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE);
  CHECK_ERR(write(fd, "x", 1), EPERM);
  close(fd);
}

static void shared_with_child(void) {
  int fd = memfd_create("shared", 0);
  CHECK(fd >= 0);
  CHECK_SYS(ftruncate(fd, 4096));
  volatile char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    m[100] = 42;
    _exit(pwrite(fd, "z", 1, 200) == 1 ? 0 : 1);
  }
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_EQ(m[100], 42);
  CHECK_EQ(m[200], 'z');
  close(fd);
}

int main(void) {
  test_init();
  RUN(basics);
  RUN(errors);
  RUN(seal_rules);
  RUN(shrink_and_grow);
  RUN(write_seal);
  RUN(future_write_seal);
  RUN(noexec_seal);
  RUN(shared_with_child);
  return 0;
}
