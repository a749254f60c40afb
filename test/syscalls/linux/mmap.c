/*
 * mmap: mmap, munmap, mprotect, mremap.
 * Checks anonymous private/shared mappings (zero fill, fork semantics),
 * file-backed shared/private mappings, that access to unmapped or
 * write-protected pages raises SIGSEGV, that touching a file mapping past
 * EOF raises SIGBUS, mremap growth/move, and argument errors.
 */
#include "test.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

static long pagesz;
static char *dir;
static sigjmp_buf jb;
static volatile sig_atomic_t got_sig;
static void *volatile fault_addr;

static void on_fault(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  got_sig = sig;
  fault_addr = si->si_addr;
  siglongjmp(jb, 1);
}

/* touch writes (or reads) *p and returns the signal it raised, or 0. */
static int touch(volatile char *p, int write) {
  got_sig = 0;
  fault_addr = NULL;
  if (sigsetjmp(jb, 1) == 0) {
    if (write)
      *p = 1;
    else
      (void)*p;
  }
  return got_sig;
}

static void anon_private(void) {
  size_t len = 4 * pagesz;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  CHECK(((uintptr_t)p % pagesz) == 0);
  for (size_t i = 0; i < len; i++) CHECK(p[i] == 0);
  memset(p, 0xab, len);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* The child sees the parent's data but writes to its own copy. */
    if ((unsigned char)p[len - 1] != 0xab) _exit(2);
    memset(p, 0x11, len);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_EQ((unsigned char)p[0], 0xab);
  CHECK_SYS(munmap(p, len));
}

static void anon_shared(void) {
  volatile int *p = mmap(NULL, pagesz, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  CHECK_EQ(p[0], 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    p[0] = 42;
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_EQ(p[0], 42);
  CHECK_SYS(munmap((void *)p, pagesz));
}

static int make_file(const char *name, size_t size) {
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  char *buf = malloc(size);
  for (size_t i = 0; i < size; i++) buf[i] = 'a' + i % 26;
  CHECK_EQ(write(fd, buf, size), size);
  free(buf);
  return fd;
}

static void file_shared(void) {
  int fd = make_file("shared", 2 * pagesz);
  char *p = mmap(NULL, 2 * pagesz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED);
  CHECK_EQ(p[0], 'a');
  CHECK_EQ(p[pagesz + 1], 'a' + (pagesz + 1) % 26);
  /* Stores through a shared mapping are the file's contents. */
  memcpy(p + 10, "SHARED", 6);
  char buf[6];
  CHECK_EQ(pread(fd, buf, 6, 10), 6);
  CHECK(memcmp(buf, "SHARED", 6) == 0);
  /* And writes to the file show up in the mapping. */
  CHECK_EQ(pwrite(fd, "WRITE", 5, pagesz), 5);
  CHECK(memcmp(p + pagesz, "WRITE", 5) == 0);
  CHECK_SYS(msync(p, 2 * pagesz, MS_SYNC));
  CHECK_SYS(munmap(p, 2 * pagesz));
  /* An offset mapping starts at that file offset. */
  p = mmap(NULL, pagesz, PROT_READ, MAP_SHARED, fd, pagesz);
  CHECK(p != MAP_FAILED);
  CHECK(memcmp(p, "WRITE", 5) == 0);
  CHECK_SYS(munmap(p, pagesz));
  close(fd);
}

static void file_private(void) {
  int fd = make_file("private", pagesz);
  char *p = mmap(NULL, pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(p != MAP_FAILED);
  p[0] = 'Z';
  char c;
  CHECK_EQ(pread(fd, &c, 1, 0), 1);
  CHECK_EQ(c, 'a');
  CHECK_EQ(p[0], 'Z');
  CHECK_SYS(munmap(p, pagesz));
  /* A write mapping needs a writable fd only when it is shared. */
  int ro = open("/proc/self/exe", O_RDONLY);
  CHECK(ro >= 0);
  CHECK_ERR(mmap(NULL, pagesz, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) ==
                    MAP_FAILED ? -1 : 0,
            EACCES);
  p = mmap(NULL, pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
  CHECK(p != MAP_FAILED);
  /* Every ELF file starts with "\177ELF". */
  CHECK(memcmp(p, "\177ELF", 4) == 0);
  CHECK_SYS(munmap(p, pagesz));
  close(ro);
  close(fd);
}

static void past_eof_sigbus(void) {
  int fd = make_file("short", 100);
  char *p = mmap(NULL, 2 * pagesz, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED);
  /* The rest of the last partial page reads as zeros. */
  CHECK_EQ(touch(p + 99, 0), 0);
  CHECK_EQ(p[100], 0);
  CHECK_EQ(p[pagesz - 1], 0);
  /* Whole pages beyond EOF are SIGBUS. */
  CHECK_EQ(touch(p + pagesz, 0), SIGBUS);
  CHECK(fault_addr == p + pagesz);
  CHECK_SYS(munmap(p, 2 * pagesz));
  close(fd);
}

static void unmapped_sigsegv(void) {
  char *p = mmap(NULL, 3 * pagesz, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  /* Punch a hole in the middle: the neighbours must survive. */
  CHECK_SYS(munmap(p + pagesz, pagesz));
  CHECK_EQ(touch(p, 1), 0);
  CHECK_EQ(touch(p + 2 * pagesz, 1), 0);
  CHECK_EQ(touch(p + pagesz, 0), SIGSEGV);
  CHECK(fault_addr == p + pagesz);
  /* munmap of an already unmapped range is not an error. */
  CHECK_SYS(munmap(p, 3 * pagesz));
  CHECK_EQ(touch(p, 0), SIGSEGV);
}

static void mprotect_faults(void) {
  char *p = mmap(NULL, 2 * pagesz, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  p[0] = 7;
  CHECK_SYS(mprotect(p, pagesz, PROT_READ));
  CHECK_EQ(touch(p, 0), 0);
  CHECK_EQ(touch(p, 1), SIGSEGV);
  CHECK(fault_addr == p);
  CHECK_EQ(p[0], 7);
  /* The second page kept its own protection. */
  CHECK_EQ(touch(p + pagesz, 1), 0);
  CHECK_SYS(mprotect(p, pagesz, PROT_NONE));
  CHECK_EQ(touch(p, 0), SIGSEGV);
  CHECK_SYS(mprotect(p, pagesz, PROT_READ | PROT_WRITE));
  CHECK_EQ(touch(p, 1), 0);
  CHECK_ERR(mprotect(p + 1, pagesz, PROT_READ), EINVAL);
  CHECK_SYS(munmap(p, 2 * pagesz));
  CHECK_ERR(mprotect(p, pagesz, PROT_READ), ENOMEM);
}

static void mremap_grow(void) {
  char *p = mmap(NULL, pagesz, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  memset(p, 'q', pagesz);
  /* Block in-place growth so MREMAP_MAYMOVE has to move the pages. */
  char *blocker = mmap(p + pagesz, pagesz, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (blocker == MAP_FAILED) {
    CHECK_EQ(errno, EEXIST);
    blocker = NULL;
  }
  CHECK(mremap(p, pagesz, 4 * pagesz, 0) == MAP_FAILED);
  CHECK_EQ(errno, ENOMEM);
  char *q = mremap(p, pagesz, 4 * pagesz, MREMAP_MAYMOVE);
  CHECK(q != MAP_FAILED);
  CHECK(q != p);
  for (long i = 0; i < pagesz; i++) CHECK(q[i] == 'q');
  CHECK_EQ(q[3 * pagesz], 0);
  CHECK_EQ(touch(p, 0), SIGSEGV);
  /* Shrinking keeps the start and drops the tail. */
  char *r = mremap(q, 4 * pagesz, pagesz, 0);
  CHECK(r == q);
  CHECK_EQ(touch(q + pagesz, 0), SIGSEGV);
  CHECK_SYS(munmap(r, pagesz));
  if (blocker) CHECK_SYS(munmap(blocker, pagesz));
}

static void fixed_and_errors(void) {
  char *p = mmap(NULL, 2 * pagesz, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  p[pagesz] = 5;
  /* MAP_FIXED replaces what was there with fresh zero pages. */
  char *q = mmap(p + pagesz, pagesz, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  CHECK(q == p + pagesz);
  CHECK_EQ(q[0], 0);
  CHECK(mmap(p + pagesz, pagesz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
             MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED);
  CHECK_EQ(errno, EEXIST);
  CHECK_SYS(munmap(p, 2 * pagesz));
  CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
        MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  CHECK(mmap(p + 1, pagesz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
             -1, 0) == MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  CHECK(mmap(NULL, pagesz, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
  CHECK_EQ(errno, EINVAL);
  CHECK(mmap(NULL, pagesz, PROT_READ, MAP_PRIVATE, -1, 0) == MAP_FAILED);
  CHECK_EQ(errno, EBADF);
  CHECK_ERR(munmap(p + 1, pagesz), EINVAL);
}

int main(void) {
  test_init();
  pagesz = sysconf(_SC_PAGESIZE);
  dir = test_tmpdir();
  struct sigaction sa = {0};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  CHECK_SYS(sigaction(SIGSEGV, &sa, NULL));
  CHECK_SYS(sigaction(SIGBUS, &sa, NULL));
  RUN(anon_private);
  RUN(anon_shared);
  RUN(file_shared);
  RUN(file_private);
  RUN(past_eof_sigbus);
  RUN(unmapped_sigsegv);
  RUN(mprotect_faults);
  RUN(mremap_grow);
  RUN(fixed_and_errors);
  test_rmdir(dir);
  return 0;
}
